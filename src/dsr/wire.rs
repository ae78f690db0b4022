//! The JSON bodies of `/v1/dsr` and the checks that turn a body into domain input (the
//! answers are in [`super::view`]). Refusals name the field, never the value.

use super::domain::{
    ClaimType, DenialReason, ExtensionReason, IdentityMethod, Kind, ReceiptChannel, RegimeCode, Requester,
};
use super::request::RevokeScope;
use crate::audit::merkle::Hash;
use crate::consent::domain::{actor_id, hash, instant, reference, BadInput};
use crate::consent::{Channel, ConsentAction, ConsentKind, ConsentPurpose, ConsentScope};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// The consent scope a revocación asks to revoke.
#[derive(Clone, Debug, Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RevokeInput {
    pub purpose: ConsentPurpose,
    /// Absent: the purpose-level authorization.
    #[serde(default)]
    pub channel: Option<Channel>,
    /// Element id of one of the party's phones or e-mails (never the value).
    #[serde(default)]
    pub destination: Option<String>,
}

/// Body of `POST /v1/dsr`.
#[derive(Clone, Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateRequest {
    /// The party (titular) the request is about.
    pub party_id: String,
    pub kind: Kind,
    /// Required for a `reclamo`: rectify, update or complaint.
    #[serde(default)]
    pub claim_type: Option<ClaimType>,
    pub regime: RegimeCode,
    /// How it arrived: web, email, post, phone, in_person, app.
    pub channel: ReceiptChannel,
    /// titular (default), representative or successor.
    #[serde(default)]
    pub requester: Option<Requester>,
    /// RFC 3339, when it was received (a letter or call received earlier); default now,
    /// never later than the gateway's clock. Its local day in the tenant's zone counts.
    #[serde(default)]
    pub received_at: Option<String>,
    /// False when information is missing: the request waits for the titular at once
    /// (no term runs, no "reclamo en trámite" flag yet). Default true.
    #[serde(default)]
    pub complete: Option<bool>,
    /// With `complete: false`: when the titular was asked for what is missing (default:
    /// `received_at`).
    #[serde(default)]
    pub information_requested_at: Option<String>,
    /// Officer id (like `X-On-Behalf-Of`): 1-64 of `[A-Za-z0-9._@-]`.
    #[serde(default)]
    pub assignee: Option<String>,
    /// Required for a `revocacion`: what to revoke.
    #[serde(default)]
    pub revoke: Option<RevokeInput>,
}

/// A checked `CreateRequest`.
#[derive(Clone, Debug)]
pub struct NewRequest {
    pub party: String,
    pub kind: Kind,
    pub claim_type: Option<ClaimType>,
    pub regime: RegimeCode,
    pub channel: ReceiptChannel,
    pub requester: Requester,
    pub received_at: DateTime<Utc>,
    /// Some(asked at) when the request is incomplete.
    pub incomplete: Option<DateTime<Utc>>,
    pub assignee: Option<String>,
    pub revoke: Option<RevokeScope>,
}

/// Refuses an instant later than the gateway clock.
pub fn not_future(at: DateTime<Utc>, now: DateTime<Utc>, field: &str) -> Result<DateTime<Utc>, BadInput> {
    if at > now {
        return Err(BadInput::new("time_in_future", field, "is later than the gateway's clock"));
    }
    Ok(at)
}

/// An optional RFC 3339 instant (default `now`), never later than `now`.
pub fn instant_or_now(text: Option<&str>, now: DateTime<Utc>, field: &str) -> Result<DateTime<Utc>, BadInput> {
    match text {
        Some(text) => not_future(instant(text, field)?, now, field),
        None => Ok(now),
    }
}

/// Refuses an instant before `earliest` (an event dated before what it follows).
pub fn not_before(at: DateTime<Utc>, earliest: DateTime<Utc>, field: &str) -> Result<DateTime<Utc>, BadInput> {
    if at < earliest {
        return Err(BadInput::new("time_before_receipt", field, "is earlier than the event it follows"));
    }
    Ok(at)
}

