//! `/v1/dsr` writes: register a request, take it a step, record the requester's identity
//! verification, assign it. Officers only (`compliance`, `admin`) with purpose `dsr`.
//! Every request leaves exactly one audit record of its own — about the party whenever
//! the request names one of the caller's tenant — allowed or refused; a write's record
//! commits with it (steps that erase, revoke, set a flag or add a hold also commit the
//! records of those events). Bad input is a stable 4xx and writes nothing. The reads are
//! in [`super::http_read`].

use super::request::Identity;
use super::service::{self, document_hash};
use super::store;
use super::view::{RequestView, Stepped};
use super::wire::{instant_or_now, ActionRequest, AssignRequest, CreateRequest, IdentityRequest};
use super::DsrError;
use crate::access::{Purpose, Role};
use crate::api::audited::{self, Target};
use crate::api::auth::Caller;
use crate::api::error::{ApiError, ErrorBody};
use crate::api::write::{begin_idempotent, Begun, JsonBody};
use crate::api::AppState;
use crate::clients::settings;
use crate::consent::domain::actor_id;
use crate::ids::PartyId;
use crate::vault::gate;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use axum::routing::{get, post};
use axum::Router;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/v1/dsr", post(create_request).get(super::http_read::list_requests))
        .route("/v1/dsr/{id}", get(super::http_read::get_request))
        .route("/v1/dsr/{id}/actions", post(step_request))
        .route("/v1/dsr/{id}/identity", post(verify_identity))
        .route("/v1/dsr/{id}/assignee", post(assign_request))
        .route("/v1/dsr/{id}/dossier", get(super::http_read::get_dossier))
        .route("/v1/dsr/{id}/proof", get(super::http_read::get_proof))
}

/// Who handles requests: compliance officers and admins, for purpose `dsr`.
pub const OFFICERS: &[Role] = &[Role::Admin, Role::Compliance];
pub const WRITE_PURPOSES: &[Purpose] = &[Purpose::Dsr];
/// Who may read requests and their history; the regulator with `compliance_review`.
pub const READERS: &[Role] = &[Role::Admin, Role::Compliance, Role::Regulator];
pub const READ_PURPOSES: &[Purpose] = &[Purpose::Dsr, Purpose::ComplianceReview];

impl From<DsrError> for ApiError {
    fn from(error: DsrError) -> Self {
        let message = error.to_string();
        match error {
            DsrError::Invalid(bad) => ApiError::unprocessable(bad.code, bad.to_string()),
            DsrError::NoParty => ApiError::NotFound { what: "party" },
            DsrError::PartyErased => ApiError::party_erased(),
            DsrError::NoRequest => ApiError::NotFound { what: "data-subject request" },
            DsrError::Refused(refusal) => ApiError::Conflict { code: refusal.code(), message },
            DsrError::Deadline(deadline) => ApiError::unprocessable(deadline.code(), message),
            DsrError::IdentityNotVerified => ApiError::Conflict { code: "identity_not_verified", message },
            DsrError::UnknownDocument => ApiError::unprocessable("unknown_document", message),
            DsrError::NoHoldApplies => ApiError::Conflict { code: "no_hold_applies", message },
            DsrError::WrongKind { .. } => ApiError::Conflict { code: "action_not_applicable", message },
            DsrError::Held(_) => ApiError::Conflict { code: "retention_hold", message },
            DsrError::Concurrent => ApiError::Conflict { code: "concurrent_change", message },
            DsrError::Clock => ApiError::internal(anyhow::anyhow!("a stored dsr time or zone does not parse")),
            DsrError::Integrity { .. } => ApiError::Integrity,
            DsrError::Consent(e) => ApiError::from(e),
            DsrError::Flag(e) => ApiError::from(e),
            DsrError::Erasure(e) => ApiError::from(e),
            DsrError::Retention(e) => ApiError::from(e),
            DsrError::Db(e) => ApiError::from(e),
            DsrError::Audit(e) => ApiError::from(e),
        }
    }
}

/// The request id of a path and the party it is about (read without a lock). A
/// malformed or unknown id is an audited 404 that names no party.
pub(crate) async fn target(
    state: &AppState,
    caller: &Caller,
    id: &str,
    action: &'static str,
) -> Result<(String, String), ApiError> {
    let Ok(id) = uuid::Uuid::try_parse(id).map(|u| u.hyphenated().to_string()) else {
        let error = ApiError::NotFound { what: "data-subject request" };
        return Err(audited::refusal(state, caller, action, Target::Nothing, error).await);
    };
    let found = async {
        let mut conn = state.db.reader().acquire().await?;
        Ok::<_, ApiError>(store::load(&mut conn, caller.tenant.as_str(), &id).await?)
    };
    match found.await {
        Ok(Some(request)) => Ok((id, request.party)),
        Ok(None) => {
            let error = ApiError::NotFound { what: "data-subject request" };
            Err(audited::refusal(state, caller, action, Target::Resource(&id), error).await)
        }
        Err(error) => Err(audited::refusal(state, caller, action, Target::Resource(&id), error).await),
    }
}

