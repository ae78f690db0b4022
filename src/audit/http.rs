//! `/v1/audit`: checkpoints, the verifier key, proofs, search and regulator bundles.
//!
//! Proofs, search and exports are for the `compliance` and `regulator` roles; the latest
//! checkpoint and the public key are for any client of the tenant (they are what a
//! witness copies). Every call is itself audited, like any other access.

use super::log::{self as audit_log, LogError};
use super::record::RecordJson;
use super::search::{self, SearchFilter};
use super::Outcome;
use crate::access::{Purpose, Role};
use crate::api::auth::Caller;
use crate::api::error::{ApiError, ErrorBody};
use crate::api::AppState;
use axum::extract::{Path, Query, State};
use axum::http::header::CONTENT_TYPE;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine;
use serde::Serialize;
use std::collections::HashMap;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/v1/audit", get(search_records))
        .route("/v1/audit/checkpoints/latest", get(latest_checkpoint))
        .route("/v1/audit/checkpoints/{size}/cosignatures", post(super::cosign::add_cosignature))
        .route("/v1/audit/public-key", get(public_key))
        .route("/v1/audit/records/{index}/proof", get(record_proof))
        .route("/v1/audit/consistency", get(consistency))
        .route("/v1/audit/exports", post(export_bundle))
}

/// Roles that may read the log itself.
pub const AUDITORS: &[Role] = &[Role::Compliance, Role::Regulator];

impl From<LogError> for ApiError {
    fn from(error: LogError) -> Self {
        match error {
            LogError::NoCheckpoint => ApiError::NotFound { what: "checkpoint" },
            LogError::NoRecord(_) => ApiError::NotFound { what: "audit record" },
            LogError::BeyondCheckpoint(size) => ApiError::bad_request(
                "tree_size_beyond_checkpoint",
                format!("tree size {size} is larger than the latest checkpoint"),
            ),
            LogError::Merkle(e @ super::merkle::MerkleError::IndexOutOfRange { .. })
            | LogError::Merkle(e @ super::merkle::MerkleError::OldSizeTooLarge { .. }) => {
                ApiError::bad_request("invalid_proof_request", e.to_string())
            }
            LogError::Sql(e) => ApiError::from(e),
            other => ApiError::internal(other),
        }
    }
}

/// Audits a successful call to a `/v1/audit` endpoint.
async fn audited(
    state: &AppState,
    caller: &Caller,
    action: &'static str,
    parties: Vec<String>,
) -> Result<(), ApiError> {
    let event = caller.event(action, None, Vec::new(), Outcome::Allowed, 200).about_parties(parties);
    state.audit.append(&event, &state.now_db()).await?;
    Ok(())
}

fn text(body: String) -> Response {
    ([(CONTENT_TYPE, "text/plain; charset=utf-8")], body).into_response()
}

/// The latest signed checkpoint of the caller's tenant log, with any witness cosignatures.
#[utoipa::path(get, path = "/v1/audit/checkpoints/latest", tag = "audit", params(("X-Purpose" = String, Header)),
    responses((status = 200, description = "C2SP signed checkpoint note", body = String, content_type = "text/plain"),
              (status = 404, body = ErrorBody, description = "nothing sealed yet")))]
pub async fn latest_checkpoint(State(state): State<AppState>, caller: Caller) -> Result<Response, ApiError> {
    let mut conn = state.db.reader().acquire().await?;
    let checkpoint = audit_log::latest_checkpoint(&mut conn, caller.tenant.as_str()).await?;
    drop(conn);
    audited(&state, &caller, "audit.checkpoint", Vec::new()).await?;
    Ok(text(checkpoint.note))
}

/// The C2SP verifier key string that checks every checkpoint and bundle of this gateway.
#[utoipa::path(get, path = "/v1/audit/public-key", tag = "audit", params(("X-Purpose" = String, Header)),
    responses((status = 200, description = "verifier key `name+id+key`", body = String, content_type = "text/plain")))]