impl CreateRequest {
    pub fn validate(&self, now: DateTime<Utc>) -> Result<NewRequest, BadInput> {
        match (self.kind, self.claim_type) {
            (Kind::Reclamo, None) => {
                return Err(BadInput::new(
                    "field_required",
                    "claim_type",
                    "a reclamo is to rectify, update or complain",
                ))
            }
            (kind, Some(_)) if kind != Kind::Reclamo => {
                return Err(BadInput::new("field_not_allowed", "claim_type", "only a reclamo has a claim type"))
            }
            _ => {}
        }
        let revoke = match (self.kind, &self.revoke) {
            (Kind::Revocacion, Some(input)) => Some(revoke_scope(input)?),
            (Kind::Revocacion, None) => {
                return Err(BadInput::new("field_required", "revoke", "a revocación names what to revoke"))
            }
            (_, Some(_)) => return Err(BadInput::new("field_not_allowed", "revoke", "only a revocación revokes")),
            (_, None) => None,
        };
        let received_at = instant_or_now(self.received_at.as_deref(), now, "received_at")?;
        let incomplete = match (self.complete.unwrap_or(true), &self.information_requested_at) {
            (true, Some(_)) => {
                return Err(BadInput::new(
                    "field_not_allowed",
                    "information_requested_at",
                    "only an incomplete request (`complete: false`) was asked for information",
                ))
            }
            (true, None) => None,
            (false, asked) => {
                let asked = match asked {
                    Some(text) => {
                        not_future(instant(text, "information_requested_at")?, now, "information_requested_at")?
                    }
                    None => received_at,
                };
                Some(not_before(asked, received_at, "information_requested_at")?)
            }
        };
        Ok(NewRequest {
            party: self.party_id.clone(),
            kind: self.kind,
            claim_type: self.claim_type,
            regime: self.regime,
            channel: self.channel,
            requester: self.requester.unwrap_or(Requester::Titular),
            received_at,
            incomplete,
            assignee: self.assignee.as_deref().map(|a| actor_id(a, "assignee")).transpose()?,
            revoke,
        })
    }
}

fn revoke_scope(input: &RevokeInput) -> Result<RevokeScope, BadInput> {
    let scope = ConsentScope::new(
        ConsentKind::Authorization,
        input.purpose,
        input.channel,
        input.destination.as_deref(),
        None,
        ConsentAction::Revoke,
    )
    .map_err(|bad| BadInput { field: format!("revoke.{}", bad.field), ..bad })?;
    Ok(RevokeScope {
        purpose: scope.purpose.as_str().to_string(),
        channel: scope.channel.map(|c| c.as_str().to_string()),
        destination: scope.destination,
    })
}

/// Body of `POST /v1/dsr/{id}/actions`: one step of the request, named by `action`.
#[derive(Clone, Debug, Deserialize, ToSchema)]
#[serde(tag = "action", rename_all = "snake_case", deny_unknown_fields)]
pub enum ActionRequest {
    /// received → in_progress.
    Start,
    /// received | in_progress → awaiting_titular: the titular was asked for what is
    /// missing (RFC 3339 `requested_at`, default now). The response term stops; a
    /// Colombian claim is withdrawn if not completed in time (2 months, Ley 1266: 1).
    RequestInformation {
        #[serde(default)]
        requested_at: Option<String>,
    },
    /// awaiting_titular → in_progress: the titular completed it (`completed_at`, default
    /// now). The response term runs again, from that day.
    Complete {
        #[serde(default)]
        completed_at: Option<String>,
    },
    /// received | in_progress → extended, once: the extension was notified to the
    /// titular with its reason at `notified_at` (default now), before the first term ended.
    Extend {
        reason: ExtensionReason,
        #[serde(default)]
        notified_at: Option<String>,
        #[serde(default)]
        reference: Option<String>,
    },
    /// → answered. A consulta names the dossier it was answered with, a prueba de
    /// autorización the proof package (`document_sha256`, hex, as generated for this
    /// request); a supresión erases the party; a revocación revokes the consent it names.
    Answer {
        #[serde(default)]
        document_sha256: Option<String>,
        #[serde(default)]
        reference: Option<String>,
    },
    /// → denied, with the reason (a retention hold or duty to remain is recorded with it).
    Deny {
        reason: DenialReason,
        #[serde(default)]
        reference: Option<String>,
    },
    /// → withdrawn: the titular withdrew the request.
    Withdraw {
        #[serde(default)]
        reference: Option<String>,
    },
    /// Mexican cancellation: → blocked. The data is kept, unusable, under a retention
    /// period (`basis` naming the law, last day `ends_on`) and erased when it ends.
    Block { basis: String, ends_on: String },
    /// Mexican ARCO: extends the term to carry out the answer, once.
    ExtendExecution {
        reason: ExtensionReason,
        #[serde(default)]
        notified_at: Option<String>,
        #[serde(default)]
        reference: Option<String>,
    },
    /// Mexican ARCO: the answer was carried out at `executed_at` (default now).
    Execute {
        #[serde(default)]
        executed_at: Option<String>,
        #[serde(default)]
        reference: Option<String>,
    },
}

impl ActionRequest {
    /// The step's name, as its event records it.
    pub fn name(&self) -> &'static str {
        self.audit_action().trim_start_matches("dsr.")
    }

    /// The audit action of this step.
    pub fn audit_action(&self) -> &'static str {
        match self {
            Self::Start => "dsr.start",
            Self::RequestInformation { .. } => "dsr.request_information",
            Self::Complete { .. } => "dsr.complete",
            Self::Extend { .. } => "dsr.extend",
            Self::Answer { .. } => "dsr.answer",
            Self::Deny { .. } => "dsr.deny",
            Self::Withdraw { .. } => "dsr.withdraw",
            Self::Block { .. } => "dsr.block",
            Self::ExtendExecution { .. } => "dsr.extend_execution",
            Self::Execute { .. } => "dsr.execute",
        }
    }
}

