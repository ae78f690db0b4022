//! HTTP handlers for parties: create, read, rectify, search, and NDJSON batch ingest.
//! Every handler audits before it answers: writes in their own transaction, reads in a
//! durable append after decrypting and before releasing anything.

use super::domain::{api_field_name, released_fields, visibilities, Invalid, NationalIdInput, PartyInput, PartyView};
use super::gate;
use super::ingest::{ingest_batch, validate_record, IngestContext, Outcome};
use super::patch::PartyPatch;
use super::pii::{Email, Jurisdiction, NationalId, PhoneE164};
use super::service::{decrypt_party, open_key, open_key_cached, open_party, VaultError};
use super::store;
use crate::access::Role;
use crate::api::auth::Caller;
use crate::api::error::{ApiError, ErrorBody};
use crate::api::write::{begin_idempotent, Begun, JsonBody};
use crate::api::AppState;
use crate::audit::freshness::SeenVersion;
use crate::audit::{self, Outcome as AuditOutcome};
use crate::ids::{PartyId, TenantId};
use crate::keys::KeyError;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/v1/parties", post(create_party))
        .route("/v1/parties/{id}", get(get_party).patch(patch_party))
        .route("/v1/parties:search", post(search_parties))
        .route("/v1/parties:batch", post(batch_parties))
}

const WRITERS: &[Role] = &[Role::Admin, Role::Ingest];
const RECTIFIERS: &[Role] = &[Role::Admin, Role::Compliance, Role::Agent];
const SEARCHERS: &[Role] = &[Role::Admin, Role::Compliance, Role::Agent, Role::Dialer];

impl From<Invalid> for ApiError {
    fn from(invalid: Invalid) -> Self {
        match invalid.code {
            "duplicate_party" | "duplicate_external_ref" | "duplicate_obligation" | "conflicting_party" => {
                ApiError::Conflict { code: invalid.code, message: invalid.to_string() }
            }
            code => ApiError::unprocessable(code, invalid.to_string()),
        }
    }
}

impl From<VaultError> for ApiError {
    fn from(err: VaultError) -> Self {
        match err {
            VaultError::Db(db) => ApiError::from(db),
            // Logged with party id and field where it was detected (service::integrity).
            VaultError::Integrity { .. } | VaultError::Key(KeyError::Integrity | KeyError::Retired(_)) => {
                ApiError::Integrity
            }
            other => ApiError::internal(other),
        }
    }
}

/// Reply to a create: the new party's id, its co-parties and obligations.
#[derive(Serialize, ToSchema)]
pub struct Created {
    pub id: String,
    pub co_party_ids: Vec<String>,
    pub obligation_ids: Vec<String>,
}

#[utoipa::path(post, path = "/v1/parties", tag = "parties", request_body = PartyInput,
    params(("X-Purpose" = String, Header, description = "Declared purpose"), ("Idempotency-Key" = Option<String>, Header, description = "Makes retries safe")),
    responses((status = 201, body = Created), (status = 409, body = ErrorBody, description = "national id or reference already used"), (status = 422, body = ErrorBody), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody)))]
pub async fn create_party(
    State(state): State<AppState>,
    caller: Caller,
    headers: HeaderMap,
    body: JsonBody<PartyInput>,
) -> Result<Response, ApiError> {
    caller.require_role(&state, WRITERS, "party.create").await?;
    let record = validate_record(&body.value, state.clock.now().date_naive(), 1)?;
    let mut write = match begin_idempotent(&state, &caller, &headers, "/v1/parties", &body.raw).await? {
        Begun::Replay(response) => return Ok(response),
        Begun::Fresh(write) => write,
    };
    let now = state.now_db();
    let ctx = ingest_context(&state, &caller, &now, "party.create", StatusCode::CREATED);
    let outcome = ingest_batch(&ctx, &mut write.tx, vec![record]).await.map_err(ingest_error)?;
    match outcome.into_iter().next().map(|(_, o)| o) {
        Some(Outcome::Created { party, co_parties, obligations }) => {
            let created = Created {
                id: party.to_string(),
                co_party_ids: co_parties.iter().map(ToString::to_string).collect(),
                obligation_ids: obligations.iter().map(ToString::to_string).collect(),
            };
            write.finish(StatusCode::CREATED, &created).await
        }
        Some(Outcome::Rejected(invalid)) => Err(invalid.into()),
        None => Err(ApiError::internal(anyhow::anyhow!("ingest returned no outcome"))),
    }
}

