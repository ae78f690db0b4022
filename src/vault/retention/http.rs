//! HTTP handlers for retention holds: list what holds a party's data, add a legal
//! retention period, release one. Compliance officers and admins write (purposes
//! `compliance_review` or `dsr`); regulators may also read. Every request leaves one audit
//! record about the party, refusals included.

use super::domain::{Hold, HoldInput, StoredPeriod};
use super::{party_today, RetentionError};
use crate::access::{Purpose, Role};
use crate::api::auth::Caller;
use crate::api::error::{ApiError, ErrorBody};
use crate::api::write::{begin_idempotent, Begun, JsonBody};
use crate::api::AppState;
use crate::audit::Outcome;
use crate::ids::PartyId;
use crate::vault::gate;
use crate::vault::store::{party_state, PartyState};
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use axum::routing::{get, post};
use axum::{Json, Router};
use chrono::NaiveDate;
use serde::Serialize;
use utoipa::ToSchema;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/v1/parties/{id}/retention-holds", get(list_holds).post(add_hold))
        .route("/v1/parties/{id}/retention-holds/{hold_id}/release", post(release_hold))
}

const WRITERS: &[Role] = &[Role::Admin, Role::Compliance];
const READERS: &[Role] = &[Role::Admin, Role::Compliance, Role::Regulator];
const PURPOSES: &[Purpose] = &[Purpose::ComplianceReview, Purpose::Dsr];

impl From<RetentionError> for ApiError {
    fn from(err: RetentionError) -> Self {
        match err {
            RetentionError::NoParty => ApiError::NotFound { what: "party" },
            RetentionError::Erased => ApiError::party_erased(),
            RetentionError::NoHold => ApiError::NotFound { what: "retention hold" },
            RetentionError::AlreadyReleased => {
                ApiError::Conflict { code: "hold_already_released", message: err.to_string() }
            }
            RetentionError::Invalid(invalid) => ApiError::unprocessable(invalid.code, invalid.to_string()),
            RetentionError::Db(db) => ApiError::from(db),
            RetentionError::Audit(audit) => ApiError::from(audit),
        }
    }
}

/// A stored retention period as the API shows it.
#[derive(Serialize, ToSchema)]
pub struct HoldView {
    pub id: String,
    pub party_id: String,
    pub basis: String,
    pub starts_on: NaiveDate,
    /// Last day of the period; absent: until released.
    pub ends_on: Option<NaiveDate>,
    pub erase_at_end: bool,
    /// scheduled, in_force, ended or released (on the party's local date).
    pub state: &'static str,
    pub created_at: String,
    /// Client id of who added it.
    pub created_by: String,
    pub released_at: Option<String>,
    pub released_by: Option<String>,
}

impl HoldView {
    fn of(hold: &StoredPeriod, today: NaiveDate) -> Self {
        Self {
            id: hold.id.clone(),
            party_id: hold.party_id.clone(),
            basis: hold.period.basis.clone(),
            starts_on: hold.period.starts_on,
            ends_on: hold.period.ends_on,
            erase_at_end: hold.period.erase_at_end,
            state: hold.state_on(today),
            created_at: hold.created_at.clone(),
            created_by: hold.created_by.clone(),
            released_at: hold.released_at.clone(),
            released_by: hold.released_by.clone(),
        }
    }
}

/// What holds a party's data now, and every retention period stored for it.
#[derive(Serialize, ToSchema)]
pub struct HoldsView {
    pub party_id: String,
    /// True when nothing holds the data: an erasure would be carried out.
    pub erasable: bool,
    /// Every hold that applies now (open obligations and periods in force).
    pub applying: Vec<Hold>,
    pub retention_periods: Vec<HoldView>,
}

/// Answers `result`, auditing it first when it is an error (about the party).
async fn audited<T>(
    state: &AppState,
    caller: &Caller,
    action: &'static str,
    party: &PartyId,
    result: Result<T, ApiError>,
) -> Result<T, ApiError> {
    match result {
        Ok(value) => Ok(value),
        Err(error) => Err(gate::audit_error(state, caller, action, Some(party), error).await),
    }
}

#[utoipa::path(get, path = "/v1/parties/{id}/retention-holds", tag = "retention", params(("id" = String, Path), ("X-Purpose" = String, Header, description = "compliance_review or dsr")),
    responses((status = 200, body = HoldsView), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 410, body = ErrorBody, description = "the party was erased")))]
