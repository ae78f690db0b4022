//! Checking a proof package with nothing but the package, the consent-proof verifier key
//! and the audit verifier key: what `custodia consent verify-proof` runs, and what the
//! gateway runs on every package before sending it.
//!
//! In order: the package signature; the checkpoint signature and origin; for each notice,
//! its content hash, that its fields are its encoding, and its publication record; for
//! each event, its sequence number, its hash, that its fields are its encoding, that its
//! audit record attests that hash for this party and action, and that record's inclusion
//! in the checkpoint's tree; each grant cites a notice of the package that covers it and
//! was published before the capture. The first failure is reported, naming what failed.

use super::package::{self, AuditProof, ProofPackage, FORMAT};
use crate::audit::merkle;
use crate::audit::note::{Checkpoint, Note, VerifierKey};
use crate::audit::record::decode_hash;
use crate::audit::verify::parse_checkpoint;
use crate::consent::domain::ConsentAction;
use crate::consent::encoding::sha256;
use crate::notices::domain::NoticeContent;
use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine;
use std::collections::HashMap;

/// What a package proved.
#[derive(Debug)]
pub struct ProofReport {
    pub tenant: String,
    pub party: String,
    pub tree_size: u64,
    pub events: usize,
    pub served: usize,
    pub notices: usize,
}

/// Verifies `bytes` (a package as JSON); the error says which check failed.
pub fn verify_package(bytes: &[u8], proof_key: &VerifierKey, audit_key: &VerifierKey) -> Result<ProofReport, String> {
    let value: serde_json::Value = serde_json::from_slice(bytes).map_err(|e| format!("not JSON: {e}"))?;
    let digest = package::digest(&value)?;
    let package: ProofPackage = serde_json::from_value(value).map_err(|e| format!("not a {FORMAT} package: {e}"))?;
    if package.format != FORMAT {
        return Err(format!("format is `{}`, expected `{FORMAT}`", package.format));
    }
    check_signature(&package, &digest, proof_key)?;
    let checkpoint = check_checkpoint(&package, audit_key)?;
    let notices = check_notices(&package, &checkpoint)?;
    check_events(&package, &checkpoint, &notices)?;
    check_served(&package, &checkpoint, &notices)?;
    Ok(ProofReport {
        tenant: package.tenant.clone(),
        party: package.party_id.clone(),
        tree_size: checkpoint.size,
        events: package.events.len(),
        served: package.notices_served.len(),
        notices: package.notices.len(),
    })
}

fn check_signature(package: &ProofPackage, digest: &[u8; 32], key: &VerifierKey) -> Result<(), String> {
    let note = Note::parse(&package.signature).map_err(|e| format!("signature: not a signed note: {e}"))?;
    note.verify(std::slice::from_ref(key))
        .map_err(|e| format!("signature: does not verify with the consent-proof key: {e}"))?;
    let expected = package::signed_text(&package.tenant, &package.party_id, digest);
    if note.text() != expected {
        return Err("signature: it signs another package (the package was modified after signing)".into());
    }
    Ok(())
}

fn check_checkpoint(package: &ProofPackage, key: &VerifierKey) -> Result<Checkpoint, String> {
    if !package.audit_origin.ends_with(&format!("/{}", package.tenant)) {
        return Err("audit_origin: not the log of this package's tenant".into());
    }
    let checkpoint =
        parse_checkpoint(&package.checkpoint, key, &package.audit_origin).map_err(|m| format!("checkpoint: {m}"))?;
    if checkpoint.size != package.tree_size {
        return Err(format!("checkpoint: size {} but the package says {}", checkpoint.size, package.tree_size));
    }
    Ok(checkpoint)
}

/// `record` attests `hash` for `action` about `party` (when given) and is in the tree.
fn check_record(
    at: &str,
    proof: &AuditProof,
    checkpoint: &Checkpoint,
    (tenant, party): (&str, Option<&str>),
    (action, hash): (&str, &[u8; 32]),
) -> Result<(), String> {
    let record = &proof.record;
    if record.log != tenant || record.index != Some(proof.index) {
        return Err(format!("{at}: its audit record is of another log or index"));
    }
    if record.action != action || record.outcome != "allowed" {
        return Err(format!(
            "{at}: its audit record is a `{}` `{}`, not an allowed `{action}`",
            record.outcome, record.action
        ));
    }
    let attested = record.evidence_sha256.as_deref().map(decode_hash).transpose().map_err(|e| format!("{at}: {e}"))?;
    if attested.as_ref() != Some(hash) {
        return Err(format!(
            "{at}: its SHA-256 is not the hash its audit record attests (the event was changed after it was recorded)"
        ));
    }
    if party.is_some_and(|p| !record.parties.iter().any(|l| l.party == p)) {
        return Err(format!("{at}: its audit record is not about this party"));
    }
    let leaf = record.to_record().map_err(|e| format!("{at}: audit record: {e}"))?.leaf_hash();
    let path = proof.inclusion_proof.iter().map(|h| decode_hash(h)).collect::<Result<Vec<_>, _>>();
    let path = path.map_err(|e| format!("{at}: inclusion proof: {e}"))?;
    merkle::verify_inclusion(&leaf, proof.index, checkpoint.size, &path, &checkpoint.root).map_err(|e| {
        format!("{at}: its audit record (index {}) is not in the checkpoint's tree (record modified): {e}", proof.index)
    })
}

