//! `/v1/dsr` reads: the list (and overdue view), one request with its history, the
//! consulta's dossier and the prueba de autorización's proof package. Lists and history
//! are for officers (`dsr`, `compliance_review`) and the regulator (`compliance_review`);
//! the dossier and the proof decrypt or prove personal data and are for officers with
//! purpose `dsr` only, after the requester's identity was verified. Each read is audited
//! before it is answered; the dossier's and the proof's records carry the SHA-256 of the
//! exact bytes sent, which is what answering the request names.

use super::http::{cutoff, target, OFFICERS, READERS, READ_PURPOSES, WRITE_PURPOSES};
use super::request::Request;
use super::store::{self, ListFilter};
use super::view::{RequestDetail, RequestList, RequestView, SettingsView};
use super::{dossier, DsrError, Kind, RegimeCode, State as RequestState};
use crate::api::audited::{self, Target};
use crate::api::auth::Caller;
use crate::api::error::{ApiError, ErrorBody};
use crate::api::AppState;
use crate::audit::Outcome;
use crate::clients::settings;
use crate::consent::http::prove;
use crate::ids::PartyId;
use axum::extract::{Path, Query, State};
use axum::http::header::CONTENT_TYPE;
use axum::http::HeaderValue;
use axum::response::{IntoResponse, Response};
use axum::Json;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use std::collections::{BTreeSet, HashMap};

const LIST_PARAMS: &[&str] = &["overdue", "state", "kind", "regime", "party", "assignee", "limit", "cursor"];

fn bad(name: &str, what: &str) -> ApiError {
    ApiError::bad_request("invalid_parameter", format!("`{name}` must be {what}"))
}

fn parse_list(params: &HashMap<String, String>, tenant: &str, cutoff: &str) -> Result<ListFilter, ApiError> {
    if params.keys().any(|k| !LIST_PARAMS.contains(&k.as_str())) {
        return Err(ApiError::bad_request(
            "invalid_parameter",
            format!("known parameters: {}", LIST_PARAMS.join(", ")),
        ));
    }
    let code = |name: &str| params.get(name).map(String::as_str);
    let overdue = match code("overdue") {
        None | Some("false") => false,
        Some("true") => true,
        Some(_) => return Err(bad("overdue", "true or false")),
    };
    let state: Option<RequestState> =
        code("state").map(|v| v.parse().map_err(|_| bad("state", "a request state"))).transpose()?;
    let kind: Option<Kind> = code("kind").map(|v| v.parse().map_err(|_| bad("kind", "a request kind"))).transpose()?;
    let regime: Option<RegimeCode> = code("regime")
        .map(|v| v.parse().map_err(|_| bad("regime", "co_1581, co_1266, mx_arco or eu_gdpr")))
        .transpose()?;
    let party = code("party")
        .map(|p| PartyId::parse(p).map(|p| p.to_string()).map_err(|_| bad("party", "a party id")))
        .transpose()?;
    let assignee = code("assignee")
        .map(|a| crate::consent::domain::actor_id(a, "assignee").map_err(|_| bad("assignee", "an officer id")))
        .transpose()?;
    let limit = match code("limit") {
        None => 100,
        Some(v) => v.parse::<u32>().ok().filter(|l| (1..=500).contains(l)).ok_or_else(|| bad("limit", "1-500"))?,
    };
    let after = code("cursor").map(decode_cursor).transpose()?;
    Ok(ListFilter {
        tenant: Some(tenant.to_string()),
        overdue_before: overdue.then(|| cutoff.to_string()),
        state,
        kind,
        regime,
        party,
        assignee,
        after,
        limit,
    })
}

fn cursor_of(request: &Request) -> String {
    let due = request.due_at.clone().unwrap_or_else(|| "9999-12-31T23:59:59.999999Z".into());
    URL_SAFE_NO_PAD.encode(format!("{due}|{}", request.id))
}

fn decode_cursor(text: &str) -> Result<(String, String), ApiError> {
    let invalid = || bad("cursor", "a cursor from a previous page");
    let bytes = URL_SAFE_NO_PAD.decode(text).map_err(|_| invalid())?;
    let text = String::from_utf8(bytes).map_err(|_| invalid())?;
    let (due, id) = text.split_once('|').ok_or_else(invalid)?;
    let ok = due.len() == 27 && uuid::Uuid::try_parse(id).is_ok();
    ok.then(|| (due.to_string(), id.to_string())).ok_or_else(invalid)
}

