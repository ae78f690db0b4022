//! One change of a data-subject request, as stored (append-only) and hashed.
//!
//! Canonical encoding v1 (primitives of [`crate::consent::encoding`], the audit record's):
//! ```text
//! u8 1, str "custodia.dsr_event", str tenant, str request_id, str party_id, str event_id,
//! u64 seq, str action, opt<str> from_state, str to_state, opt<str> reason,
//! opt<str> reference, list<str> details   (key, value, key, value…; keys sorted),
//! str recorded_at, opt<str> recorded_by (API client id), opt<str> on_behalf_of
//! ```
//! Its SHA-256 is the `evidence` of the event's audit record, so a request's history
//! verifies against an audit checkpoint. Details hold dates, codes, hashes and opaque ids,
//! never a personal value.

use crate::audit::merkle::Hash;
use crate::consent::encoding::{sha256, Encoder};
use serde::Serialize;
use std::collections::BTreeMap;
use utoipa::ToSchema;

pub const DSR_EVENT_TAG: &str = "custodia.dsr_event";

/// One stored event.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DsrEvent {
    pub id: String,
    pub tenant: String,
    pub request_id: String,
    pub party: String,
    pub seq: u64,
    /// `create`, a transition (`extend`, `answer`, …), `identity`, `assign`,
    /// `extend_execution` or `execute`.
    pub action: String,
    pub from_state: Option<String>,
    pub to_state: String,
    pub reason: Option<String>,
    pub reference: Option<String>,
    pub details: BTreeMap<String, String>,
    pub recorded_at: String,
    pub recorded_by: Option<String>,
    pub on_behalf_of: Option<String>,
}

impl DsrEvent {
    pub fn encode(&self) -> Vec<u8> {
        let mut encoder = Encoder::new(1, DSR_EVENT_TAG);
        encoder
            .str(&self.tenant)
            .str(&self.request_id)
            .str(&self.party)
            .str(&self.id)
            .u64(self.seq)
            .str(&self.action)
            .opt_str(self.from_state.as_deref())
            .str(&self.to_state)
            .opt_str(self.reason.as_deref())
            .opt_str(self.reference.as_deref());
        let pairs: Vec<&str> = self.details.iter().flat_map(|(k, v)| [k.as_str(), v.as_str()]).collect();
        // A list of 2n strings: key, value, key, value… (keys sorted, so the order is fixed).
        encoder.list_str(pairs.into_iter());
        encoder
            .str(&self.recorded_at)
            .opt_str(self.recorded_by.as_deref())
            .opt_str(self.on_behalf_of.as_deref())
            .finish()
    }

    pub fn sha256(&self) -> Hash {
        sha256(&self.encode())
    }

    pub fn to_json(&self) -> DsrEventJson {
        DsrEventJson {
            id: self.id.clone(),
            seq: self.seq,
            action: self.action.clone(),
            from_state: self.from_state.clone(),
            to_state: self.to_state.clone(),
            reason: self.reason.clone(),
            reference: self.reference.clone(),
            details: self.details.clone(),
            recorded_at: self.recorded_at.clone(),
            recorded_by: self.recorded_by.clone(),
            on_behalf_of: self.on_behalf_of.clone(),
            sha256: hex::encode(self.sha256()),
        }
    }
}

/// An event as JSON; `sha256` is the hex SHA-256 of its canonical encoding (module docs),
/// the `evidence` of its audit record.
#[derive(Clone, Debug, Serialize, ToSchema)]
pub struct DsrEventJson {
    pub id: String,
    pub seq: u64,
    pub action: String,
    pub from_state: Option<String>,
    pub to_state: String,
    pub reason: Option<String>,
    pub reference: Option<String>,
    pub details: BTreeMap<String, String>,
    pub recorded_at: String,
    pub recorded_by: Option<String>,
    pub on_behalf_of: Option<String>,
    pub sha256: String,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn event() -> DsrEvent {
        DsrEvent {
            id: "0190f0e4-0000-7000-8000-0000000000e1".into(),
            tenant: "acme".into(),
            request_id: "0190f0e4-0000-7000-8000-0000000000d1".into(),
            party: "0190f0e4-0000-7000-8000-0000000000aa".into(),
            seq: 2,
            action: "extend".into(),
            from_state: Some("in_progress".into()),
            to_state: "extended".into(),
            reason: Some("complexity".into()),
            reference: Some("OFICIO-2027-0042".into()),
            details: BTreeMap::from([
                ("due_at".to_string(), "2027-04-14T04:59:59.000000Z".to_string()),
                ("notified_at".to_string(), "2027-04-06T17:00:00.000000Z".to_string()),
            ]),
            recorded_at: "2027-04-06T17:00:01.000000Z".into(),
            recorded_by: Some("0190f0e4-0000-7000-8000-0000000000cc".into()),
            on_behalf_of: Some("oficial-3".into()),
        }
    }

    #[test]
    fn the_encoding_matches_its_fixed_vector_and_covers_every_part() {
        let base = event();
        assert_eq!(hex::encode(base.sha256()), DSR_VECTOR_SHA256, "the encoding is stable");
        let edits: [fn(&mut DsrEvent); 14] = [
            |e| e.tenant = "acmf".into(),
            |e| e.request_id.push('x'),
            |e| e.party.push('x'),
            |e| e.id.push('x'),
            |e| e.seq = 3,
            |e| e.action = "answer".into(),
            |e| e.from_state = None,
            |e| e.to_state = "answered".into(),
            |e| e.reason = None,
            |e| e.reference = None,
            |e| {
                e.details.insert("due_at".into(), "2027-04-15T04:59:59.000000Z".into());
            },
            |e| e.recorded_at = "2027-04-06T17:00:02.000000Z".into(),
            |e| e.recorded_by = None,
            |e| e.on_behalf_of = None,
        ];
        for (i, edit) in edits.iter().enumerate() {
            let mut changed = event();
            edit(&mut changed);
            assert_ne!(changed.sha256(), base.sha256(), "edit {i}");
        }
        // A key and a value cannot trade places with their neighbours.
        let mut shifted = event();
        shifted.details = BTreeMap::from([("due_at2027".to_string(), "-04-14T04:59:59.000000Z".to_string())]);
        assert_ne!(shifted.sha256(), base.sha256());
    }

    // Computed independently from the module docs (a short Python encoder), not by this code.
    const DSR_VECTOR_SHA256: &str = "4d3956134a56ee0dfcb192e41d30daea6f36801d9405d3d3ad11a1c1f721a101";
}
