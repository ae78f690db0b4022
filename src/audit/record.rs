//! The audit record as the log commits to it: its canonical byte encoding (the Merkle
//! leaf data, specified byte by byte in `audit/FORMAT.md`) and its JSON form (exports,
//! API answers). Both are derived from [`Record`], so the two cannot drift apart.
//!
//! Only fields fixed when the record is written are encoded; the leaf index, set when
//! the record is sealed, is implied by the record's position in the tree.

use super::merkle::Hash;
use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine;
use serde::{Deserialize, Serialize};

pub use super::encoding::FORMAT_VERSION;
use super::encoding::{put_len, put_opt_hash, put_str, Fields, Parts};

/// The log of requests that carried no valid tenant (unauthenticated refusals).
pub const GATEWAY_LOG: &str = "_gateway";

/// One party a record is about, with the leaf hash of the previous record about it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PartyLink {
    pub party: String,
    pub prev_leaf_hash: Option<Hash>,
}

/// An audit record's committed content.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Record {
    pub log: String,
    pub recorded_at: String,
    pub request_id: String,
    pub client_id: Option<String>,
    pub role: Option<String>,
    pub on_behalf_of: Option<String>,
    pub purpose: Option<String>,
    pub action: String,
    pub resource_id: Option<String>,
    pub fields: Vec<String>,
    pub outcome: String,
    pub status: u16,
    pub error_code: Option<String>,
    pub evidence_sha256: Option<Hash>,
    /// Sorted by party id, no duplicates.
    pub parties: Vec<PartyLink>,
}

impl Record {
    /// The canonical encoding: the exact bytes the leaf hash covers.
    pub fn encode(&self) -> Vec<u8> {
        let parties = self.encode_parties();
        let mut out = Vec::with_capacity(256);
        self.parts(&parties).write(&mut out);
        out
    }

    /// This record as borrowed encoding parts, given its `list<party>` already encoded
    /// ([`Record::encode_parties`]).
    pub fn parts<'a>(&'a self, parties: &'a [u8]) -> Parts<'a> {
        let bytes = |text: &'a Option<String>| text.as_deref().map(str::as_bytes);
        Parts {
            log: self.log.as_bytes(),
            recorded_at: self.recorded_at.as_bytes(),
            request_id: self.request_id.as_bytes(),
            client_id: bytes(&self.client_id),
            role: bytes(&self.role),
            on_behalf_of: bytes(&self.on_behalf_of),
            purpose: bytes(&self.purpose),
            action: self.action.as_bytes(),
            resource_id: bytes(&self.resource_id),
            fields: Fields::List(&self.fields),
            outcome: self.outcome.as_bytes(),
            status: self.status,
            error_code: bytes(&self.error_code),
            evidence: self.evidence_sha256.as_ref(),
            parties,
        }
    }

    /// The `list<party>` part of the encoding alone (stored in the record's row).
    pub fn encode_parties(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(4 + self.parties.len() * 74);
        put_len(&mut out, self.parties.len());
        for link in &self.parties {
            put_str(&mut out, link.party.as_bytes());
            put_opt_hash(&mut out, link.prev_leaf_hash.as_ref());
        }
        out
    }

    /// SHA-256(0x00 || encoding), RFC 6962.
    pub fn leaf_hash(&self) -> Hash {
        let parties = self.encode_parties();
        self.parts(&parties).leaf_hash()
    }

    /// The JSON form, with the record's position when it is sealed.
    pub fn to_json(&self, index: Option<u64>, prev_indices: &[Option<u64>]) -> RecordJson {
        RecordJson {
            index,
            log: self.log.clone(),
            recorded_at: self.recorded_at.clone(),
            request_id: self.request_id.clone(),
            client_id: self.client_id.clone(),
            role: self.role.clone(),
            on_behalf_of: self.on_behalf_of.clone(),
            purpose: self.purpose.clone(),
            action: self.action.clone(),
            resource_id: self.resource_id.clone(),
            fields: self.fields.clone(),
            outcome: self.outcome.clone(),
            status: self.status,
            error_code: self.error_code.clone(),
            evidence_sha256: self.evidence_sha256.map(|h| B64.encode(h)),
            parties: self
                .parties
                .iter()
                .enumerate()
                .map(|(i, link)| PartyLinkJson {
                    party: link.party.clone(),
                    prev_leaf_hash: link.prev_leaf_hash.map(|h| B64.encode(h)),
                    prev_index: prev_indices.get(i).copied().flatten(),
                })
                .collect(),
        }
    }
}