pub async fn public_key(State(state): State<AppState>, caller: Caller) -> Result<Response, ApiError> {
    audited(&state, &caller, "audit.public_key", Vec::new()).await?;
    Ok(text(format!("{}\n", state.audit.signer.verifier().to_text())))
}

/// An inclusion proof, with the record it proves.
#[derive(Serialize, utoipa::ToSchema)]
pub struct InclusionProof {
    pub index: u64,
    pub tree_size: u64,
    /// Base64 leaf hash of the record.
    pub leaf_hash: String,
    /// Base64 audit path, leaf to root (RFC 9162 §2.1.3).
    pub hashes: Vec<String>,
    pub record: RecordJson,
}

/// A consistency proof between two tree sizes.
#[derive(Serialize, utoipa::ToSchema)]
pub struct ConsistencyProof {
    pub from_size: u64,
    pub to_size: u64,
    /// Base64 proof hashes (RFC 9162 §2.1.4).
    pub hashes: Vec<String>,
}

fn parse_u64(params: &HashMap<String, String>, name: &'static str) -> Result<Option<u64>, ApiError> {
    params
        .get(name)
        .map(|v| {
            v.parse::<u64>().map_err(|_| {
                ApiError::bad_request("invalid_parameter", format!("`{name}` must be a non-negative integer"))
            })
        })
        .transpose()
}

fn only_known(params: &HashMap<String, String>, known: &[&str]) -> Result<(), ApiError> {
    match params.keys().find(|k| !known.contains(&k.as_str())) {
        Some(_) => Err(ApiError::bad_request(
            "unknown_parameter",
            format!("unknown query parameter; accepted: {}", known.join(", ")),
        )),
        None => Ok(()),
    }
}

/// Proves record `index` is in the tenant's log at `tree_size` (default: the latest checkpoint).
#[utoipa::path(get, path = "/v1/audit/records/{index}/proof", tag = "audit",
    params(("index" = u64, Path), ("tree_size" = Option<u64>, Query), ("X-Purpose" = String, Header)),
    responses((status = 200, body = InclusionProof), (status = 400, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn record_proof(
    State(state): State<AppState>,
    caller: Caller,
    Path(index): Path<String>,
    Query(params): Query<HashMap<String, String>>,
) -> Result<Json<InclusionProof>, ApiError> {
    caller.require_role(&state, AUDITORS, "audit.proof").await?;
    only_known(&params, &["tree_size"])?;
    let index: u64 = index.parse().map_err(|_| ApiError::NotFound { what: "audit record" })?;
    let log = caller.tenant.as_str();
    let mut conn = state.db.reader().acquire().await?;
    let size = match parse_u64(&params, "tree_size")? {
        Some(size) => size,
        None => audit_log::latest_checkpoint(&mut conn, log).await?.size,
    };
    let hashes = audit_log::inclusion_proof(&mut conn, log, index, size).await?;
    let stored = audit_log::record_at(&mut conn, log, index).await?;
    let prev = audit_log::prev_indices(&mut conn, log, &stored).await?;
    drop(conn);
    let parties = stored.record.parties.iter().map(|p| p.party.clone()).collect();
    audited(&state, &caller, "audit.proof", parties).await?;
    Ok(Json(InclusionProof {
        index,
        tree_size: size,
        leaf_hash: B64.encode(stored.record.leaf_hash()),
        hashes: hashes.iter().map(|h| B64.encode(h)).collect(),
        record: stored.record.to_json(Some(index), &prev),
    }))
}

/// Proves the tree at `from` is a prefix of the tree at `to`.
#[utoipa::path(get, path = "/v1/audit/consistency", tag = "audit",
    params(("from" = u64, Query), ("to" = u64, Query), ("X-Purpose" = String, Header)),
    responses((status = 200, body = ConsistencyProof), (status = 400, body = ErrorBody)))]