/// Requests of the tenant, soonest due first; `overdue=true` is the overdue view.
#[utoipa::path(get, path = "/v1/dsr", tag = "data-subject requests",
    params(("overdue" = Option<bool>, Query, description = "only requests past a due second now"),
           ("state" = Option<String>, Query), ("kind" = Option<String>, Query), ("regime" = Option<String>, Query),
           ("party" = Option<String>, Query), ("assignee" = Option<String>, Query),
           ("limit" = Option<u32>, Query, description = "1-500, default 100"), ("cursor" = Option<String>, Query),
           ("X-Purpose" = String, Header, description = "dsr or compliance_review")),
    responses((status = 200, body = RequestList), (status = 400, body = ErrorBody), (status = 403, body = ErrorBody)))]
pub async fn list_requests(
    State(state): State<AppState>,
    caller: Caller,
    Query(params): Query<HashMap<String, String>>,
) -> Result<Json<RequestList>, ApiError> {
    const ACTION: &str = "dsr.list";
    caller.require_access(&state, (READERS, READ_PURPOSES), ACTION).await?;
    let listed = async {
        let filter = parse_list(&params, caller.tenant.as_str(), &cutoff(&state))?;
        let mut conn = state.db.reader().acquire().await?;
        let found = store::list(&mut conn, &filter).await?;
        let tenant = settings::load(&mut conn, &caller.tenant).await?.unwrap_or_default();
        Ok::<_, ApiError>((filter, found, tenant))
    };
    let (filter, found, tenant) = audited::or_refusal(&state, &caller, ACTION, Target::Nothing, listed.await).await?;
    let parties: BTreeSet<String> = found.iter().map(|r| r.party.clone()).collect();
    let event = caller.event(ACTION, None, vec!["dsr_requests".into()], Outcome::Allowed, 200).about_parties(parties);
    state.audit.append(&event, &state.now_db()).await?;
    let cut = cutoff(&state);
    let next_cursor = (found.len() == filter.limit as usize).then(|| found.last().map(cursor_of)).flatten();
    Ok(Json(RequestList {
        tenant_settings: SettingsView {
            timezone: tenant.timezone.name().to_string(),
            mx_arco_days: tenant.mx_arco_days.as_str().to_string(),
        },
        requests: found.iter().map(|r| RequestView::of(r, &cut)).collect(),
        next_cursor,
    }))
}

/// Audits an allowed read about the request's party (resource: the request).
async fn audit_read(
    state: &AppState,
    caller: &Caller,
    action: &'static str,
    (id, party): (&str, &str),
    fields: Vec<String>,
    evidence: Option<crate::audit::merkle::Hash>,
) -> Result<(), ApiError> {
    let mut event =
        caller.event(action, Some(id.to_string()), fields, Outcome::Allowed, 200).about_parties([party.to_string()]);
    event.evidence = evidence;
    state.audit.append(&event, &state.now_db()).await?;
    Ok(())
}