/// A record as JSON (one NDJSON line in exports; search and proof answers).
///
/// Parsing is as strict as `audit/FORMAT.md` §1 and §2.2 ask: every key must be present
/// (nullable ones as `null`), unknown and duplicate keys are refused.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RecordJson {
    /// Leaf index in the tenant's log; null until sealed. Not covered by the leaf hash.
    #[serde(deserialize_with = "Option::deserialize")]
    pub index: Option<u64>,
    pub log: String,
    pub recorded_at: String,
    pub request_id: String,
    #[serde(deserialize_with = "Option::deserialize")]
    pub client_id: Option<String>,
    #[serde(deserialize_with = "Option::deserialize")]
    pub role: Option<String>,
    #[serde(deserialize_with = "Option::deserialize")]
    pub on_behalf_of: Option<String>,
    #[serde(deserialize_with = "Option::deserialize")]
    pub purpose: Option<String>,
    pub action: String,
    #[serde(deserialize_with = "Option::deserialize")]
    pub resource_id: Option<String>,
    pub fields: Vec<String>,
    pub outcome: String,
    pub status: u16,
    #[serde(deserialize_with = "Option::deserialize")]
    pub error_code: Option<String>,
    /// Base64 SHA-256 of an attached event (consent, flag), if any.
    #[serde(deserialize_with = "Option::deserialize")]
    pub evidence_sha256: Option<String>,
    pub parties: Vec<PartyLinkJson>,
}

/// One party of a record in JSON.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PartyLinkJson {
    pub party: String,
    /// Base64 leaf hash of the previous record about this party; null for its first.
    #[serde(deserialize_with = "Option::deserialize")]
    pub prev_leaf_hash: Option<String>,
    /// Index of that previous record (null exactly when `prev_leaf_hash` is). Not covered
    /// by the leaf hash.
    #[serde(deserialize_with = "Option::deserialize")]
    pub prev_index: Option<u64>,
}