/// An opaque reference (no personal data), if given.
pub fn opt_reference(text: Option<&str>) -> Result<Option<String>, BadInput> {
    text.map(|r| reference(r, "reference")).transpose()
}

/// An optional hex SHA-256.
pub fn opt_hash(text: Option<&str>, field: &str) -> Result<Option<Hash>, BadInput> {
    text.map(|h| hash(h, field)).transpose()
}

/// Body of `POST /v1/dsr/{id}/identity`.
#[derive(Clone, Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct IdentityRequest {
    pub method: IdentityMethod,
    /// Officer id; default `X-On-Behalf-Of`, else the API client id.
    #[serde(default)]
    pub verified_by: Option<String>,
    /// RFC 3339; default now, never later.
    #[serde(default)]
    pub verified_at: Option<String>,
    /// Hex SHA-256 of the document checked (never the document).
    #[serde(default)]
    pub document_sha256: Option<String>,
}

/// Body of `POST /v1/dsr/{id}/assignee`.
#[derive(Clone, Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AssignRequest {
    /// Officer id (like `X-On-Behalf-Of`); null unassigns.
    pub assignee: Option<String>,
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn create(json: serde_json::Value) -> CreateRequest {
        serde_json::from_value(json).unwrap()
    }

    fn now() -> DateTime<Utc> {
        instant("2027-03-22T15:00:00Z", "x").unwrap()
    }

    #[test]
    fn a_reclamo_needs_its_claim_type_and_only_a_revocacion_names_a_scope() {
        let base = serde_json::json!({"party_id": "p", "kind": "reclamo", "regime": "co_1581", "channel": "email"});
        assert_eq!(create(base.clone()).validate(now()).unwrap_err().field, "claim_type");
        let mut rectify = base.clone();
        rectify["claim_type"] = "rectify".into();
        assert_eq!(create(rectify.clone()).validate(now()).unwrap().claim_type, Some(ClaimType::Rectify));
        rectify["revoke"] = serde_json::json!({"purpose": "marketing"});
        assert_eq!(create(rectify).validate(now()).unwrap_err().code, "field_not_allowed");
        let revocation = serde_json::json!({"party_id": "p", "kind": "revocacion", "regime": "co_1581", "channel": "web",
            "revoke": {"purpose": "collection", "channel": "sms", "destination": "mobile"}});
        let scope = create(revocation).validate(now()).unwrap().revoke.unwrap();
        assert_eq!((scope.purpose.as_str(), scope.destination.as_deref()), ("collection", Some("mobile")));
        let bad = serde_json::json!({"party_id": "p", "kind": "revocacion", "regime": "co_1581", "channel": "web",
            "revoke": {"purpose": "data_processing", "channel": "sms"}});
        assert_eq!(create(bad).validate(now()).unwrap_err().field, "revoke.channel");
    }

    #[test]
    fn times_are_never_in_the_future_nor_before_what_they_follow() {
        let mut body = serde_json::json!({"party_id": "p", "kind": "consulta", "regime": "co_1581", "channel": "post",
            "received_at": "2027-03-22T15:00:01Z"});
        assert_eq!(create(body.clone()).validate(now()).unwrap_err().code, "time_in_future");
        body["received_at"] = "2027-03-19T23:00:00-05:00".into();
        assert_eq!(
            create(body.clone()).validate(now()).unwrap().received_at,
            instant("2027-03-20T04:00:00Z", "x").unwrap()
        );
        body["complete"] = false.into();
        body["information_requested_at"] = "2027-03-19T22:00:00-05:00".into();
        assert_eq!(create(body.clone()).validate(now()).unwrap_err().code, "time_before_receipt");
        body["information_requested_at"] = serde_json::Value::Null;
        let incomplete = create(body).validate(now()).unwrap();
        assert_eq!(incomplete.incomplete, Some(incomplete.received_at));
    }

    #[test]
    fn steps_are_tagged_by_action_and_unknown_fields_are_refused() {
        let step: ActionRequest =
            serde_json::from_value(serde_json::json!({"action": "extend", "reason": "complexity"})).unwrap();
        assert_eq!(step.audit_action(), "dsr.extend");
        let start: ActionRequest = serde_json::from_value(serde_json::json!({"action": "start"})).unwrap();
        assert_eq!(start.audit_action(), "dsr.start");
        let unknown = serde_json::from_value::<ActionRequest>(
            serde_json::json!({"action": "deny", "reason": "other", "note": "x"}),
        );
        assert!(unknown.is_err());
        assert!(serde_json::from_value::<ActionRequest>(serde_json::json!({"action": "deem_granted"})).is_err());
    }
}