fn ingest_context<'a>(
    state: &'a AppState,
    caller: &'a Caller,
    now: &'a str,
    action: &'static str,
    status: StatusCode,
) -> IngestContext<'a> {
    IngestContext {
        keys: &state.keys,
        tenant: &caller.tenant,
        now,
        audit: caller.event(action, None, Vec::new(), AuditOutcome::Allowed, status.as_u16()),
    }
}

pub fn ingest_error(err: super::ingest::IngestError) -> ApiError {
    match err {
        super::ingest::IngestError::Audit(audit) => ApiError::from(audit),
        super::ingest::IngestError::Db(db) if crate::db::is_unique_violation(&db) => ApiError::Conflict {
            code: "duplicate_party",
            message: "a party with this national id or reference was created concurrently; retry".into(),
        },
        super::ingest::IngestError::Db(db) => ApiError::from(db),
        other => ApiError::internal(other),
    }
}

#[utoipa::path(get, path = "/v1/parties/{id}", tag = "parties", params(("id" = String, Path), ("X-Purpose" = String, Header)),
    responses((status = 200, body = PartyView), (status = 404, body = ErrorBody), (status = 410, body = ErrorBody, description = "`party_erased`: the party was erased"), (status = 503, body = ErrorBody, description = "audit unavailable")))]
pub async fn get_party(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Json<PartyView>, ApiError> {
    let id = PartyId::parse(&id).map_err(|_| ApiError::NotFound { what: "party" })?;
    let visibility = visibilities(&state.access, caller.role, caller.purpose);
    let forget = || state.parties.remove(&(caller.tenant.to_string(), id.to_string()));
    for attempt in 0..READ_ATTEMPTS {
        let from_memory = attempt == 0;
        let read = match read_view(&state, &caller.tenant, &id, &visibility, from_memory).await {
            Ok(read) => read,
            // A copy in memory that no longer opens (its key was rotated and retired since)
            // says nothing about the stored party: read it from the database first.
            Err(_) if from_memory => {
                forget();
                continue;
            }
            Err(error) => return Err(audit_failure(&state, &caller, "party.read", Some(id.to_string()), error).await),
        };
        let Some((view, seen)) = read else {
            // Not loaded: no such party, or an erased one (its key and fields are gone).
            let mut conn = state.db.reader().acquire().await?;
            let found = store::party_state(&mut conn, caller.tenant.as_str(), id.as_str()).await?;
            drop(conn);
            return Err(gate::refuse(&state, &caller, "party.read", &id, found).await);
        };
        let mut event = caller
            .event("party.read", Some(id.to_string()), released_fields(&visibility), AuditOutcome::Allowed, 200)
            .about_parties([id.to_string()]);
        event.seen_versions.push(seen);
        match state.audit.append(&event, &state.now_db()).await {
            Ok(()) => return Ok(Json(view)),
            // The party changed (on some instance) after it was read: nothing was recorded
            // or sent; read it again from the database.
            Err(audit::AuditUnavailable::StaleRead) => forget(),
            Err(error) => return Err(error.into()),
        }
    }
    Err(audit_failure(&state, &caller, "party.read", Some(id.to_string()), ApiError::Unavailable).await)
}

/// Reads of one party before giving up (503): the first may come from memory, each one
/// after it from the database, and each is answered only if the party did not change
/// before its audit record committed.
const READ_ATTEMPTS: usize = 3;

/// A read that failed on our side (an integrity error, say) is audited as `failed`, so a
/// tampering attempt leaves a trace; the answer stays the original error unless the
/// audit itself cannot be written.
async fn audit_failure(
    state: &AppState,
    caller: &Caller,
    action: &'static str,
    resource: Option<String>,
    error: ApiError,
) -> ApiError {
    let mut event = caller.event(action, resource, Vec::new(), AuditOutcome::Failed, error.status().as_u16());
    event.error_code = Some(error.code());
    match state.audit.append(&event, &state.now_db()).await {
        Ok(()) => error,
        Err(audit) => ApiError::from(audit),
    }
}

/// The party as `visibility` shows it, from memory when allowed and present, else from
/// the database, with the version it was built from (the audit transaction must still find
/// it: a read never answers with data a committed change has replaced).
async fn read_view(
    state: &AppState,
    tenant: &TenantId,
    id: &PartyId,
    visibility: &std::collections::BTreeMap<crate::access::PartyField, crate::access::Visibility>,
    from_memory: bool,
) -> Result<Option<(PartyView, SeenVersion)>, ApiError> {
    let key = (tenant.to_string(), id.to_string());
    let in_memory = state.parties.get(&key).filter(|_| from_memory);
    if let Some(stored) = &in_memory {
        // Served from memory without checking out a connection at all: handing one back
        // costs a round trip to the driver's thread, on every request.
        if let Some(party_key) = open_key_cached(&state.keys, tenant, stored)? {
            let party = decrypt_party(&party_key, tenant, stored, visibility)?;
            return Ok(Some(view_of(party, stored, visibility)));
        }
    }
    let mut conn = state.db.reader().acquire().await?;
    let stored = match in_memory {
        Some(stored) => stored,
        None => {
            let Some(stored) = store::load_party(&mut conn, tenant.as_str(), id.as_str()).await? else {
                return Ok(None);
            };
            let stored = std::sync::Arc::new(stored);
            state.parties.insert(key, stored.clone());
            stored
        }
    };
    let party = open_party(&state.keys, &mut conn, tenant, &stored, visibility).await?;
    Ok(Some(view_of(party, &stored, visibility)))
}

/// The view of a decrypted party and the stored version it came from.
fn view_of(
    party: super::domain::DecryptedParty,
    stored: &store::StoredParty,
    visibility: &std::collections::BTreeMap<crate::access::PartyField, crate::access::Visibility>,
) -> (PartyView, SeenVersion) {
    let seen = SeenVersion { party: stored.id.clone(), version: stored.version };
    (PartyView::build(party, visibility.clone()), seen)
}

#[utoipa::path(patch, path = "/v1/parties/{id}", tag = "parties", request_body = PartyPatch, params(("id" = String, Path), ("X-Purpose" = String, Header)),
    responses((status = 200, body = Updated), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody), (status = 410, body = ErrorBody, description = "`party_erased`: the party was erased"), (status = 422, body = ErrorBody)))]