pub async fn list_holds(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Json<HoldsView>, ApiError> {
    const ACTION: &str = "retention.read";
    caller.require_role(&state, READERS, ACTION).await?;
    caller.require_purpose(&state, PURPOSES, ACTION).await?;
    let party = gate::parse_party(&state, &caller, &id, ACTION).await?;
    let view = audited(&state, &caller, ACTION, &party, read_holds(&state, &caller, &party).await).await?;
    let event = caller
        .event(ACTION, Some(party.to_string()), vec!["retention_holds".into()], Outcome::Allowed, 200)
        .about_parties([party.to_string()]);
    state.audit.append(&event, &state.now_db()).await?;
    Ok(Json(view))
}

async fn read_holds(state: &AppState, caller: &Caller, party: &PartyId) -> Result<HoldsView, ApiError> {
    let mut conn = state.db.reader().acquire().await?;
    match party_state(&mut conn, caller.tenant.as_str(), party.as_str()).await? {
        Some(PartyState::Active) => {}
        Some(PartyState::Erased) => return Err(ApiError::party_erased()),
        None => return Err(ApiError::NotFound { what: "party" }),
    }
    let now = state.now_db();
    let applying = super::holds(&mut conn, &caller.tenant, party, &now).await?;
    let today = party_today(&mut conn, &caller.tenant, party, &now).await?;
    let periods = super::store::list(&mut conn, caller.tenant.as_str(), party.as_str()).await?;
    Ok(HoldsView {
        party_id: party.to_string(),
        erasable: applying.is_empty(),
        applying,
        retention_periods: periods.iter().map(|p| HoldView::of(p, today)).collect(),
    })
}

#[utoipa::path(post, path = "/v1/parties/{id}/retention-holds", tag = "retention", request_body = HoldInput,
    params(("id" = String, Path), ("X-Purpose" = String, Header, description = "compliance_review or dsr"), ("Idempotency-Key" = Option<String>, Header)),
    responses((status = 201, body = HoldView), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 410, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn add_hold(
    State(state): State<AppState>,
    caller: Caller,
    headers: HeaderMap,
    Path(id): Path<String>,
    body: Result<JsonBody<HoldInput>, ApiError>,
) -> Result<Response, ApiError> {
    const ACTION: &str = "retention.hold";
    caller.require_role(&state, WRITERS, ACTION).await?;
    caller.require_purpose(&state, PURPOSES, ACTION).await?;
    let party = gate::parse_party(&state, &caller, &id, ACTION).await?;
    let result = add(&state, &caller, &headers, &party, body).await;
    audited(&state, &caller, ACTION, &party, result).await
}

async fn add(
    state: &AppState,
    caller: &Caller,
    headers: &HeaderMap,
    party: &PartyId,
    body: Result<JsonBody<HoldInput>, ApiError>,
) -> Result<Response, ApiError> {
    let body = body?;
    let period = body.value.validate().map_err(RetentionError::from)?;
    let route = format!("/v1/parties/{party}/retention-holds");
    let mut write = match begin_idempotent(state, caller, headers, &route, &body.raw).await? {
        Begun::Replay(response) => return Ok(response),
        Begun::Fresh(write) => write,
    };
    let ctx = caller.context(state);
    let hold = super::add_in(&mut write.tx, &ctx, party, period).await?;
    let today = party_today(&mut write.tx, &caller.tenant, party, &ctx.now).await?;
    write.finish(StatusCode::CREATED, &HoldView::of(&hold, today)).await
}

#[utoipa::path(post, path = "/v1/parties/{id}/retention-holds/{hold_id}/release", tag = "retention",
    params(("id" = String, Path), ("hold_id" = String, Path), ("X-Purpose" = String, Header, description = "compliance_review or dsr"), ("Idempotency-Key" = Option<String>, Header)),
    responses((status = 200, body = HoldView), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody, description = "already released"), (status = 410, body = ErrorBody)))]
pub async fn release_hold(
    State(state): State<AppState>,
    caller: Caller,
    headers: HeaderMap,
    Path((id, hold_id)): Path<(String, String)>,
) -> Result<Response, ApiError> {
    const ACTION: &str = "retention.release";
    caller.require_role(&state, WRITERS, ACTION).await?;
    caller.require_purpose(&state, PURPOSES, ACTION).await?;
    let party = gate::parse_party(&state, &caller, &id, ACTION).await?;
    let result = release(&state, &caller, &headers, &party, &hold_id).await;
    audited(&state, &caller, ACTION, &party, result).await
}

async fn release(
    state: &AppState,
    caller: &Caller,
    headers: &HeaderMap,
    party: &PartyId,
    hold_id: &str,
) -> Result<Response, ApiError> {
    let hold_id = uuid::Uuid::try_parse(hold_id).map_err(|_| ApiError::NotFound { what: "retention hold" })?;
    let route = format!("/v1/parties/{party}/retention-holds/{hold_id}/release");
    let mut write = match begin_idempotent(state, caller, headers, &route, b"").await? {
        Begun::Replay(response) => return Ok(response),
        Begun::Fresh(write) => write,
    };
    let ctx = caller.context(state);
    let hold = super::release_in(&mut write.tx, &ctx, party, &hold_id.hyphenated().to_string()).await?;
    let today = party_today(&mut write.tx, &caller.tenant, party, &ctx.now).await?;
    write.finish(StatusCode::OK, &HoldView::of(&hold, today)).await
}