pub async fn consistency(
    State(state): State<AppState>,
    caller: Caller,
    Query(params): Query<HashMap<String, String>>,
) -> Result<Json<ConsistencyProof>, ApiError> {
    caller.require_role(&state, AUDITORS, "audit.consistency").await?;
    only_known(&params, &["from", "to"])?;
    let (Some(from), Some(to)) = (parse_u64(&params, "from")?, parse_u64(&params, "to")?) else {
        return Err(ApiError::bad_request("invalid_parameter", "`from` and `to` are both required"));
    };
    let mut conn = state.db.reader().acquire().await?;
    let hashes = audit_log::consistency_proof(&mut conn, caller.tenant.as_str(), from, to).await?;
    drop(conn);
    audited(&state, &caller, "audit.consistency", Vec::new()).await?;
    Ok(Json(ConsistencyProof { from_size: from, to_size: to, hashes: hashes.iter().map(|h| B64.encode(h)).collect() }))
}

/// A page of search results.
#[derive(Serialize, utoipa::ToSchema)]
pub struct SearchPage {
    pub records: Vec<RecordJson>,
    /// Pass as `cursor` for the next (older) page; null on the last page.
    pub next_cursor: Option<String>,
}

const SEARCH_PARAMS: &[&str] =
    &["party", "actor", "on_behalf_of", "action", "purpose", "outcome", "from", "to", "cursor", "limit"];

/// Searches the tenant's audit log, newest first.
#[utoipa::path(get, path = "/v1/audit", tag = "audit",
    params(("party" = Option<String>, Query), ("actor" = Option<String>, Query, description = "client id"),
           ("on_behalf_of" = Option<String>, Query), ("action" = Option<String>, Query), ("purpose" = Option<String>, Query),
           ("outcome" = Option<String>, Query, description = "allowed | denied | failed"),
           ("from" = Option<String>, Query, description = "RFC 3339, inclusive"), ("to" = Option<String>, Query, description = "RFC 3339, inclusive"),
           ("cursor" = Option<String>, Query), ("limit" = Option<u32>, Query, description = "1-500, default 100"), ("X-Purpose" = String, Header)),
    responses((status = 200, body = SearchPage), (status = 400, body = ErrorBody)))]
pub async fn search_records(
    State(state): State<AppState>,
    caller: Caller,
    Query(params): Query<HashMap<String, String>>,
) -> Result<Json<SearchPage>, ApiError> {
    caller.require_role(&state, AUDITORS, "audit.search").await?;
    only_known(&params, SEARCH_PARAMS)?;
    let filter = parse_filter(&params)?;
    let mut conn = state.db.reader().acquire().await?;
    let found = search::search(&mut conn, caller.tenant.as_str(), &filter).await.map_err(ApiError::internal)?;
    drop(conn);
    audited(&state, &caller, "audit.search", filter.party.iter().cloned().collect()).await?;
    let next_cursor =
        (found.len() == filter.limit as usize).then(|| found.last().map(|r| hex::encode(&r.record_id))).flatten();
    let records = found.iter().map(|r| r.record.to_json(r.leaf_index, &[])).collect();
    Ok(Json(SearchPage { records, next_cursor }))
}

fn parse_filter(params: &HashMap<String, String>) -> Result<SearchFilter, ApiError> {
    let bad = |name: &str, what: &str| ApiError::bad_request("invalid_parameter", format!("`{name}` must be {what}"));
    let token = |name: &'static str| -> Result<Option<String>, ApiError> {
        match params.get(name) {
            None => Ok(None),
            Some(v)
                if (1..=64).contains(&v.len())
                    && v.bytes().all(|b| b.is_ascii_alphanumeric() || b"._@-:".contains(&b)) =>
            {
                Ok(Some(v.clone()))
            }
            Some(_) => Err(bad(name, "1-64 characters of letters, digits, '.', '_', '@', ':' or '-'")),
        }
    };
    let time = |name: &'static str| -> Result<Option<String>, ApiError> {
        params.get(name).map(|v| crate::clock::db_time_of(v).map_err(|_| bad(name, "an RFC 3339 instant"))).transpose()
    };
    let purpose = token("purpose")?;
    if let Some(p) = &purpose {
        p.parse::<Purpose>().map_err(|_| bad("purpose", "a known purpose"))?;
    }
    let outcome = token("outcome")?;
    if outcome.as_deref().is_some_and(|o| !["allowed", "denied", "failed"].contains(&o)) {
        return Err(bad("outcome", "allowed, denied or failed"));
    }
    let limit = match params.get("limit") {
        None => 100,
        Some(v) => v.parse::<u32>().ok().filter(|l| (1..=500).contains(l)).ok_or_else(|| bad("limit", "1-500"))?,
    };
    let before = params
        .get("cursor")
        .map(|c| {
            hex::decode(c).ok().filter(|b| b.len() == 16).ok_or_else(|| bad("cursor", "a cursor from a previous page"))
        })
        .transpose()?;
    Ok(SearchFilter {
        party: token("party")?,
        actor: token("actor")?,
        on_behalf_of: token("on_behalf_of")?,
        action: token("action")?,
        purpose,
        outcome,
        from: time("from")?,
        to: time("to")?,
        before,
        limit,
    })
}