pub async fn patch_party(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    body: JsonBody<PartyPatch>,
) -> Result<Response, ApiError> {
    caller.require_role(&state, RECTIFIERS, "party.update").await?;
    let id = PartyId::parse(&id).map_err(|_| ApiError::NotFound { what: "party" })?;
    let mut tx = state.db.begin_write().await?;
    state.db.lock_party(&mut tx, id.as_str()).await?;
    let found = store::party_state(&mut tx, caller.tenant.as_str(), id.as_str()).await?;
    if found != Some(store::PartyState::Active) {
        // Free the write connection before the refusal's record goes through the writer.
        tx.rollback().await?;
        return Err(gate::refuse(&state, &caller, "party.update", &id, found).await);
    }
    let stored = store::load_party(&mut tx, caller.tenant.as_str(), id.as_str())
        .await?
        .ok_or(ApiError::NotFound { what: "party" })?;
    let jurisdiction = Jurisdiction::parse(&stored.jurisdiction).map_err(ApiError::internal)?;
    let patch = body.value.validate(jurisdiction, state.clock.now().date_naive())?;
    let key = open_key(&state.keys, &mut tx, &caller.tenant, &stored).await?;
    let indexer = state.keys.blind_indexer_for_write(&mut tx, &caller.tenant).await.map_err(ApiError::internal)?;
    let rows = patch.seal(&key, &indexer, &caller.tenant, &id).map_err(ApiError::internal)?;
    let touched = patch.touched();
    check_identity_free(&mut tx, &caller.tenant, &id, &rows).await?;
    for field in &touched {
        store::clear_field(&mut tx, id.as_str(), field).await?;
    }
    rows.insert(&mut tx).await.map_err(|e| {
        if crate::db::is_unique_violation(&e) {
            duplicate()
        } else {
            ApiError::from(e)
        }
    })?;
    let timezone = patch.timezone.as_ref().map(|t| t.name().to_string()).unwrap_or(stored.timezone);
    let now = state.now_db();
    store::update_party_row(&mut tx, id.as_str(), &timezone, &now).await?;
    let mut fields: Vec<String> = touched.iter().map(|f| api_field_name(f).to_string()).collect();
    if patch.timezone.is_some() {
        fields.push("timezone".into());
    }
    audit::append(
        &mut tx,
        &caller
            .event("party.update", Some(id.to_string()), fields.clone(), AuditOutcome::Allowed, 200)
            .about_parties([id.to_string()]),
        &now,
    )
    .await?;
    tx.commit().await.map_err(|_| ApiError::AuditUnavailable)?;
    state.parties.remove(&(caller.tenant.to_string(), id.to_string()));
    Ok(Json(Updated { id: id.to_string(), updated: fields }).into_response())
}