/// Registers a request; its deadline comes from the tenant's zone and, for Mexico, day count.
#[utoipa::path(post, path = "/v1/dsr", tag = "data-subject requests", request_body = CreateRequest,
    params(("X-Purpose" = String, Header, description = "dsr"), ("Idempotency-Key" = Option<String>, Header)),
    responses((status = 201, body = RequestView), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody, description = "no such party"),
        (status = 410, body = ErrorBody, description = "`party_erased`"),
        (status = 422, body = ErrorBody, description = "invalid input; `time_in_future`, `outside_calendar_range`")))]
pub async fn create_request(
    State(state): State<AppState>,
    caller: Caller,
    headers: HeaderMap,
    body: Result<JsonBody<CreateRequest>, ApiError>,
) -> Result<Response, ApiError> {
    const ACTION: &str = "dsr.create";
    caller.require_access(&state, (OFFICERS, WRITE_PURPOSES), ACTION).await?;
    let body = audited::or_refusal(&state, &caller, ACTION, Target::Nothing, body).await?;
    let Ok(party) = PartyId::parse(&body.value.party_id) else {
        let error = ApiError::NotFound { what: "party" };
        return Err(audited::refusal(&state, &caller, ACTION, Target::Nothing, error).await);
    };
    gate::require_active(&state, &caller, &party, ACTION).await?;
    match create(&state, &caller, &headers, &party, &body).await {
        Ok(response) => Ok(response),
        Err(error) => Err(audited::refusal(&state, &caller, ACTION, Target::Party(party.as_str()), error).await),
    }
}

async fn create(
    state: &AppState,
    caller: &Caller,
    headers: &HeaderMap,
    party: &PartyId,
    body: &JsonBody<CreateRequest>,
) -> Result<Response, ApiError> {
    let mut new = body.value.validate(state.clock.now()).map_err(DsrError::from)?;
    new.party = party.to_string();
    let mut write = match begin_idempotent(state, caller, headers, "/v1/dsr", &body.raw).await? {
        Begun::Replay(response) => return Ok(response),
        Begun::Fresh(write) => write,
    };
    let ctx = caller.context(state);
    let tenant = settings::load(&mut write.tx, &caller.tenant).await?.unwrap_or_default();
    let (request, _) = service::create_in(&mut write.tx, &ctx, tenant, new).await?;
    write.finish(StatusCode::CREATED, &RequestView::of(&request, &cutoff(state))).await
}

/// Now − 1 s in database text: a term is met up to and including its last second.
pub(crate) fn cutoff(state: &AppState) -> String {
    crate::clock::to_db_time(state.clock.now() - chrono::Duration::seconds(1))
}

/// Takes the request one step (`action`: start, request_information, complete, extend,
/// answer, deny, withdraw, block, extend_execution, execute).
#[utoipa::path(post, path = "/v1/dsr/{id}/actions", tag = "data-subject requests", request_body = ActionRequest,
    params(("id" = String, Path), ("X-Purpose" = String, Header, description = "dsr"), ("Idempotency-Key" = Option<String>, Header)),
    responses((status = 200, body = Stepped), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 410, body = ErrorBody),
        (status = 409, body = ErrorBody, description = "`invalid_transition`, `already_extended`, `action_not_applicable`, `identity_not_verified`, `retention_hold`, `revocation_refused`, `no_hold_applies`"),
        (status = 422, body = ErrorBody, description = "`extension_too_late`, `time_in_future`, `unknown_document`, invalid input")))]
pub async fn step_request(
    State(state): State<AppState>,
    caller: Caller,
    headers: HeaderMap,
    Path(id): Path<String>,
    body: Result<JsonBody<ActionRequest>, ApiError>,
) -> Result<Response, ApiError> {
    let action = body.as_ref().map(|b| b.value.audit_action()).unwrap_or("dsr.step");
    caller.require_access(&state, (OFFICERS, WRITE_PURPOSES), action).await?;
    let (id, party) = target(&state, &caller, &id, action).await?;
    match step(&state, &caller, &headers, &id, body).await {
        Ok(response) => Ok(response),
        Err(error) => Err(audited::refusal(&state, &caller, action, Target::Party(&party), error).await),
    }
}

