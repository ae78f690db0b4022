//! A recorded consent event, its canonical encoding (what its evidence hash covers) and
//! its JSON form (API answers and proof packages). Both forms come from one struct, and
//! [`ConsentEventJson::to_event`] goes back, so a verifier can re-encode what it reads.
//!
//! Encoding v1 (primitives in [`super::encoding`]):
//! ```text
//! u8 1, str "custodia.consent_event",
//! str tenant, str party_id, str event_id, u64 seq,
//! str action, str kind, str purpose,
//! opt<str> channel, opt<str> destination, opt<str> obligation_id,
//! opt<str> contract_date (YYYY-MM-DD), opt<str> hours ("mon,tue 19:00-21:00"),
//! str method, opt<hash> notice_hash, str captured_at, str captured_by,
//! str source_reference, opt<hash> document_sha256,
//! str recorded_at, opt<str> recorded_by (API client id)
//! ```
//! Times are the database's fixed-width UTC text (`2026-03-02T15:04:05.000000Z`).

use super::domain::{
    date, hash, ArtefactTerms, Channel, ConsentAction, ConsentKind, ConsentPurpose, ConsentScope, Hours, Method,
};
use super::encoding::{sha256, Encoder};
use crate::audit::merkle::Hash;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

pub const CONSENT_EVENT_TAG: &str = "custodia.consent_event";

/// One grant or revocation as stored. Never updated, never deleted.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ConsentEvent {
    pub id: String,
    pub tenant: String,
    pub party: String,
    /// 1, 2, 3… per party, in commit order (taken under the party lock).
    pub seq: u64,
    pub action: ConsentAction,
    pub scope: ConsentScope,
    pub terms: ArtefactTerms,
    pub method: Method,
    pub notice_hash: Option<Hash>,
    pub captured_at: String,
    pub captured_by: String,
    pub source_reference: String,
    pub document_sha256: Option<Hash>,
    pub recorded_at: String,
    pub recorded_by: Option<String>,
}

impl ConsentEvent {
    /// The canonical encoding (module docs).
    pub fn encode(&self) -> Vec<u8> {
        let s = &self.scope;
        let contract = self.terms.contract_date.map(|d| d.to_string());
        let hours = self.terms.hours.as_ref().map(Hours::to_text);
        Encoder::new(1, CONSENT_EVENT_TAG)
            .str(&self.tenant)
            .str(&self.party)
            .str(&self.id)
            .u64(self.seq)
            .str(self.action.as_str())
            .str(s.kind.as_str())
            .str(s.purpose.as_str())
            .opt_str(s.channel.map(Channel::as_str))
            .opt_str(s.destination.as_deref())
            .opt_str(s.obligation_id.as_deref())
            .opt_str(contract.as_deref())
            .opt_str(hours.as_deref())
            .str(self.method.as_str())
            .opt_hash(self.notice_hash.as_ref())
            .str(&self.captured_at)
            .str(&self.captured_by)
            .str(&self.source_reference)
            .opt_hash(self.document_sha256.as_ref())
            .str(&self.recorded_at)
            .opt_str(self.recorded_by.as_deref())
            .finish()
    }

    /// SHA-256 of the encoding: the evidence hash of the event's audit record.
    pub fn sha256(&self) -> Hash {
        sha256(&self.encode())
    }

    pub fn to_json(&self) -> ConsentEventJson {
        let s = &self.scope;
        ConsentEventJson {
            id: self.id.clone(),
            tenant: self.tenant.clone(),
            party_id: self.party.clone(),
            seq: self.seq,
            action: self.action,
            kind: s.kind,
            purpose: s.purpose,
            channel: s.channel,
            destination: s.destination.clone(),
            obligation_id: s.obligation_id.clone(),
            contract_date: self.terms.contract_date.map(|d| d.to_string()),
            hours: self.terms.hours.clone(),
            method: self.method,
            notice_hash: self.notice_hash.map(hex::encode),
            captured_at: self.captured_at.clone(),
            captured_by: self.captured_by.clone(),
            source_reference: self.source_reference.clone(),
            document_sha256: self.document_sha256.map(hex::encode),
            recorded_at: self.recorded_at.clone(),
            recorded_by: self.recorded_by.clone(),
            sha256: hex::encode(self.sha256()),
        }
    }
}

/// A consent event as JSON. `sha256` is the hex SHA-256 of its canonical encoding.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ConsentEventJson {
    pub id: String,
    pub tenant: String,
    pub party_id: String,
    pub seq: u64,
    pub action: ConsentAction,
    pub kind: ConsentKind,
    pub purpose: ConsentPurpose,
    pub channel: Option<Channel>,
    pub destination: Option<String>,
    pub obligation_id: Option<String>,
    pub contract_date: Option<String>,
    pub hours: Option<Hours>,
    pub method: Method,
    pub notice_hash: Option<String>,
    pub captured_at: String,
    pub captured_by: String,
    pub source_reference: String,
    pub document_sha256: Option<String>,
    pub recorded_at: String,
    pub recorded_by: Option<String>,
    pub sha256: String,
}

