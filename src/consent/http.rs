//! `/v1/parties/{id}/consents`: record a grant or revocation, read the ledger, get the
//! signed proof package. Every request is role- and purpose-checked and leaves exactly
//! one audit record (allowed or refused); writes take the party lock and commit the event
//! with its audit record; nothing is cached.

use super::ledger::{self, ConsentError};
use super::proof::{self, ProofError, ProofKeys};
use super::wire::{ConsentRequest, ConsentsView, Recorded};
use super::ConsentAction;
use crate::access::{Purpose, Role};
use crate::api::audited::{self, Target};
use crate::api::auth::Caller;
use crate::api::error::{ApiError, ErrorBody};
use crate::api::write::{begin_idempotent, Begun, JsonBody};
use crate::api::AppState;
use crate::ids::PartyId;
use axum::extract::{Path, State};
use axum::http::header::CONTENT_TYPE;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/v1/parties/{id}/consents", get(get_consents).post(post_consent))
        .route("/v1/parties/{id}/consents/proof", get(get_proof))
}

/// Who records consents: back office, compliance, agents on a call, the CRM's import.
pub const WRITERS: &[Role] = &[Role::Admin, Role::Compliance, Role::Agent, Role::Ingest];
pub const WRITE_PURPOSES: &[Purpose] =
    &[Purpose::Collection, Purpose::Support, Purpose::Ingest, Purpose::ComplianceReview, Purpose::Dsr];
pub const READERS: &[Role] = &[Role::Admin, Role::Compliance, Role::Agent];
pub const READ_PURPOSES: &[Purpose] = &[Purpose::Collection, Purpose::Support, Purpose::ComplianceReview, Purpose::Dsr];
/// The proof is for data-subject requests and for compliance (and the regulator).
pub const PROVERS: &[Role] = &[Role::Admin, Role::Compliance, Role::Regulator];
pub const PROOF_PURPOSES: &[Purpose] = &[Purpose::Dsr, Purpose::ComplianceReview];

impl From<ConsentError> for ApiError {
    fn from(error: ConsentError) -> Self {
        let message = error.to_string();
        match error {
            ConsentError::Invalid(bad) => ApiError::unprocessable(bad.code, bad.to_string()),
            ConsentError::UnknownParty => ApiError::NotFound { what: "party" },
            ConsentError::PartyErased => ApiError::party_erased(),
            ConsentError::Notice(notice) => ApiError::from(notice),
            ConsentError::UnknownDestination(_) => ApiError::unprocessable("unknown_destination", message),
            ConsentError::UnknownObligation => ApiError::unprocessable("unknown_obligation", message),
            ConsentError::VisitNotEligible => ApiError::unprocessable("visit_not_eligible", message),
            ConsentError::BeforeContract => ApiError::unprocessable("artefact_before_contract", message),
            ConsentError::Superseded => ApiError::Conflict { code: "evidence_superseded", message },
            ConsentError::RevocationRefused { .. } => ApiError::Conflict { code: "revocation_refused", message },
            ConsentError::Integrity { .. } => ApiError::Integrity,
            ConsentError::Db(e) => ApiError::from(e),
            ConsentError::Audit(audit) => ApiError::from(audit),
        }
    }
}

impl From<super::domain::BadInput> for ApiError {
    fn from(bad: super::domain::BadInput) -> Self {
        ApiError::unprocessable(bad.code, bad.to_string())
    }
}

impl From<ProofError> for ApiError {
    fn from(error: ProofError) -> Self {
        match error {
            ProofError::UnknownParty => ApiError::NotFound { what: "party" },
            ProofError::PartyErased => ApiError::party_erased(),
            ProofError::NotSealed => ApiError::Unavailable,
            ProofError::Integrity(_) => ApiError::Integrity,
            ProofError::Log(e) => ApiError::from(e),
            ProofError::Db(e) => ApiError::from(e),
            ProofError::Sign(e) => ApiError::internal(e),
        }
    }
}

/// Records one grant or one revocation (`Idempotency-Key` makes retries safe).
#[utoipa::path(post, path = "/v1/parties/{id}/consents", tag = "consents", request_body = ConsentRequest,
    params(("id" = String, Path), ("X-Purpose" = String, Header), ("Idempotency-Key" = Option<String>, Header)),
    responses((status = 201, body = Recorded), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody, description = "revocation refused while a duty to remain holds; evidence older than the scope's latest event"),
              (status = 410, body = ErrorBody, description = "party erased"), (status = 422, body = ErrorBody)))]