/// A JSON record that does not decode back into a record.
#[derive(Debug, thiserror::Error)]
#[error("record JSON: {0}")]
pub struct BadRecordJson(&'static str);

impl RecordJson {
    /// Back to the committed content (for verifying exported records). Refuses anything
    /// that has no v1 encoding (`audit/FORMAT.md` §2.1, §2.2): it is rejected, not repaired.
    pub fn to_record(&self) -> Result<Record, BadRecordJson> {
        self.check()?;
        let parties = self
            .parties
            .iter()
            .map(|p| {
                Ok(PartyLink {
                    party: p.party.clone(),
                    prev_leaf_hash: p.prev_leaf_hash.as_deref().map(decode_hash).transpose()?,
                })
            })
            .collect::<Result<Vec<_>, BadRecordJson>>()?;
        Ok(Record {
            log: self.log.clone(),
            recorded_at: self.recorded_at.clone(),
            request_id: self.request_id.clone(),
            client_id: self.client_id.clone(),
            role: self.role.clone(),
            on_behalf_of: self.on_behalf_of.clone(),
            purpose: self.purpose.clone(),
            action: self.action.clone(),
            resource_id: self.resource_id.clone(),
            fields: self.fields.clone(),
            outcome: self.outcome.clone(),
            status: self.status,
            error_code: self.error_code.clone(),
            evidence_sha256: self.evidence_sha256.as_deref().map(decode_hash).transpose()?,
            parties,
        })
    }

    /// The rules of FORMAT.md §2.1 and §2.2 that the JSON types alone do not enforce.
    fn check(&self) -> Result<(), BadRecordJson> {
        if !is_log_id(&self.log) {
            return Err(BadRecordJson("log is neither a tenant slug [a-z0-9-]{1,40} nor _gateway"));
        }
        if !is_record_time(&self.recorded_at) {
            return Err(BadRecordJson("recorded_at is not a UTC time like 2026-11-23T12:00:00.000000Z"));
        }
        if !OUTCOMES.contains(&self.outcome.as_str()) {
            return Err(BadRecordJson("outcome is not allowed, denied or failed"));
        }
        let too_large = |i: Option<u64>| i.is_some_and(|i| i > MAX_INDEX);
        if too_large(self.index) || self.parties.iter().any(|p| too_large(p.prev_index)) {
            return Err(BadRecordJson("index is not below 2^63"));
        }
        if self.parties.iter().any(|p| p.prev_leaf_hash.is_some() != p.prev_index.is_some()) {
            return Err(BadRecordJson("prev_leaf_hash and prev_index must be both null or both set"));
        }
        if self.parties.windows(2).any(|w| w[0].party.as_bytes() >= w[1].party.as_bytes()) {
            return Err(BadRecordJson("parties are not strictly increasing by party id (unsorted or repeated)"));
        }
        Ok(())
    }
}

/// The three outcomes a record may have.
const OUTCOMES: [&str; 3] = ["allowed", "denied", "failed"];

/// Indices and tree sizes stay below 2^63 (FORMAT.md §1).
const MAX_INDEX: u64 = i64::MAX as u64;

/// `_gateway` or a tenant slug, `[a-z0-9-]{1,40}`.
fn is_log_id(log: &str) -> bool {
    log == GATEWAY_LOG
        || ((1..=40).contains(&log.len())
            && log.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-'))
}

/// Record time: exactly `YYYY-MM-DDTHH:MM:SS.ffffffZ`, a valid UTC date and time (no leap
/// second, no offset).
fn is_record_time(text: &str) -> bool {
    const SHAPE: &[u8; 27] = b"dddd-dd-ddTdd:dd:dd.ddddddZ";
    let bytes = text.as_bytes();
    if bytes.len() != SHAPE.len()
        || !bytes.iter().zip(SHAPE).all(|(b, s)| if *s == b'd' { b.is_ascii_digit() } else { b == s })
    {
        return false;
    }
    let number =
        |range: std::ops::Range<usize>| text.get(range).and_then(|t| t.parse::<u32>().ok()).unwrap_or(u32::MAX);
    let year = i32::try_from(number(0..4)).unwrap_or(0);
    let date = chrono::NaiveDate::from_ymd_opt(year, number(5..7), number(8..10));
    year >= 1 && date.is_some() && number(11..13) < 24 && number(14..16) < 60 && number(17..19) < 60
}

/// Decodes a standard-base64 32-byte hash.
pub fn decode_hash(text: &str) -> Result<Hash, BadRecordJson> {
    let bytes = B64.decode(text).map_err(|_| BadRecordJson("hash is not base64"))?;
    bytes.try_into().map_err(|_| BadRecordJson("hash is not 32 bytes"))
}

/// Reads back [`Record::encode_parties`]; an empty value (rows written before the
/// chain existed) is no parties.
pub fn decode_parties(bytes: &[u8]) -> Result<Vec<PartyLink>, BadRecordJson> {
    if bytes.is_empty() {
        return Ok(Vec::new());
    }
    let mut reader = Reader(bytes);
    let count = reader.len()?;
    let mut parties = Vec::with_capacity(count.min(1024));
    for _ in 0..count {
        let party = reader.str()?;
        let prev_leaf_hash = match reader.take(1)? {
            [0] => None,
            [1] => Some(reader.take(32)?.try_into().map_err(|_| BadRecordJson("short hash"))?),
            _ => return Err(BadRecordJson("bad presence byte")),
        };
        parties.push(PartyLink { party, prev_leaf_hash });
    }
    if reader.0.is_empty() {
        Ok(parties)
    } else {
        Err(BadRecordJson("trailing bytes after parties"))
    }
}

struct Reader<'a>(&'a [u8]);

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Result<&'a [u8], BadRecordJson> {
        if self.0.len() < n {
            return Err(BadRecordJson("truncated parties"));
        }
        let (head, rest) = self.0.split_at(n);
        self.0 = rest;
        Ok(head)
    }

    fn len(&mut self) -> Result<usize, BadRecordJson> {
        let bytes: [u8; 4] = self.take(4)?.try_into().map_err(|_| BadRecordJson("short length"))?;
        Ok(u32::from_be_bytes(bytes) as usize)
    }

    fn str(&mut self) -> Result<String, BadRecordJson> {
        let len = self.len()?;
        String::from_utf8(self.take(len)?.to_vec()).map_err(|_| BadRecordJson("party id is not UTF-8"))
    }
}