/// What to export.
#[derive(serde::Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ExportRequest {
    /// RFC 3339, inclusive.
    pub from: Option<String>,
    /// RFC 3339, inclusive.
    pub to: Option<String>,
    /// Export one party's records, with the chain that proves none was left out.
    pub party: Option<String>,
    /// A signed checkpoint note you already hold; the bundle then proves consistency with it.
    pub since_checkpoint: Option<String>,
}

/// A regulator bundle (uncompressed tar, `audit/FORMAT.md` §Bundle) of the tenant's log.
#[utoipa::path(post, path = "/v1/audit/exports", tag = "audit", request_body = ExportRequest, params(("X-Purpose" = String, Header)),
    responses((status = 200, description = "the bundle", content_type = "application/x-tar", body = Vec<u8>),
              (status = 400, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn export_bundle(
    State(state): State<AppState>,
    caller: Caller,
    body: crate::api::write::JsonBody<ExportRequest>,
) -> Result<Response, ApiError> {
    caller.require_role(&state, AUDITORS, "audit.export").await?;
    let request = body.value;
    let bound = |name: &'static str, value: &Option<String>| -> Result<Option<String>, ApiError> {
        value
            .as_deref()
            .map(|v| {
                crate::clock::db_time_of(v).map_err(|_| {
                    ApiError::bad_request("invalid_parameter", format!("`{name}` must be an RFC 3339 instant"))
                })
            })
            .transpose()
    };
    let bounds = (bound("from", &request.from)?, bound("to", &request.to)?);
    if let (Some(from), Some(to)) = &bounds {
        if from > to {
            return Err(ApiError::bad_request("invalid_parameter", "`from` must not be after `to`"));
        }
    }
    if let Some(party) = &request.party {
        crate::ids::PartyId::parse(party)
            .map_err(|_| ApiError::bad_request("invalid_parameter", "`party` must be a party id"))?;
    }
    let selection = super::bundle::Selection {
        log: caller.tenant.as_str().to_string(),
        from: bounds.0.clone(),
        to: bounds.1.clone(),
        party: request.party.clone(),
        export_request_id: caller.request_id.clone(),
    };
    audited(&state, &caller, "audit.export", request.party.iter().cloned().collect()).await?;
    state.audit.seal_now().await.map_err(ApiError::internal)?;
    let mut conn = state.db.reader().acquire().await?;
    let bundle =
        super::bundle::build(&mut conn, &state.audit.signer, &selection, bounds, request.since_checkpoint.as_deref())
            .await
            .map_err(bundle_error)?;
    Ok(([(CONTENT_TYPE, "application/x-tar")], bundle).into_response())
}

fn bundle_error(error: super::bundle::BundleError) -> ApiError {
    use super::bundle::BundleError;
    match error {
        BundleError::BadSince(_) | BundleError::SinceTooNew(_) => {
            ApiError::unprocessable("invalid_since_checkpoint", error.to_string())
        }
        BundleError::ExportNotSealed => ApiError::Unavailable,
        BundleError::Log(e) => ApiError::from(e),
        other => ApiError::internal(other),
    }
}