impl ConsentEventJson {
    /// Back to the event (for re-encoding what a proof package shows).
    pub fn to_event(&self) -> Result<ConsentEvent, String> {
        let bad = |e: super::domain::BadInput| e.to_string();
        Ok(ConsentEvent {
            id: self.id.clone(),
            tenant: self.tenant.clone(),
            party: self.party_id.clone(),
            seq: self.seq,
            action: self.action,
            scope: ConsentScope {
                kind: self.kind,
                purpose: self.purpose,
                channel: self.channel,
                destination: self.destination.clone(),
                obligation_id: self.obligation_id.clone(),
            },
            terms: ArtefactTerms {
                contract_date: self
                    .contract_date
                    .as_deref()
                    .map(|d| date(d, "contract_date"))
                    .transpose()
                    .map_err(bad)?,
                hours: self.hours.clone(),
            },
            method: self.method,
            notice_hash: self.notice_hash.as_deref().map(|h| hash(h, "notice_hash")).transpose().map_err(bad)?,
            captured_at: self.captured_at.clone(),
            captured_by: self.captured_by.clone(),
            source_reference: self.source_reference.clone(),
            document_sha256: self
                .document_sha256
                .as_deref()
                .map(|h| hash(h, "document_sha256"))
                .transpose()
                .map_err(bad)?,
            recorded_at: self.recorded_at.clone(),
            recorded_by: self.recorded_by.clone(),
        })
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
pub(crate) mod tests {
    use super::*;
    use crate::consent::domain::Weekday;

    /// The test-vector event: a special-hours grant.
    pub(crate) fn vector() -> ConsentEvent {
        ConsentEvent {
            id: "0190f0e4-0000-7000-8000-000000000001".into(),
            tenant: "acme".into(),
            party: "0190f0e4-0000-7000-8000-0000000000aa".into(),
            seq: 3,
            action: ConsentAction::Grant,
            scope: ConsentScope {
                kind: ConsentKind::SpecialHours,
                purpose: ConsentPurpose::Collection,
                channel: None,
                destination: None,
                obligation_id: None,
            },
            terms: ArtefactTerms {
                contract_date: Some(date("2026-01-10", "x").unwrap()),
                hours: Some(Hours { days: vec![Weekday::Mon, Weekday::Wed], from: "19:00".into(), to: "21:00".into() }),
            },
            method: Method::Written,
            notice_hash: Some([0x11; 32]),
            captured_at: "2026-02-01T15:00:00.000000Z".into(),
            captured_by: "agent-17".into(),
            source_reference: "DOC-2026-0042".into(),
            document_sha256: Some([0x22; 32]),
            recorded_at: "2026-02-01T15:00:05.000000Z".into(),
            recorded_by: Some("0190f0e4-0000-7000-8000-0000000000cc".into()),
        }
    }

    #[test]
    fn the_encoding_matches_its_fixed_test_vector() {
        let event = vector();
        let bytes = event.encode();
        // Head: version, tag, tenant.
        assert_eq!(&bytes[..5], &[1, 0, 0, 0, 22]);
        assert_eq!(&bytes[5..27], CONSENT_EVENT_TAG.as_bytes());
        assert_eq!(&bytes[27..35], &[0, 0, 0, 4, b'a', b'c', b'm', b'e']);
        assert_eq!(hex::encode(event.sha256()), CONSENT_VECTOR_SHA256);
    }

    const CONSENT_VECTOR_SHA256: &str = "b7b759d81a04736ffb5f924559e6a067798a70939ec9e3276dea682eecea748f";

    #[test]
    fn every_field_changes_the_hash() {
        let base = vector().sha256();
        type Edit = Box<dyn Fn(&mut ConsentEvent)>;
        let edits: Vec<Edit> = vec![
            Box::new(|e| e.seq = 4),
            Box::new(|e| e.action = ConsentAction::Revoke),
            Box::new(|e| e.scope.purpose = ConsentPurpose::Marketing),
            Box::new(|e| e.scope.channel = Some(Channel::Sms)),
            Box::new(|e| e.scope.destination = Some("mobile".into())),
            Box::new(|e| e.terms.contract_date = None),
            Box::new(|e| e.terms.hours.as_mut().unwrap().to = "21:01".into()),
            Box::new(|e| e.method = Method::App),
            Box::new(|e| e.notice_hash = None),
            Box::new(|e| e.captured_at = "2026-02-01T15:00:00.000001Z".into()),
            Box::new(|e| e.captured_by = "agent-18".into()),
            Box::new(|e| e.source_reference = "DOC-2026-0043".into()),
            Box::new(|e| e.document_sha256 = Some([0x23; 32])),
            Box::new(|e| e.recorded_by = None),
        ];
        for (i, edit) in edits.iter().enumerate() {
            let mut event = vector();
            edit(&mut event);
            assert_ne!(event.sha256(), base, "edit {i} left the hash unchanged");
        }
    }

    #[test]
    fn json_goes_back_to_the_same_event() {
        let event = vector();
        let json = event.to_json();
        assert_eq!(json.to_event().unwrap(), event);
        let text = serde_json::to_string(&json).unwrap();
        let parsed: ConsentEventJson = serde_json::from_str(&text).unwrap();
        assert_eq!(parsed.to_event().unwrap().encode(), event.encode());
    }
}
