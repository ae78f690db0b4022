//! HTTP handlers for obligations, their payments and promises, and a party's obligations.
//! Reads are audited with the opaque ids of the parties on the obligation; writes audit
//! in their own transaction.

use super::domain::{
    parse_amount, parse_choice, parse_date, AmountInput, ObligationTerms, PaymentInput, PromiseInput, PARTY_ROLES,
    STATUSES,
};
use super::store::{self, party_ids, MovementView, ObligationRows, ObligationView};
use crate::access::Role;
use crate::api::auth::Caller;
use crate::api::error::{ApiError, ErrorBody};
use crate::api::write::{begin_idempotent, Begun, JsonBody};
use crate::api::AppState;
use crate::audit::{self, Outcome};
use crate::ids::{ObligationId, PartyId};
use crate::vault::store::PartyState;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/v1/obligations", post(create_obligation))
        .route("/v1/obligations/{id}", get(get_obligation).patch(patch_obligation))
        .route("/v1/obligations/{id}/payments", get(list_payments).post(add_payment))
        .route("/v1/obligations/{id}/promises", get(list_promises).post(add_promise))
        .route("/v1/parties/{id}/obligations", get(party_obligations))
}

const WRITERS: &[Role] = &[Role::Admin, Role::Ingest];
const RECORDERS: &[Role] = &[Role::Admin, Role::Ingest, Role::Agent];

#[derive(Deserialize, ToSchema, Clone)]
#[serde(deny_unknown_fields)]
pub struct PartyLink {
    pub party_id: String,
    /// holder, co_debtor or guarantor
    pub role: String,
}

/// Body of `POST /v1/obligations`.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ObligationCreate {
    pub external_ref: String,
    pub product: String,
    pub currency: String,
    pub principal: AmountInput,
    pub balance: AmountInput,
    pub due_date: String,
    pub status: String,
    pub parties: Vec<PartyLink>,
}

#[derive(Serialize, ToSchema)]
pub struct CreatedObligation {
    pub id: String,
}

#[utoipa::path(post, path = "/v1/obligations", tag = "obligations", request_body = ObligationCreate, params(("X-Purpose" = String, Header)),
    responses((status = 201, body = CreatedObligation), (status = 409, body = ErrorBody), (status = 410, body = ErrorBody, description = "`party_erased`: a linked party was erased"), (status = 422, body = ErrorBody)))]
pub async fn create_obligation(
    State(state): State<AppState>,
    caller: Caller,
    headers: HeaderMap,
    body: JsonBody<ObligationCreate>,
) -> Result<Response, ApiError> {
    caller.require_role(&state, WRITERS, "obligation.create").await?;
    let input = &body.value;
    let terms = ObligationTerms {
        external_ref: input.external_ref.clone(),
        product: input.product.clone(),
        currency: input.currency.clone(),
        principal: input.principal.clone(),
        balance: input.balance.clone(),
        due_date: input.due_date.clone(),
        status: input.status.clone(),
    }
    .validate("")
    .map_err(field_error)?;
    let links = validate_links(&input.parties)?;
    let mut write = match begin_idempotent(&state, &caller, &headers, "/v1/obligations", &body.raw).await? {
        Begun::Replay(response) => return Ok(response),
        Begun::Fresh(write) => write,
    };
    if let Err((error, erased)) = check_links(&state, &mut write.tx, &caller, &links).await {
        write.tx.rollback().await?;
        return Err(match erased {
            // A write about an erased party is refused like any other: audited, about it.
            Some(party) => {
                crate::vault::gate::audit_error(&state, &caller, "obligation.create", Some(&party), error).await
            }
            None => error,
        });
    }
    let tx = &mut write.tx;
    {
        if !store::existing_refs(tx, caller.tenant.as_str(), &[terms.external_ref.as_str()]).await?.is_empty() {
            return Err(duplicate_obligation());
        }
        let id = ObligationId::new();
        let now = state.now_db();
        let mut rows = ObligationRows::default();
        rows.obligation(id.as_str(), caller.tenant.as_str(), &terms, &now);
        for (party, role) in &links {
            rows.link(id.as_str(), party.as_str(), caller.tenant.as_str(), role);
        }
        rows.insert(tx).await.map_err(|e| {
            if crate::db::is_unique_violation(&e) {
                duplicate_obligation()
            } else {
                ApiError::from(e)
            }
        })?;
        let event = caller
            .event("obligation.create", Some(id.to_string()), vec!["obligation".into()], Outcome::Allowed, 201)
            .about_parties(links.iter().map(|(p, _)| p.to_string()));
        audit::append(tx, &event, &now).await?;
        write.finish(StatusCode::CREATED, &CreatedObligation { id: id.to_string() }).await
    }
}