fn duplicate() -> ApiError {
    ApiError::Conflict {
        code: "duplicate_party",
        message: "another party already has this national id or external_ref".into(),
    }
}

/// Refuses a rectification that would give this party another party's identity.
async fn check_identity_free(
    tx: &mut crate::db::Conn,
    tenant: &TenantId,
    id: &PartyId,
    rows: &store::PartyRows,
) -> Result<(), ApiError> {
    let digests: Vec<(&str, &[u8])> = rows
        .indexes
        .iter()
        .filter_map(|row| match (&row[1], &row[2]) {
            (crate::db::SqlValue::Text(kind), crate::db::SqlValue::Blob(d))
                if kind == "national_id" || kind == "external_ref" =>
            {
                Some((kind.as_str(), d.as_slice()))
            }
            _ => None,
        })
        .collect();
    let taken = store::existing_identities(tx, tenant.as_str(), &digests).await?;
    if taken.values().any(|owner| owner != id.as_str()) {
        return Err(duplicate());
    }
    Ok(())
}

#[derive(Serialize, ToSchema)]
pub struct Updated {
    pub id: String,
    /// Names of the fields replaced.
    pub updated: Vec<String>,
}

/// Exactly one identifier to look up; values travel in the body, never in the URL.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SearchRequest {
    /// Jurisdiction used to read national numbers and id types; defaults to CO.
    #[serde(default)]
    pub jurisdiction: Option<String>,
    #[serde(default)]
    pub external_ref: Option<String>,
    #[serde(default)]
    pub national_id: Option<NationalIdInput>,
    #[serde(default)]
    pub phone: Option<String>,
    #[serde(default)]
    pub email: Option<String>,
}

#[derive(Serialize, ToSchema)]
pub struct SearchResults {
    pub results: Vec<PartyView>,
}

const SEARCH_LIMIT: i64 = 50;

#[utoipa::path(post, path = "/v1/parties:search", tag = "parties", request_body = SearchRequest, params(("X-Purpose" = String, Header)),
    responses((status = 200, body = SearchResults), (status = 422, body = ErrorBody)))]
pub async fn search_parties(
    State(state): State<AppState>,
    caller: Caller,
    body: JsonBody<SearchRequest>,
) -> Result<Json<SearchResults>, ApiError> {
    caller.require_role(&state, SEARCHERS, "party.search").await?;
    let (kind, canonical) = search_key(&body.value)?;
    let visibility = visibilities(&state.access, caller.role, caller.purpose);
    let views = match find_views(&state, &caller.tenant, kind, &canonical, &visibility).await {
        Ok(views) => views,
        Err(error) => return Err(audit_failure(&state, &caller, "party.search", None, error).await),
    };
    let ids: Vec<&str> = views.iter().map(|v| v.id.as_str()).collect();
    let mut fields = released_fields(&visibility);
    fields.insert(0, format!("by:{kind}"));
    let event = caller
        .event("party.search", None, fields, AuditOutcome::Allowed, 200)
        .about_parties(ids.iter().map(|id| id.to_string()));
    state.audit.append(&event, &state.now_db()).await?;
    Ok(Json(SearchResults { results: views }))
}

async fn find_views(
    state: &AppState,
    tenant: &TenantId,
    kind: &str,
    canonical: &str,
    visibility: &std::collections::BTreeMap<crate::access::PartyField, crate::access::Visibility>,
) -> Result<Vec<PartyView>, ApiError> {
    let mut conn = state.db.reader().acquire().await?;
    let indexer = state.keys.blind_indexer(&mut conn, tenant).await.map_err(ApiError::internal)?;
    let digests: Vec<Vec<u8>> = indexer.digests(kind, canonical).into_iter().map(|(_, d)| d).collect();
    let ids = store::find_by_digests(&mut conn, tenant.as_str(), kind, &digests, SEARCH_LIMIT).await?;
    let mut views = Vec::with_capacity(ids.len());
    for id in ids {
        // An erased party has no key row left: it is not loaded, so never in the results.
        if let Some(stored) = store::load_party(&mut conn, tenant.as_str(), &id).await? {
            let party = open_party(&state.keys, &mut conn, tenant, &stored, visibility).await?;
            views.push(PartyView::build(party, visibility.clone()));
        }
    }
    Ok(views)
}

