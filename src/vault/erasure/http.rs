//! `POST /v1/parties/{id}/erasure`: a compliance officer or admin erases a party, for a
//! data-subject request (purpose `dsr`). Refused with 409 `retention_hold`, naming every
//! hold, while one applies; 410 `party_erased` once done. Audited either way, about the
//! party. Part C's supresión requests call [`super::erase_in`] in their own transaction.

use super::{after_commit, erase_in, ErasureError, ErasureView};
use crate::access::{Purpose, Role};
use crate::api::auth::Caller;
use crate::api::error::{ApiError, ErrorBody};
use crate::api::write::{begin_idempotent, Begun};
use crate::api::AppState;
use crate::ids::PartyId;
use crate::vault::gate;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use axum::routing::post;
use axum::Router;

pub fn router() -> Router<AppState> {
    Router::new().route("/v1/parties/{id}/erasure", post(erase_party))
}

const ERASERS: &[Role] = &[Role::Admin, Role::Compliance];
const PURPOSES: &[Purpose] = &[Purpose::Dsr];
const ACTION: &str = "party.erase";

impl From<ErasureError> for ApiError {
    fn from(err: ErasureError) -> Self {
        match err {
            ErasureError::NoParty => ApiError::NotFound { what: "party" },
            ErasureError::AlreadyErased => ApiError::party_erased(),
            ErasureError::Held(_) => ApiError::Conflict { code: "retention_hold", message: err.to_string() },
            ErasureError::Db(db) => ApiError::from(db),
            ErasureError::Audit(audit) => ApiError::from(audit),
            ErasureError::Key(key) => ApiError::internal(key),
        }
    }
}

#[utoipa::path(post, path = "/v1/parties/{id}/erasure", tag = "erasure",
    params(("id" = String, Path), ("X-Purpose" = String, Header, description = "dsr"), ("Idempotency-Key" = Option<String>, Header, description = "Makes retries safe")),
    responses((status = 200, body = ErasureView, description = "erased: key, fields and blind indexes destroyed; tenant-key rotation queued"),
        (status = 403, body = ErrorBody), (status = 404, body = ErrorBody),
        (status = 409, body = ErrorBody, description = "`retention_hold`: an open obligation or a legal retention period applies (each named)"),
        (status = 410, body = ErrorBody, description = "`party_erased`: already erased")))]
pub async fn erase_party(
    State(state): State<AppState>,
    caller: Caller,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    caller.require_role(&state, ERASERS, ACTION).await?;
    caller.require_purpose(&state, PURPOSES, ACTION).await?;
    let party = gate::parse_party(&state, &caller, &id, ACTION).await?;
    match erase(&state, &caller, &headers, &party).await {
        Ok(response) => Ok(response),
        Err(error) => Err(gate::audit_error(&state, &caller, ACTION, Some(&party), error).await),
    }
}

async fn erase(state: &AppState, caller: &Caller, headers: &HeaderMap, party: &PartyId) -> Result<Response, ApiError> {
    let route = format!("/v1/parties/{party}/erasure");
    let mut write = match begin_idempotent(state, caller, headers, &route, b"").await? {
        Begun::Replay(response) => return Ok(response),
        Begun::Fresh(write) => write,
    };
    let receipt = erase_in(&mut write.tx, &state.keys, &caller.context(state), party).await?;
    let response = write.finish(StatusCode::OK, &receipt.view()).await?;
    // This gateway's copy goes at once (other gateways' copies fail their version check).
    state.parties.remove(&(caller.tenant.to_string(), party.to_string()));
    // Committed: the bytes must now leave the WAL, and the rotation should start soon. A
    // failure here does not undo the erasure; the worker's next checkpoint retries it.
    if let Err(error) = after_commit(&state.db).await {
        tracing::warn!(%error, "WAL checkpoint after an erasure failed");
    }
    state.jobs.wake();
    Ok(response)
}