/// One request with its whole history, each event checked against its stored hash.
#[utoipa::path(get, path = "/v1/dsr/{id}", tag = "data-subject requests",
    params(("id" = String, Path), ("X-Purpose" = String, Header, description = "dsr or compliance_review")),
    responses((status = 200, body = RequestDetail), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn get_request(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Json<RequestDetail>, ApiError> {
    const ACTION: &str = "dsr.read";
    caller.require_access(&state, (READERS, READ_PURPOSES), ACTION).await?;
    let (id, party) = target(&state, &caller, &id, ACTION).await?;
    let read = async {
        let mut conn = state.db.reader().acquire().await?;
        let request = store::load(&mut conn, caller.tenant.as_str(), &id).await?.ok_or(DsrError::NoRequest)?;
        let events = super::history(&mut conn, caller.tenant.as_str(), &id).await?;
        Ok::<_, ApiError>((request, events))
    };
    let (request, events) = audited::or_refusal(&state, &caller, ACTION, Target::Party(&party), read.await).await?;
    let fields = vec!["dsr_request".into(), "dsr_events".into()];
    audit_read(&state, &caller, ACTION, (&id, &party), fields, None).await?;
    Ok(Json(RequestDetail {
        request: RequestView::of(&request, &cutoff(&state)),
        events: events.iter().map(|e| e.to_json()).collect(),
    }))
}

/// The request, if it is of `kind` and its requester's identity was verified.
async fn answerable(state: &AppState, caller: &Caller, id: &str, kind: Kind) -> Result<Request, ApiError> {
    let mut conn = state.db.reader().acquire().await?;
    let request = store::load(&mut conn, caller.tenant.as_str(), id).await?.ok_or(DsrError::NoRequest)?;
    if request.kind != kind {
        return Err(DsrError::WrongKind { wanted: kind }.into());
    }
    if request.identity.is_none() {
        return Err(DsrError::IdentityNotVerified.into());
    }
    match crate::vault::store::party_state(&mut conn, caller.tenant.as_str(), &request.party).await? {
        Some(crate::vault::store::PartyState::Active) => Ok(request),
        Some(_) => Err(ApiError::party_erased()),
        None => Err(ApiError::NotFound { what: "party" }),
    }
}

fn json_bytes(bytes: Vec<u8>, header: &'static str, hash: &[u8; 32]) -> Response {
    let mut response = ([(CONTENT_TYPE, "application/json")], bytes).into_response();
    if let Ok(value) = HeaderValue::from_str(&hex::encode(hash)) {
        response.headers_mut().insert(header, value);
    }
    response
}

/// The consulta's dossier: everything held on the titular, decrypted for this answer.
/// `X-Custodia-Document-Sha256` is the SHA-256 of the body, the `dsr.dossier` audit
/// record's evidence, and what `answer` names.
#[utoipa::path(get, path = "/v1/dsr/{id}/dossier", tag = "data-subject requests",
    params(("id" = String, Path), ("X-Purpose" = String, Header, description = "dsr")),
    responses((status = 200, body = dossier::Dossier), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody),
        (status = 409, body = ErrorBody, description = "`action_not_applicable` (not a consulta), `identity_not_verified`"),
        (status = 410, body = ErrorBody)))]
pub async fn get_dossier(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    const ACTION: &str = "dsr.dossier";
    caller.require_access(&state, (OFFICERS, WRITE_PURPOSES), ACTION).await?;
    let (id, party) = target(&state, &caller, &id, ACTION).await?;
    let built = async {
        let request = answerable(&state, &caller, &id, Kind::Consulta).await?;
        let mut conn = state.db.reader().acquire().await?;
        let (dossier, released) =
            dossier::build(&mut conn, &state.keys, &state.access, caller.role, &request, &state.now_db()).await?;
        Ok::<_, ApiError>((serde_json::to_vec(&dossier).map_err(ApiError::internal)?, released))
    };
    let (bytes, mut fields) = audited::or_refusal(&state, &caller, ACTION, Target::Party(&party), built.await).await?;
    let hash = crate::keys::crypto::sha256(&bytes);
    fields.extend(
        ["consents", "flags", "obligations", "retention_holds", "dsr_requests", "audit_records"].map(String::from),
    );
    audit_read(&state, &caller, ACTION, (&id, &party), fields, Some(hash)).await?;
    Ok(json_bytes(bytes, "x-custodia-document-sha256", &hash))
}

/// The prueba de autorización's answer: the party's signed consent proof package
/// (Decreto 1377 art. 8), verified by the gateway before it is sent.
#[utoipa::path(get, path = "/v1/dsr/{id}/proof", tag = "data-subject requests",
    params(("id" = String, Path), ("X-Purpose" = String, Header, description = "dsr")),
    responses((status = 200, body = crate::consent::proof::package::ProofPackage), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody),
        (status = 409, body = ErrorBody, description = "`action_not_applicable` (not a prueba de autorización), `identity_not_verified`"),
        (status = 410, body = ErrorBody)))]
pub async fn get_proof(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    const ACTION: &str = "dsr.proof";
    caller.require_access(&state, (OFFICERS, WRITE_PURPOSES), ACTION).await?;
    let (id, party) = target(&state, &caller, &id, ACTION).await?;
    let built = async {
        let request = answerable(&state, &caller, &id, Kind::PruebaAutorizacion).await?;
        let package = prove(&state, &caller, &PartyId::from_db(request.party)).await?;
        serde_json::to_vec(&package).map_err(ApiError::internal)
    };
    let bytes = audited::or_refusal(&state, &caller, ACTION, Target::Party(&party), built.await).await?;
    let hash = crate::keys::crypto::sha256(&bytes);
    audit_read(&state, &caller, ACTION, (&id, &party), vec!["consents".into()], Some(hash)).await?;
    Ok(json_bytes(bytes, "x-custodia-document-sha256", &hash))
}