fn search_key(request: &SearchRequest) -> Result<(&'static str, String), ApiError> {
    use super::domain::stored;
    let jurisdiction = match &request.jurisdiction {
        Some(j) => Jurisdiction::parse(j).map_err(|_| {
            ApiError::unprocessable("unknown_jurisdiction", "jurisdiction must be one of CO, MX, US, EU")
        })?,
        None => Jurisdiction::CO,
    };
    let given = [
        request.external_ref.is_some(),
        request.national_id.is_some(),
        request.phone.is_some(),
        request.email.is_some(),
    ];
    if given.iter().filter(|g| **g).count() != 1 {
        return Err(ApiError::unprocessable(
            "one_identifier_required",
            "give exactly one of external_ref, national_id, phone, email",
        ));
    }
    let invalid = |e: super::pii::PiiError| ApiError::from(Invalid::from(e));
    if let Some(reference) = &request.external_ref {
        return Ok((stored::EXTERNAL_REF, super::domain::external_ref_canonical(reference)));
    }
    if let Some(id) = &request.national_id {
        return Ok((
            stored::NATIONAL_ID,
            NationalId::parse(jurisdiction, &id.id_type, &id.number, "national_id").map_err(invalid)?.canonical(),
        ));
    }
    if let Some(phone) = &request.phone {
        return Ok((stored::PHONE, PhoneE164::parse(jurisdiction, phone, "phone").map_err(invalid)?.canonical()));
    }
    let email = request.email.as_deref().unwrap_or_default();
    Ok((stored::EMAIL, Email::parse(email, "email").map_err(invalid)?.canonical()))
}

/// Per-line result of a batch: created ids or the error (code, field — never the value).
#[derive(Serialize, ToSchema)]
pub struct BatchLine {
    pub line: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<LineError>,
}

#[derive(Serialize, ToSchema)]
pub struct LineError {
    pub code: String,
    pub field: String,
    pub message: String,
}

#[derive(Serialize, ToSchema)]
pub struct BatchReport {
    pub created: usize,
    pub rejected: usize,
    pub lines: Vec<BatchLine>,
}

#[utoipa::path(post, path = "/v1/parties:batch", tag = "parties", request_body(content = String, content_type = "application/x-ndjson", description = "One PartyInput JSON object per line"),
    params(("X-Purpose" = String, Header)), responses((status = 200, body = BatchReport), (status = 413, body = ErrorBody), (status = 415, body = ErrorBody)))]
pub async fn batch_parties(
    State(state): State<AppState>,
    caller: Caller,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, ApiError> {
    caller.require_role(&state, WRITERS, "party.import").await?;
    let content_type = headers.get(axum::http::header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).unwrap_or_default();
    if !content_type.starts_with("application/x-ndjson") {
        return Err(ApiError::UnsupportedMediaType { expected: "application/x-ndjson" });
    }
    let today = state.clock.now().date_naive();
    let mut lines = Vec::new();
    let mut records = Vec::new();
    for (index, line) in body.split(|b| *b == b'\n').enumerate() {
        let number = index as u64 + 1;
        if line.iter().all(u8::is_ascii_whitespace) {
            continue;
        }
        let parsed = crate::api::write::parse_json::<PartyInput>(line)
            .map_err(|e| Invalid::new(e.code(), "", e.to_string()))
            .and_then(|input| validate_record(&input, today, number));
        match parsed {
            Ok(record) => records.push(record),
            Err(invalid) => lines.push(rejected_line(number, invalid)),
        }
    }
    let mut write = match begin_idempotent(&state, &caller, &headers, "/v1/parties:batch", &body).await? {
        Begun::Replay(response) => return Ok(response),
        Begun::Fresh(write) => write,
    };
    let now = state.now_db();
    let ctx = ingest_context(&state, &caller, &now, "party.import", StatusCode::CREATED);
    for (line, outcome) in ingest_batch(&ctx, &mut write.tx, records).await.map_err(ingest_error)? {
        lines.push(match outcome {
            Outcome::Created { party, .. } => BatchLine { line, id: Some(party.to_string()), error: None },
            Outcome::Rejected(invalid) => rejected_line(line, invalid),
        });
    }
    lines.sort_by_key(|l| l.line);
    let created = lines.iter().filter(|l| l.id.is_some()).count();
    write.finish(StatusCode::OK, &BatchReport { created, rejected: lines.len() - created, lines }).await
}

fn rejected_line(line: u64, invalid: Invalid) -> BatchLine {
    BatchLine {
        line,
        id: None,
        error: Some(LineError { code: invalid.code.to_string(), field: invalid.field, message: invalid.message }),
    }
}