/// Splits the stored comma-joined field list (field names never contain commas).
pub fn split_fields(stored: &str) -> Vec<String> {
    if stored.is_empty() {
        Vec::new()
    } else {
        stored.split(',').map(str::to_string).collect()
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn sample() -> Record {
        Record {
            log: "demo".into(),
            recorded_at: "2026-11-23T12:00:00.000000Z".into(),
            request_id: "req-1".into(),
            client_id: Some("c1".into()),
            role: Some("agent".into()),
            on_behalf_of: None,
            purpose: Some("collection".into()),
            action: "party.read".into(),
            resource_id: Some("p1".into()),
            fields: vec!["names:clear".into(), "phones:masked".into()],
            outcome: "allowed".into(),
            status: 200,
            error_code: None,
            evidence_sha256: None,
            parties: vec![PartyLink { party: "p1".into(), prev_leaf_hash: Some([7; 32]) }],
        }
    }

    #[test]
    fn json_round_trips_to_the_same_leaf() {
        let record = sample();
        let json = serde_json::to_string(&record.to_json(Some(3), &[Some(1)])).unwrap();
        let back: RecordJson = serde_json::from_str(&json).unwrap();
        assert_eq!(back.to_record().unwrap().leaf_hash(), record.leaf_hash());
    }

    #[test]
    fn every_field_changes_the_leaf() {
        let base = sample().leaf_hash();
        type Edit = Box<dyn Fn(&mut Record)>;
        let edits: Vec<Edit> = vec![
            Box::new(|r| r.log = "other".into()),
            Box::new(|r| r.recorded_at = "2026-11-23T12:00:00.000001Z".into()),
            Box::new(|r| r.request_id = "req-2".into()),
            Box::new(|r| r.client_id = None),
            Box::new(|r| r.role = Some("dialer".into())),
            Box::new(|r| r.on_behalf_of = Some("ana".into())),
            Box::new(|r| r.purpose = None),
            Box::new(|r| r.action = "party.update".into()),
            Box::new(|r| r.resource_id = None),
            Box::new(|r| r.fields.pop().map(|_| ()).unwrap_or(())),
            Box::new(|r| r.outcome = "denied".into()),
            Box::new(|r| r.status = 403),
            Box::new(|r| r.error_code = Some("x".into())),
            Box::new(|r| r.evidence_sha256 = Some([1; 32])),
            Box::new(|r| r.parties[0].prev_leaf_hash = None),
            Box::new(|r| r.parties.clear()),
        ];
        for (i, edit) in edits.iter().enumerate() {
            let mut r = sample();
            edit(&mut r);
            assert_ne!(r.leaf_hash(), base, "edit {i} left the leaf unchanged");
        }
    }

    #[test]
    fn parties_round_trip_through_their_column() {
        let record = sample();
        assert_eq!(decode_parties(&record.encode_parties()).unwrap(), record.parties);
        assert!(decode_parties(&[]).unwrap().is_empty());
        assert!(decode_parties(&[0, 0, 0, 1]).is_err());
    }

    #[test]
    fn length_prefixes_keep_adjacent_fields_apart() {
        let mut a = sample();
        let mut b = sample();
        a.fields = vec!["ab".into(), "c".into()];
        b.fields = vec!["a".into(), "bc".into()];
        assert_ne!(a.encode(), b.encode());
    }
}
