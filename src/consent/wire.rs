//! The JSON bodies of the consent endpoints and their conversion to checked domain
//! values (scope rules in [`super::domain`]).

use super::domain::{
    actor_id, date, hash, instant, reference, ArtefactTerms, BadInput, Channel, ConsentAction, ConsentKind,
    ConsentPurpose, ConsentScope, Evidence, Hours, Method, NewConsent,
};
use super::event::ConsentEventJson;
use super::state::ScopeStateJson;
use crate::notices::domain::NoticeServedJson;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

fn authorization() -> ConsentKind {
    ConsentKind::Authorization
}

/// Body of `POST /v1/parties/{id}/consents`: one grant or one revocation.
#[derive(Clone, Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ConsentRequest {
    pub action: ConsentAction,
    /// `authorization` (default), `special_hours` (Ley 2300 art. 3 parágrafo) or `visit` (art. 6).
    #[serde(default = "authorization")]
    pub kind: ConsentKind,
    pub purpose: ConsentPurpose,
    /// Absent: the purpose-level authorization.
    pub channel: Option<Channel>,
    /// Element id of one of the party's phones (sms, whatsapp, voice_call) or e-mails (email).
    pub destination: Option<String>,
    /// The obligation a `visit` artefact is about.
    pub obligation_id: Option<String>,
    /// Artefact grants: the date of the contract the artefact is separate from (YYYY-MM-DD).
    pub contract_date: Option<String>,
    /// Special-hours grants: the hours the titular asked for.
    pub hours: Option<Hours>,
    pub evidence: EvidenceRequest,
}

/// How the titular's will was captured.
#[derive(Clone, Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct EvidenceRequest {
    pub method: Method,
    /// Hex content hash of the published notice shown; required for grants.
    pub notice_hash: Option<String>,
    /// RFC 3339; not later than the gateway's clock.
    pub captured_at: String,
    /// Opaque id of who captured it: 1-64 of `[A-Za-z0-9._@-]`.
    pub captured_by: String,
    /// Opaque reference in the capturing system (no personal data): 1-128 of `[A-Za-z0-9._:/#-]`.
    pub source_reference: String,
    /// Hex SHA-256 of the signed document or recording; required for artefact grants.
    pub document_sha256: Option<String>,
}

impl ConsentRequest {
    /// The checked event this request asks for, on the gateway clock `now`.
    pub fn validate(&self, now: DateTime<Utc>) -> Result<NewConsent, BadInput> {
        let scope = ConsentScope::new(
            self.kind,
            self.purpose,
            self.channel,
            self.destination.as_deref(),
            self.obligation_id.as_deref(),
            self.action,
        )?;
        let terms = ArtefactTerms {
            contract_date: self.contract_date.as_deref().map(|d| date(d, "contract_date")).transpose()?,
            hours: self.hours.clone().map(Hours::validate).transpose()?,
        };
        let e = &self.evidence;
        let evidence = Evidence {
            method: e.method,
            notice_hash: e.notice_hash.as_deref().map(|h| hash(h, "evidence.notice_hash")).transpose()?,
            captured_at: instant(&e.captured_at, "evidence.captured_at")?,
            captured_by: actor_id(&e.captured_by, "evidence.captured_by")?,
            source_reference: reference(&e.source_reference, "evidence.source_reference")?,
            document_sha256: e.document_sha256.as_deref().map(|h| hash(h, "evidence.document_sha256")).transpose()?,
        };
        NewConsent::new(self.action, scope, terms, evidence, now)
    }
}

/// The answer to a recorded event.
#[derive(Serialize, ToSchema)]
pub struct Recorded {
    pub event: ConsentEventJson,
    /// The scope's state now: `granted` or `revoked`.
    pub status: &'static str,
}

/// A party's consents: current state per scope, full history, notices served.
#[derive(Serialize, ToSchema)]
pub struct ConsentsView {
    pub party_id: String,
    pub current: Vec<ScopeStateJson>,
    pub history: Vec<ConsentEventJson>,
    pub notices_served: Vec<NoticeServedJson>,
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn request(json: serde_json::Value) -> ConsentRequest {
        serde_json::from_value(json).unwrap()
    }

    #[test]
    fn a_channel_grant_bound_to_a_destination_parses_into_its_scope() {
        let now = instant("2026-03-02T10:00:00Z", "x").unwrap();
        let new = request(serde_json::json!({
            "action": "grant", "purpose": "collection", "channel": "sms", "destination": "mobile",
            "evidence": {"method": "recorded_call", "notice_hash": "ab".repeat(32),
                "captured_at": "2026-03-02T04:59:00-05:00", "captured_by": "agent-17", "source_reference": "CALL-9"}
        }))
        .validate(now)
        .unwrap();
        assert_eq!(new.scope.kind, ConsentKind::Authorization);
        assert_eq!(new.scope.destination.as_deref(), Some("mobile"));
        assert_eq!(new.evidence.captured_at, instant("2026-03-02T09:59:00Z", "x").unwrap());
    }

    #[test]
    fn bad_evidence_is_named_by_its_path_without_its_value() {
        let now = instant("2026-03-02T10:00:00Z", "x").unwrap();
        let refused = request(serde_json::json!({
            "action": "revoke", "purpose": "marketing",
            "evidence": {"method": "app", "captured_at": "yesterday", "captured_by": "app", "source_reference": "R1"}
        }))
        .validate(now)
        .unwrap_err();
        assert_eq!((refused.code, refused.field.as_str()), ("invalid_time", "evidence.captured_at"));
        assert!(!refused.to_string().contains("yesterday"));
    }
}
