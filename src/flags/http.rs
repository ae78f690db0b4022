//! `/v1/parties/{id}/flags`: set or clear a flag, read the current flags and their
//! history. Role- and purpose-checked, one audit record per request, writes under the
//! party lock, nothing cached.

use super::domain::{FlagAction, FlagEventJson, FlagKind, FlagReason, FlagState, Insolvency};
use super::{FlagChange, FlagError};
use crate::access::{Purpose, Role};
use crate::api::audited::{self, Target};
use crate::api::auth::Caller;
use crate::api::error::{ApiError, ErrorBody};
use crate::api::write::{begin_idempotent, Begun, JsonBody};
use crate::api::AppState;
use crate::ids::PartyId;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use axum::routing::get;
use axum::{Json, Router};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

pub fn router() -> Router<AppState> {
    Router::new().route("/v1/parties/{id}/flags", get(get_flags).post(post_flag))
}

/// Who sets flags: compliance and the back office, and the core systems through ingest.
pub const WRITERS: &[Role] = &[Role::Admin, Role::Compliance, Role::Ingest];
pub const WRITE_PURPOSES: &[Purpose] = &[Purpose::ComplianceReview, Purpose::Dsr, Purpose::Ingest, Purpose::Support];
pub const READERS: &[Role] = &[Role::Admin, Role::Compliance, Role::Agent];
pub const READ_PURPOSES: &[Purpose] = &[Purpose::Collection, Purpose::Support, Purpose::ComplianceReview, Purpose::Dsr];

impl From<FlagError> for ApiError {
    fn from(error: FlagError) -> Self {
        match error {
            FlagError::Invalid(bad) => ApiError::unprocessable(bad.code, bad.to_string()),
            FlagError::UnknownParty => ApiError::NotFound { what: "party" },
            FlagError::PartyErased => ApiError::party_erased(),
            FlagError::Integrity { .. } => ApiError::Integrity,
            FlagError::Db(e) => ApiError::from(e),
            FlagError::Audit(audit) => ApiError::from(audit),
        }
    }
}

/// Body of `POST /v1/parties/{id}/flags`.
#[derive(Clone, Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct FlagRequest {
    pub action: FlagAction,
    pub flag: FlagKind,
    pub reason: FlagReason,
    /// Opaque reference in another system (claim, case or DSR number); no personal data:
    /// 1-128 of `[A-Za-z0-9._:/#-]`.
    pub reference: Option<String>,
    /// Required when setting `insolvency`; not allowed otherwise.
    pub insolvency: Option<Insolvency>,
}

#[derive(Serialize, ToSchema)]
pub struct FlagRecorded {
    pub event: FlagEventJson,
    /// The flags set now, after this event.
    pub current: Vec<FlagState>,
}

#[derive(Serialize, ToSchema)]
pub struct FlagsView {
    pub party_id: String,
    pub current: Vec<FlagState>,
    pub history: Vec<FlagEventJson>,
}

/// Sets or clears one flag (`Idempotency-Key` makes retries safe).
#[utoipa::path(post, path = "/v1/parties/{id}/flags", tag = "flags", request_body = FlagRequest,
    params(("id" = String, Path), ("X-Purpose" = String, Header), ("Idempotency-Key" = Option<String>, Header)),
    responses((status = 201, body = FlagRecorded), (status = 404, body = ErrorBody), (status = 410, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn post_flag(
    State(state): State<AppState>,
    caller: Caller,
    headers: HeaderMap,
    Path(id): Path<String>,
    body: Result<JsonBody<FlagRequest>, ApiError>,
) -> Result<Response, ApiError> {
    let action = body.as_ref().map(|b| b.value.action.audit_action()).unwrap_or("flag.write");
    let party = crate::vault::gate::authorized_party(&state, &caller, (WRITERS, WRITE_PURPOSES), action, &id).await?;
    match write(&state, &caller, &headers, &party, body).await {
        Ok(response) => Ok(response),
        Err(error) => Err(audited::refusal(&state, &caller, action, Target::Party(party.as_str()), error).await),
    }
}

async fn write(
    state: &AppState,
    caller: &Caller,
    headers: &HeaderMap,
    party: &PartyId,
    body: Result<JsonBody<FlagRequest>, ApiError>,
) -> Result<Response, ApiError> {
    let body = body?;
    let r = &body.value;
    let today = state.clock.now().date_naive();
    let change = FlagChange::new(r.action, r.flag, r.reason, r.reference.as_deref(), r.insolvency.clone(), today)
        .map_err(FlagError::from)?;
    let route = format!("/v1/parties/{party}/flags");
    let mut write = match begin_idempotent(state, caller, headers, &route, &body.raw).await? {
        Begun::Replay(response) => return Ok(response),
        Begun::Fresh(write) => write,
    };
    state.db.lock_party(&mut write.tx, party.as_str()).await?;
    let ctx = caller.context(state);
    let event = super::apply(&mut write.tx, &ctx, party, change).await?;
    let current = super::current(&mut write.tx, &caller.tenant, party).await?;
    write.finish(StatusCode::CREATED, &FlagRecorded { event: event.to_json(), current }).await
}

/// The flags set now and every flag event.
#[utoipa::path(get, path = "/v1/parties/{id}/flags", tag = "flags", params(("id" = String, Path), ("X-Purpose" = String, Header)),
    responses((status = 200, body = FlagsView), (status = 404, body = ErrorBody), (status = 410, body = ErrorBody)))]
pub async fn get_flags(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Json<FlagsView>, ApiError> {
    const ACTION: &str = "flag.read";
    let party = crate::vault::gate::authorized_party(&state, &caller, (READERS, READ_PURPOSES), ACTION, &id).await?;
    let read = async {
        let mut conn = state.db.reader().acquire().await?;
        Ok::<_, ApiError>(super::history(&mut conn, &caller.tenant, &party).await?)
    };
    let history = audited::or_refusal(&state, &caller, ACTION, Target::Party(party.as_str()), read.await).await?;
    audited::read(&state, &caller, ACTION, party.as_str(), vec!["flags".into()], None).await?;
    Ok(Json(FlagsView {
        party_id: party.to_string(),
        current: super::domain::current(&history),
        history: history.iter().map(|e| e.to_json()).collect(),
    }))
}