/// `encoding` (base64) hashes to `hash` (hex) and equals `expected`.
fn check_encoding(at: &str, encoding: &str, hash: &str, expected: &[u8]) -> Result<[u8; 32], String> {
    let bytes = B64.decode(encoding).map_err(|_| format!("{at}: encoding is not base64"))?;
    let digest = sha256(&bytes);
    if hex::encode(digest) != hash {
        return Err(format!("{at}: its encoding does not hash to its sha256"));
    }
    if bytes != expected {
        return Err(format!("{at}: its fields are not what its encoding says (the JSON was edited)"));
    }
    Ok(digest)
}

struct CitedNotice {
    content: NoticeContent,
    published_at: String,
}

fn check_notices(package: &ProofPackage, checkpoint: &Checkpoint) -> Result<HashMap<String, CitedNotice>, String> {
    let mut out = HashMap::new();
    for (i, n) in package.notices.iter().enumerate() {
        let at = format!("notices[{i}] ({} v{})", n.name, n.version);
        let content = NoticeContent {
            tenant: package.tenant.clone(),
            name: n.name.clone(),
            version: n.version,
            language: n.language.clone(),
            title: n.title.clone(),
            text: n.text.clone(),
            purposes: n.purposes.clone(),
            channels: n.channels.clone(),
        };
        let hash = check_encoding(&at, &n.encoding, &n.content_hash, &content.encode())?;
        check_record(&at, &n.publication, checkpoint, (&package.tenant, None), ("notice.publish", &hash))?;
        if n.publication.record.recorded_at != n.published_at {
            return Err(format!("{at}: published_at differs from the time of its publication record"));
        }
        out.insert(n.content_hash.clone(), CitedNotice { content, published_at: n.published_at.clone() });
    }
    Ok(out)
}

fn check_events(
    package: &ProofPackage,
    checkpoint: &Checkpoint,
    notices: &HashMap<String, CitedNotice>,
) -> Result<(), String> {
    for (i, proven) in package.events.iter().enumerate() {
        let e = &proven.event;
        let at = format!("events[{i}] (seq {})", e.seq);
        if e.seq != i as u64 + 1 {
            return Err(format!("{at}: sequence numbers must run 1, 2, 3… (an event is missing or reordered)"));
        }
        if e.tenant != package.tenant || e.party_id != package.party_id {
            return Err(format!("{at}: the event is of another tenant or party"));
        }
        let event = e.to_event().map_err(|m| format!("{at}: {m}"))?;
        let hash = check_encoding(&at, &proven.encoding, &e.sha256, &event.encode())?;
        let action = e.action.audit_action();
        check_record(&at, &proven.audit, checkpoint, (&package.tenant, Some(&package.party_id)), (action, &hash))?;
        if let Some(cited) = &e.notice_hash {
            let notice =
                notices.get(cited).ok_or_else(|| format!("{at}: the notice it cites is not in the package"))?;
            if !notice.content.covers(e.purpose, e.channel) {
                return Err(format!("{at}: the notice it cites does not cover its purpose and channel"));
            }
            if notice.published_at > e.captured_at {
                return Err(format!("{at}: the notice it cites was published after the capture"));
            }
        } else if e.action == ConsentAction::Grant {
            return Err(format!("{at}: a grant without a notice"));
        }
    }
    Ok(())
}

fn check_served(
    package: &ProofPackage,
    checkpoint: &Checkpoint,
    notices: &HashMap<String, CitedNotice>,
) -> Result<(), String> {
    for (i, proven) in package.notices_served.iter().enumerate() {
        let e = &proven.event;
        let at = format!("notices_served[{i}] (seq {})", e.seq);
        if e.seq != i as u64 + 1 {
            return Err(format!("{at}: sequence numbers must run 1, 2, 3… (an event is missing or reordered)"));
        }
        if e.tenant != package.tenant || e.party_id != package.party_id {
            return Err(format!("{at}: the event is of another tenant or party"));
        }
        let event = e.to_event().map_err(|m| format!("{at}: {m}"))?;
        let hash = check_encoding(&at, &proven.encoding, &e.sha256, &event.encode())?;
        let about = (package.tenant.as_str(), Some(package.party_id.as_str()));
        check_record(&at, &proven.audit, checkpoint, about, ("notice.served", &hash))?;
        if !notices.contains_key(&e.notice_hash) {
            return Err(format!("{at}: the notice it cites is not in the package"));
        }
    }
    Ok(())
}
