//! The proof package format (`custodia-consent-proof/v1`) and how it is signed.
//!
//! The package is one JSON object. Its `signature` is a C2SP signed note by the
//! consent-proof key whose text is
//! ```text
//! custodia-consent-proof/v1
//! tenant <tenant>
//! party <party id>
//! sha256 <hex SHA-256 of the canonical JSON of the package without `signature`>
//! ```
//! Canonical JSON is RFC 8785 (JCS) for the values a package holds: object keys sorted by
//! their UTF-16 code units, no insignificant whitespace, strings escaped as JSON requires
//! (`\"`, `\\`, `\b \f \n \r \t`, other controls as lowercase `\u00xx`, everything else
//! literal UTF-8), integers only (a package holds no other numbers).

use crate::audit::record::RecordJson;
use crate::consent::domain::{Channel, ConsentPurpose};
use crate::consent::event::ConsentEventJson;
use crate::notices::domain::NoticeServedJson;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::ToSchema;

pub const FORMAT: &str = "custodia-consent-proof/v1";

/// Everything a titular or the SIC needs to check what was authorized, when, how and
/// under which notice, offline.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ProofPackage {
    /// `custodia-consent-proof/v1`.
    pub format: String,
    pub tenant: String,
    pub party_id: String,
    pub generated_at: String,
    /// Origin of the tenant's audit log (`<prefix>/<tenant>`).
    pub audit_origin: String,
    /// The signed audit checkpoint (C2SP note) every inclusion proof is against.
    pub checkpoint: String,
    pub tree_size: u64,
    /// Every notice the events cite.
    pub notices: Vec<ProvenNotice>,
    /// Every consent event of the party, in `seq` order.
    pub events: Vec<ProvenConsent>,
    /// Every "notice served" event of the party, in `seq` order.
    pub notices_served: Vec<ProvenServed>,
    /// Signed note by the consent-proof key (module docs of `proof::package`).
    pub signature: String,
}

/// A notice version as published, with the audit record of its publication.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ProvenNotice {
    pub content_hash: String,
    pub name: String,
    pub version: u64,
    pub language: String,
    pub title: String,
    pub text: String,
    pub purposes: Vec<ConsentPurpose>,
    pub channels: Vec<Channel>,
    pub published_at: String,
    /// Base64 of the canonical encoding the content hash covers.
    pub encoding: String,
    pub publication: AuditProof,
}

/// A consent event exactly as hashed, with the audit record that carries its hash.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ProvenConsent {
    pub event: ConsentEventJson,
    /// Base64 of the canonical encoding `event.sha256` covers.
    pub encoding: String,
    pub audit: AuditProof,
}

/// A "notice served" event exactly as hashed, with its audit record.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ProvenServed {
    pub event: NoticeServedJson,
    pub encoding: String,
    pub audit: AuditProof,
}

/// An audit record, its leaf index and its inclusion proof against the checkpoint.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AuditProof {
    pub index: u64,
    pub record: RecordJson,
    /// Base64 audit path, leaf to root (RFC 9162 §2.1.3).
    pub inclusion_proof: Vec<String>,
}

/// The text the package signature signs.
pub fn signed_text(tenant: &str, party: &str, digest: &[u8; 32]) -> String {
    format!("{FORMAT}\ntenant {tenant}\nparty {party}\nsha256 {}\n", hex::encode(digest))
}

/// SHA-256 of the canonical JSON of `package` without its `signature` member.
pub fn digest(package: &Value) -> Result<[u8; 32], String> {
    let mut object = package.as_object().cloned().ok_or("the package is not a JSON object")?;
    object.remove("signature");
    let mut out = Vec::with_capacity(4096);
    canonical(&Value::Object(object), &mut out)?;
    Ok(crate::keys::crypto::sha256(&out))
}

/// Writes RFC 8785 canonical JSON (integers only).
pub fn canonical(value: &Value, out: &mut Vec<u8>) -> Result<(), String> {
    match value {
        Value::Null => out.extend_from_slice(b"null"),
        Value::Bool(b) => out.extend_from_slice(if *b { b"true" } else { b"false" }),
        Value::Number(n) if n.is_i64() || n.is_u64() => out.extend_from_slice(n.to_string().as_bytes()),
        Value::Number(_) => return Err("the package holds a non-integer number".into()),
        Value::String(s) => string(s, out),
        Value::Array(items) => {
            out.push(b'[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                canonical(item, out)?;
            }
            out.push(b']');
        }
        Value::Object(map) => {
            let mut keys: Vec<&String> = map.keys().collect();
            keys.sort_by(|a, b| a.encode_utf16().cmp(b.encode_utf16()));
            out.push(b'{');
            for (i, key) in keys.into_iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                string(key, out);
                out.push(b':');
                canonical(&map[key], out)?;
            }
            out.push(b'}');
        }
    }
    Ok(())
}

fn string(s: &str, out: &mut Vec<u8>) {
    out.push(b'"');
    for c in s.chars() {
        match c {
            '"' => out.extend_from_slice(b"\\\""),
            '\\' => out.extend_from_slice(b"\\\\"),
            '\u{8}' => out.extend_from_slice(b"\\b"),
            '\u{c}' => out.extend_from_slice(b"\\f"),
            '\n' => out.extend_from_slice(b"\\n"),
            '\r' => out.extend_from_slice(b"\\r"),
            '\t' => out.extend_from_slice(b"\\t"),
            c if (c as u32) < 0x20 => out.extend_from_slice(format!("\\u{:04x}", c as u32).as_bytes()),
            c => {
                let mut buf = [0u8; 4];
                out.extend_from_slice(c.encode_utf8(&mut buf).as_bytes());
            }
        }
    }
    out.push(b'"');
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use serde_json::json;

    fn text(value: &Value) -> String {
        let mut out = Vec::new();
        canonical(value, &mut out).unwrap();
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn canonical_json_sorts_keys_and_escapes_like_rfc_8785() {
        let value = json!({"b": [1, "x\ny", null], "a": {"é": true, "z": false}, "\u{1f}": "\u{7f}\"\\"});
        assert_eq!(
            text(&value),
            "{\"\\u001f\":\"\u{7f}\\\"\\\\\",\"a\":{\"z\":false,\"é\":true},\"b\":[1,\"x\\ny\",null]}"
        );
        assert!(canonical(&json!({"x": 1.5}), &mut Vec::new()).is_err());
    }

    #[test]
    fn keys_sort_by_utf16_code_units_not_by_bytes() {
        // U+FF61 (one UTF-16 unit 0xFF61) sorts after U+1F600 (surrogates 0xD83D...) in
        // UTF-16 order, although its UTF-8 bytes sort first.
        let value = json!({"\u{ff61}": 1, "\u{1f600}": 2});
        assert_eq!(text(&value), "{\"\u{1f600}\":2,\"\u{ff61}\":1}");
    }

    #[test]
    fn the_digest_ignores_the_signature_and_nothing_else() {
        let a = json!({"format": FORMAT, "events": [], "signature": "x"});
        let b = json!({"events": [], "signature": "y", "format": FORMAT});
        assert_eq!(digest(&a).unwrap(), digest(&b).unwrap());
        let c = json!({"events": [1], "signature": "y", "format": FORMAT});
        assert_ne!(digest(&a).unwrap(), digest(&c).unwrap());
    }
}