async fn step(
    state: &AppState,
    caller: &Caller,
    headers: &HeaderMap,
    id: &str,
    body: Result<JsonBody<ActionRequest>, ApiError>,
) -> Result<Response, ApiError> {
    let body = body?;
    let route = format!("/v1/dsr/{id}/actions");
    let mut write = match begin_idempotent(state, caller, headers, &route, &body.raw).await? {
        Begun::Replay(response) => return Ok(response),
        Begun::Fresh(write) => write,
    };
    let ctx = caller.context(state);
    let done = service::step_in(&mut write.tx, &state.keys, &ctx, id, &body.value).await?;
    let answer = Stepped {
        request: RequestView::of(&done.request, &cutoff(state)),
        event: done.event.to_json(),
        erasure: done.effects.erasure.as_ref().map(|r| r.view()),
        consent_event_sha256: done.effects.consent_event.map(hex::encode),
    };
    let response = write.finish(StatusCode::OK, &answer).await?;
    if done.effects.erasure.is_some() {
        // As after `POST /v1/parties/{id}/erasure`: this gateway's copy goes at once, the
        // WAL is checkpointed, and the key rotation the erasure queued is started.
        state.parties.remove(&(caller.tenant.to_string(), done.request.party.clone()));
        if let Err(error) = crate::vault::erasure::after_commit(&state.db).await {
            tracing::warn!(%error, "WAL checkpoint after a supresión failed");
        }
        state.jobs.wake();
    }
    Ok(response)
}

/// Records how the requester's identity was verified (needed before answering).
#[utoipa::path(post, path = "/v1/dsr/{id}/identity", tag = "data-subject requests", request_body = IdentityRequest,
    params(("id" = String, Path), ("X-Purpose" = String, Header, description = "dsr"), ("Idempotency-Key" = Option<String>, Header)),
    responses((status = 200, body = RequestView), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody), (status = 410, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn verify_identity(
    State(state): State<AppState>,
    caller: Caller,
    headers: HeaderMap,
    Path(id): Path<String>,
    body: Result<JsonBody<IdentityRequest>, ApiError>,
) -> Result<Response, ApiError> {
    const ACTION: &str = "dsr.identity";
    caller.require_access(&state, (OFFICERS, WRITE_PURPOSES), ACTION).await?;
    let (id, party) = target(&state, &caller, &id, ACTION).await?;
    let result = async {
        let body = body?;
        let input = &body.value;
        let fallback = caller.on_behalf_of.clone().unwrap_or_else(|| caller.client.to_string());
        let identity = Identity {
            method: input.method,
            verified_by: actor_id(input.verified_by.as_deref().unwrap_or(&fallback), "verified_by")
                .map_err(DsrError::from)?,
            verified_at: crate::clock::to_db_time(
                instant_or_now(input.verified_at.as_deref(), state.clock.now(), "verified_at")
                    .map_err(DsrError::from)?,
            ),
            document_sha256: document_hash(input.document_sha256.as_deref())?,
        };
        let route = format!("/v1/dsr/{id}/identity");
        let mut write = match begin_idempotent(&state, &caller, &headers, &route, &body.raw).await? {
            Begun::Replay(response) => return Ok(response),
            Begun::Fresh(write) => write,
        };
        let (request, _) = service::verify_identity_in(&mut write.tx, &caller.context(&state), &id, identity).await?;
        write.finish(StatusCode::OK, &RequestView::of(&request, &cutoff(&state))).await
    };
    match result.await {
        Ok(response) => Ok(response),
        Err(error) => Err(audited::refusal(&state, &caller, ACTION, Target::Party(&party), error).await),
    }
}

/// Assigns the request to an officer (null unassigns).
#[utoipa::path(post, path = "/v1/dsr/{id}/assignee", tag = "data-subject requests", request_body = AssignRequest,
    params(("id" = String, Path), ("X-Purpose" = String, Header, description = "dsr"), ("Idempotency-Key" = Option<String>, Header)),
    responses((status = 200, body = RequestView), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody), (status = 410, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn assign_request(
    State(state): State<AppState>,
    caller: Caller,
    headers: HeaderMap,
    Path(id): Path<String>,
    body: Result<JsonBody<AssignRequest>, ApiError>,
) -> Result<Response, ApiError> {
    const ACTION: &str = "dsr.assign";
    caller.require_access(&state, (OFFICERS, WRITE_PURPOSES), ACTION).await?;
    let (id, party) = target(&state, &caller, &id, ACTION).await?;
    let result = async {
        let body = body?;
        let assignee =
            body.value.assignee.as_deref().map(|a| actor_id(a, "assignee")).transpose().map_err(DsrError::from)?;
        let route = format!("/v1/dsr/{id}/assignee");
        let mut write = match begin_idempotent(&state, &caller, &headers, &route, &body.raw).await? {
            Begun::Replay(response) => return Ok(response),
            Begun::Fresh(write) => write,
        };
        let (request, _) = service::assign_in(&mut write.tx, &caller.context(&state), &id, assignee).await?;
        write.finish(StatusCode::OK, &RequestView::of(&request, &cutoff(&state))).await
    };
    match result.await {
        Ok(response) => Ok(response),
        Err(error) => Err(audited::refusal(&state, &caller, ACTION, Target::Party(&party), error).await),
    }
}