/// Locks every linked party (in id order, so two writers never wait on each other: an
/// erasure or a retention decision about a party sees this obligation or not at all) and
/// checks each is active. An erased one is named in the error.
async fn check_links(
    state: &AppState,
    tx: &mut crate::db::Conn,
    caller: &Caller,
    links: &[(PartyId, &'static str)],
) -> Result<(), (ApiError, Option<PartyId>)> {
    let mut locked: Vec<&PartyId> = links.iter().map(|(p, _)| p).collect();
    locked.sort();
    for party in locked {
        state.db.lock_party(tx, party.as_str()).await.map_err(|e| (ApiError::from(e), None))?;
    }
    for (i, (party, _)) in links.iter().enumerate() {
        let found = crate::vault::store::party_state(tx, caller.tenant.as_str(), party.as_str()).await;
        match found.map_err(|e| (ApiError::from(e), None))? {
            Some(PartyState::Active) => {}
            Some(PartyState::Erased) => {
                let message = format!("parties[{i}].party_id: this party's personal data was erased");
                return Err((ApiError::Gone { code: "party_erased", message }, Some(party.clone())));
            }
            None => {
                let message = format!("parties[{i}].party_id: no such party in this tenant");
                return Err((ApiError::unprocessable("unknown_party", message), None));
            }
        }
    }
    Ok(())
}

/// Checked before the insert for a clear answer; the unique constraint decides races.
fn duplicate_obligation() -> ApiError {
    ApiError::Conflict {
        code: "duplicate_obligation",
        message: "external_ref: an obligation with this reference already exists".into(),
    }
}

fn field_error(err: super::domain::FieldError) -> ApiError {
    ApiError::unprocessable(err.code, err.to_string())
}

fn validate_links(links: &[PartyLink]) -> Result<Vec<(PartyId, &'static str)>, ApiError> {
    let mut out: Vec<(PartyId, &'static str)> = Vec::with_capacity(links.len());
    for (i, link) in links.iter().enumerate() {
        let party = PartyId::parse(&link.party_id).map_err(|_| {
            ApiError::unprocessable("unknown_party", format!("parties[{i}].party_id: no such party in this tenant"))
        })?;
        let role = parse_choice(&link.role, PARTY_ROLES, "invalid_role", &format!("parties[{i}].role"))
            .map_err(field_error)?;
        if out.iter().any(|(p, _)| *p == party) {
            return Err(ApiError::unprocessable(
                "duplicate_party_link",
                format!("parties[{i}]: a party can appear only once"),
            ));
        }
        out.push((party, role));
    }
    if !out.iter().any(|(_, role)| *role == "holder") {
        return Err(ApiError::unprocessable("holder_required", "parties: an obligation needs at least one holder"));
    }
    Ok(out)
}

async fn load_audited(
    state: &AppState,
    caller: &Caller,
    id: &str,
    action: &'static str,
) -> Result<ObligationView, ApiError> {
    let id = ObligationId::parse(id).map_err(|_| ApiError::NotFound { what: "obligation" })?;
    let mut conn = state.db.reader().acquire().await?;
    let found = store::load(&mut conn, caller.tenant.as_str(), id.as_str()).await?;
    drop(conn);
    let (outcome, status, parties) = match &found {
        Some(o) => (Outcome::Allowed, 200, party_ids(o)),
        None => (Outcome::Denied, 404, Vec::new()),
    };
    let event =
        caller.event(action, Some(id.to_string()), vec!["obligation".into()], outcome, status).about_parties(parties);
    state.audit.append(&event, &state.now_db()).await?;
    found.ok_or(ApiError::NotFound { what: "obligation" })
}

#[utoipa::path(get, path = "/v1/obligations/{id}", tag = "obligations", params(("id" = String, Path), ("X-Purpose" = String, Header)),
    responses((status = 200, body = ObligationView), (status = 404, body = ErrorBody)))]
pub async fn get_obligation(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Json<ObligationView>, ApiError> {
    Ok(Json(load_audited(&state, &caller, &id, "obligation.read").await?))
}

/// Body of `PATCH /v1/obligations/{id}`: only what changes over an obligation's life.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ObligationPatch {
    pub balance: Option<AmountInput>,
    pub status: Option<String>,
    pub due_date: Option<String>,
}

#[utoipa::path(patch, path = "/v1/obligations/{id}", tag = "obligations", request_body = ObligationPatch, params(("id" = String, Path), ("X-Purpose" = String, Header)),
    responses((status = 200, body = ObligationView), (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn patch_obligation(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    body: JsonBody<ObligationPatch>,
) -> Result<Json<ObligationView>, ApiError> {
    caller.require_role(&state, WRITERS, "obligation.update").await?;
    let id = ObligationId::parse(&id).map_err(|_| ApiError::NotFound { what: "obligation" })?;
    let patch = &body.value;
    let balance = patch.balance.as_ref().map(|b| parse_amount(b, "balance")).transpose().map_err(field_error)?;
    let status = patch
        .status
        .as_deref()
        .map(|s| parse_choice(s, STATUSES, "invalid_status", "status"))
        .transpose()
        .map_err(field_error)?;
    let due_date = patch
        .due_date
        .as_deref()
        .map(|d| parse_date(d, "due_date").map(|d| d.to_string()))
        .transpose()
        .map_err(field_error)?;
    let mut tx = state.db.begin_write().await?;
    let existing = store::load(&mut tx, caller.tenant.as_str(), id.as_str())
        .await?
        .ok_or(ApiError::NotFound { what: "obligation" })?;
    // A status change opens or settles what holds the parties' data (retention holds):
    // serialise it with erasures of those parties.
    let mut parties = party_ids(&existing);
    parties.sort();
    for party in &parties {
        state.db.lock_party(&mut tx, party).await?;
    }
    let existing = store::load(&mut tx, caller.tenant.as_str(), id.as_str())
        .await?
        .ok_or(ApiError::NotFound { what: "obligation" })?;
    let now = state.now_db();
    store::update(&mut tx, id.as_str(), balance, status, due_date, &now).await?;
    audit::append(
        &mut tx,
        &caller
            .event("obligation.update", Some(id.to_string()), vec!["obligation".into()], Outcome::Allowed, 200)
            .about_parties(party_ids(&existing)),
        &now,
    )
    .await?;
    let updated = store::load(&mut tx, caller.tenant.as_str(), id.as_str())
        .await?
        .ok_or(ApiError::NotFound { what: "obligation" })?;
    tx.commit().await.map_err(|_| ApiError::AuditUnavailable)?;
    Ok(Json(updated))
}

#[derive(Serialize, ToSchema)]
pub struct Movements {
    pub items: Vec<MovementView>,
}

async fn list(state: &AppState, caller: &Caller, id: &str, promises: bool) -> Result<Json<Movements>, ApiError> {
    let obligation = load_audited(state, caller, id, if promises { "promise.read" } else { "payment.read" }).await?;
    let mut conn = state.db.reader().acquire().await?;
    Ok(Json(Movements { items: store::movements(&mut conn, &obligation.id, promises).await? }))
}

#[utoipa::path(get, path = "/v1/obligations/{id}/payments", tag = "obligations", params(("id" = String, Path), ("X-Purpose" = String, Header)), responses((status = 200, body = Movements), (status = 404, body = ErrorBody)))]
pub async fn list_payments(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Json<Movements>, ApiError> {
    list(&state, &caller, &id, false).await
}

#[utoipa::path(get, path = "/v1/obligations/{id}/promises", tag = "obligations", params(("id" = String, Path), ("X-Purpose" = String, Header)), responses((status = 200, body = Movements), (status = 404, body = ErrorBody)))]
pub async fn list_promises(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Json<Movements>, ApiError> {
    list(&state, &caller, &id, true).await
}

#[derive(Serialize, ToSchema)]
pub struct CreatedMovement {
    pub obligation_id: String,
}

async fn record(
    state: &AppState,
    caller: &Caller,
    headers: &HeaderMap,
    id: &str,
    raw: &[u8],
    movement: super::domain::NewMovement,
    promise: bool,
) -> Result<Response, ApiError> {
    caller.require_role(state, RECORDERS, if promise { "promise.create" } else { "payment.create" }).await?;
    let id = ObligationId::parse(id).map_err(|_| ApiError::NotFound { what: "obligation" })?;
    let route = if promise { "/v1/obligations/{id}/promises" } else { "/v1/obligations/{id}/payments" };
    let mut write = match begin_idempotent(state, caller, headers, &format!("{route}#{id}"), raw).await? {
        Begun::Replay(response) => return Ok(response),
        Begun::Fresh(write) => write,
    };
    let tx = &mut write.tx;
    {
        let obligation = store::load(tx, caller.tenant.as_str(), id.as_str())
            .await?
            .ok_or(ApiError::NotFound { what: "obligation" })?;
        let now = state.now_db();
        let mut rows = ObligationRows::default();
        if promise {
            rows.promise(id.as_str(), caller.tenant.as_str(), &movement, &now);
        } else {
            rows.payment(id.as_str(), caller.tenant.as_str(), &movement, &now);
        }
        rows.insert(tx).await?;
        let action = if promise { "promise.create" } else { "payment.create" };
        audit::append(
            tx,
            &caller
                .event(
                    action,
                    Some(id.to_string()),
                    vec![action.trim_end_matches(".create").into()],
                    Outcome::Allowed,
                    201,
                )
                .about_parties(party_ids(&obligation)),
            &now,
        )
        .await?;
        write.finish(StatusCode::CREATED, &CreatedMovement { obligation_id: id.to_string() }).await
    }
}

#[utoipa::path(post, path = "/v1/obligations/{id}/payments", tag = "obligations", request_body = PaymentInput, params(("id" = String, Path), ("X-Purpose" = String, Header)),
    responses((status = 201, body = CreatedMovement), (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn add_payment(
    State(state): State<AppState>,
    caller: Caller,
    headers: HeaderMap,
    Path(id): Path<String>,
    body: JsonBody<PaymentInput>,
) -> Result<Response, ApiError> {
    let movement = body.value.validate("").map_err(field_error)?;
    record(&state, &caller, &headers, &id, &body.raw, movement, false).await
}

#[utoipa::path(post, path = "/v1/obligations/{id}/promises", tag = "obligations", request_body = PromiseInput, params(("id" = String, Path), ("X-Purpose" = String, Header)),
    responses((status = 201, body = CreatedMovement), (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn add_promise(
    State(state): State<AppState>,
    caller: Caller,
    headers: HeaderMap,
    Path(id): Path<String>,
    body: JsonBody<PromiseInput>,
) -> Result<Response, ApiError> {
    let movement = body.value.validate("").map_err(field_error)?;
    record(&state, &caller, &headers, &id, &body.raw, movement, true).await
}

#[derive(Serialize, ToSchema)]
pub struct PartyObligations {
    pub items: Vec<ObligationView>,
}

#[utoipa::path(get, path = "/v1/parties/{id}/obligations", tag = "obligations", params(("id" = String, Path), ("X-Purpose" = String, Header)),
    responses((status = 200, body = PartyObligations), (status = 404, body = ErrorBody), (status = 410, body = ErrorBody, description = "the party was erased")))]
pub async fn party_obligations(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Json<PartyObligations>, ApiError> {
    const ACTION: &str = "party.obligations.read";
    let party = crate::vault::gate::parse_party(&state, &caller, &id, ACTION).await?;
    let mut conn = state.db.reader().acquire().await?;
    let found = crate::vault::store::party_state(&mut conn, caller.tenant.as_str(), party.as_str()).await?;
    if found != Some(PartyState::Active) {
        drop(conn);
        return Err(crate::vault::gate::refuse(&state, &caller, ACTION, &party, found).await);
    }
    let items = store::for_party(&mut conn, caller.tenant.as_str(), party.as_str()).await?;
    drop(conn);
    let event = caller
        .event(ACTION, Some(party.to_string()), vec!["obligation".into()], Outcome::Allowed, 200)
        .about_parties([party.to_string()]);
    state.audit.append(&event, &state.now_db()).await?;
    Ok(Json(PartyObligations { items }))
}