pub async fn post_consent(
    State(state): State<AppState>,
    caller: Caller,
    headers: HeaderMap,
    Path(id): Path<String>,
    body: Result<JsonBody<ConsentRequest>, ApiError>,
) -> Result<Response, ApiError> {
    let action = body.as_ref().map(|b| b.value.action.audit_action()).unwrap_or("consent.write");
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
    body: Result<JsonBody<ConsentRequest>, ApiError>,
) -> Result<Response, ApiError> {
    let body = body?;
    let new = body.value.validate(state.clock.now()).map_err(ConsentError::from)?;
    let route = format!("/v1/parties/{party}/consents");
    let mut write = match begin_idempotent(state, caller, headers, &route, &body.raw).await? {
        Begun::Replay(response) => return Ok(response),
        Begun::Fresh(write) => write,
    };
    state.db.lock_party(&mut write.tx, party.as_str()).await?;
    let ctx = caller.context(state);
    let event = ledger::record_in(&mut write.tx, &ctx, party, new).await?;
    let status = if event.action == ConsentAction::Grant { "granted" } else { "revoked" };
    write.finish(StatusCode::CREATED, &Recorded { event: event.to_json(), status }).await
}

/// The party's current consent state per scope, its full history and the notices served.
#[utoipa::path(get, path = "/v1/parties/{id}/consents", tag = "consents", params(("id" = String, Path), ("X-Purpose" = String, Header)),
    responses((status = 200, body = ConsentsView), (status = 404, body = ErrorBody), (status = 410, body = ErrorBody)))]
pub async fn get_consents(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Json<ConsentsView>, ApiError> {
    const ACTION: &str = "consent.read";
    let party = crate::vault::gate::authorized_party(&state, &caller, (READERS, READ_PURPOSES), ACTION, &id).await?;
    let read = async {
        let mut conn = state.db.reader().acquire().await?;
        Ok::<_, ApiError>(ledger::state_and_history(&mut conn, &caller.tenant, &party).await?)
    };
    let history = audited::or_refusal(&state, &caller, ACTION, Target::Party(party.as_str()), read.await).await?;
    audited::read(&state, &caller, ACTION, party.as_str(), vec!["consents".into()], None).await?;
    Ok(Json(ConsentsView {
        party_id: party.to_string(),
        current: history.current.iter().map(|s| s.to_json()).collect(),
        history: history.events.iter().map(|e| e.to_json()).collect(),
        notices_served: history.served.iter().map(|e| e.to_json()).collect(),
    }))
}

/// The signed proof package (Decreto 1377 de 2013 art. 8), checked by the gateway before
/// it is sent; verify it offline with `custodia consent verify-proof`.
#[utoipa::path(get, path = "/v1/parties/{id}/consents/proof", tag = "consents", params(("id" = String, Path), ("X-Purpose" = String, Header)),
    responses((status = 200, body = proof::package::ProofPackage), (status = 404, body = ErrorBody), (status = 410, body = ErrorBody),
              (status = 500, body = ErrorBody, description = "integrity_error: the stored ledger does not match its audit records")))]
pub async fn get_proof(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    const ACTION: &str = "consent.proof";
    let party = crate::vault::gate::authorized_party(&state, &caller, (PROVERS, PROOF_PURPOSES), ACTION, &id).await?;
    let built = match prove(&state, &caller, &party).await {
        Ok(package) => serde_json::to_vec(&package).map_err(ApiError::internal),
        Err(error) => Err(error),
    };
    let bytes = audited::or_refusal(&state, &caller, ACTION, Target::Party(party.as_str()), built).await?;
    // The record of the delivery attests exactly what was delivered.
    let evidence = Some(crate::keys::crypto::sha256(&bytes));
    audited::read(&state, &caller, ACTION, party.as_str(), vec!["consents".into()], evidence).await?;
    Ok(([(CONTENT_TYPE, "application/json")], bytes).into_response())
}

/// The party's proof package, proven against a checkpoint that covers every event in it
/// (sealing first, and again if a write landed in between).
pub(crate) async fn prove(
    state: &AppState,
    caller: &Caller,
    party: &PartyId,
) -> Result<proof::package::ProofPackage, ApiError> {
    let keys = ProofKeys { proof: &state.proof, audit: &state.audit.signer };
    let mut attempt = 0;
    loop {
        attempt += 1;
        state.audit.seal_now().await.map_err(ApiError::internal)?;
        let mut conn = state.db.reader().acquire().await?;
        match proof::build(&mut conn, &keys, &caller.tenant, party, &state.now_db()).await {
            // A write committed between sealing and reading: seal again.
            Err(ProofError::NotSealed) if attempt < 3 => continue,
            other => return Ok(other?),
        }
    }
}
