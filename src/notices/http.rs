//! `/v1/notices` (create, edit a draft, publish, list, read) and
//! `/v1/parties/{id}/served-notices` (a notice was shown to a party). Every request is
//! role- and purpose-checked and leaves exactly one audit record; notice writes carry the
//! content hash as evidence, served events their own event hash.

use super::domain::{
    notice_name, NoticeContent, NoticeInput, NoticePatch, NoticeServed, NoticeServedJson, NoticeText, ServedInput,
};
use super::store::{self, Notice, NoticeView};
use super::{citable, NoticeError};
use crate::access::{Purpose, Role};
use crate::api::audited::{self, Target};
use crate::api::auth::Caller;
use crate::api::error::{ApiError, ErrorBody};
use crate::api::write::{begin_idempotent, Begun, JsonBody};
use crate::api::AppState;
use crate::audit::{self, Outcome};
use crate::clock::to_db_time;
use crate::consent::domain::{actor_id, hash, instant, reference, BadInput};
use crate::consent::ledger::{require_active, ConsentError};
use crate::ids::PartyId;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::Serialize;
use std::collections::HashMap;
use utoipa::ToSchema;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/v1/notices", get(list_notices).post(create_notice))
        .route("/v1/notices/{id}", get(get_notice).patch(patch_notice))
        .route("/v1/notices/{id}/publish", post(publish_notice))
        .route("/v1/parties/{id}/served-notices", post(serve_notice))
}

/// Who writes and publishes the tenant's notices.
pub const EDITORS: &[Role] = &[Role::Admin, Role::Compliance];
pub const EDIT_PURPOSES: &[Purpose] = &[Purpose::ComplianceReview, Purpose::Support];
/// Who reads notices: everyone who captures consents or checks them.
pub const READERS: &[Role] = &[Role::Admin, Role::Compliance, Role::Agent, Role::Ingest, Role::Regulator];
pub const READ_PURPOSES: &[Purpose] =
    &[Purpose::Collection, Purpose::Support, Purpose::Ingest, Purpose::ComplianceReview, Purpose::Dsr];
/// Who records that a notice was shown (the same callers who record consents).
pub const SERVERS: &[Role] = crate::consent::http::WRITERS;
pub const SERVE_PURPOSES: &[Purpose] = crate::consent::http::WRITE_PURPOSES;

impl From<NoticeError> for ApiError {
    fn from(error: NoticeError) -> Self {
        let message = error.to_string();
        match error {
            NoticeError::Invalid(bad) => ApiError::unprocessable(bad.code, bad.to_string()),
            NoticeError::Unknown => ApiError::unprocessable("unknown_notice", message),
            NoticeError::NotPublished => ApiError::unprocessable("notice_not_published", message),
            NoticeError::NotCovered => ApiError::unprocessable("notice_does_not_cover", message),
            NoticeError::PublishedAfter => ApiError::unprocessable("notice_published_after_capture", message),
            NoticeError::Immutable => ApiError::Conflict { code: "notice_immutable", message },
            NoticeError::Db(e) => ApiError::from(e),
        }
    }
}

/// Audits an allowed notice operation (writes pass their transaction).
fn notice_event(caller: &Caller, action: &'static str, notice: &Notice, status: u16) -> crate::audit::AuditEvent {
    let mut event = caller.event(action, Some(notice.id.clone()), vec!["notice".into()], Outcome::Allowed, status);
    event.evidence = Some(notice.content_hash);
    event
}

fn notice_id(id: &str) -> Result<String, ApiError> {
    uuid::Uuid::try_parse(id).map(|u| u.hyphenated().to_string()).map_err(|_| ApiError::NotFound { what: "notice" })
}

/// Creates a draft: version 1 of a new `name`, or the next version of an existing one.
#[utoipa::path(post, path = "/v1/notices", tag = "notices", request_body = NoticeInput,
    params(("X-Purpose" = String, Header), ("Idempotency-Key" = Option<String>, Header)),
    responses((status = 201, body = NoticeView), (status = 422, body = ErrorBody)))]
pub async fn create_notice(
    State(state): State<AppState>,
    caller: Caller,
    headers: HeaderMap,
    body: Result<JsonBody<NoticeInput>, ApiError>,
) -> Result<Response, ApiError> {
    const ACTION: &str = "notice.create";
    caller.require_access(&state, (EDITORS, EDIT_PURPOSES), ACTION).await?;
    match create(&state, &caller, &headers, body).await {
        Ok(response) => Ok(response),
        Err(error) => Err(audited::refusal(&state, &caller, ACTION, Target::Nothing, error).await),
    }
}

async fn create(
    state: &AppState,
    caller: &Caller,
    headers: &HeaderMap,
    body: Result<JsonBody<NoticeInput>, ApiError>,
) -> Result<Response, ApiError> {
    let body = body?;
    let input = &body.value;
    let name = notice_name(&input.name)?;
    let text = NoticeText {
        language: input.language.clone(),
        title: input.title.clone(),
        text: input.text.clone(),
        purposes: input.purposes.clone(),
        channels: input.channels.clone(),
    }
    .validate()?;
    let mut write = match begin_idempotent(state, caller, headers, "/v1/notices", &body.raw).await? {
        Begun::Replay(response) => return Ok(response),
        Begun::Fresh(write) => write,
    };
    let tenant = caller.tenant.as_str();
    state.db.advisory_lock(&mut write.tx, "notice", &format!("{tenant}/{name}")).await?;
    let now = state.now_db();
    let version = store::next_version(&mut write.tx, tenant, &name).await?;
    let content = NoticeContent {
        tenant: tenant.to_string(),
        name,
        version,
        language: text.language,
        title: text.title,
        text: text.text,
        purposes: text.purposes,
        channels: text.channels,
    };
    let notice = Notice {
        id: uuid::Uuid::now_v7().to_string(),
        content_hash: content.content_hash(),
        content,
        published: false,
        created_at: now.clone(),
        updated_at: now.clone(),
        published_at: None,
    };
    store::insert(&mut write.tx, &notice).await?;
    audit::append(&mut write.tx, &notice_event(caller, "notice.create", &notice, 201), &now).await?;
    write.finish(StatusCode::CREATED, &notice.view(true)).await
}

/// Changes a draft. A published notice never changes: 409 `notice_immutable`.
#[utoipa::path(patch, path = "/v1/notices/{id}", tag = "notices", request_body = NoticePatch,
    params(("id" = String, Path), ("X-Purpose" = String, Header)),
    responses((status = 200, body = NoticeView), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn patch_notice(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    body: Result<JsonBody<NoticePatch>, ApiError>,
) -> Result<Json<NoticeView>, ApiError> {
    const ACTION: &str = "notice.update";
    caller.require_access(&state, (EDITORS, EDIT_PURPOSES), ACTION).await?;
    let id = audited::or_refusal(&state, &caller, ACTION, Target::Nothing, notice_id(&id)).await?;
    let updated = async {
        let patch = body?.value;
        let mut tx = state.db.begin_write().await?;
        let mut notice =
            store::load(&mut tx, caller.tenant.as_str(), &id).await?.ok_or(ApiError::NotFound { what: "notice" })?;
        if notice.published {
            return Err(NoticeError::Immutable.into());
        }
        let c = &notice.content;
        let text = NoticeText {
            language: patch.language.unwrap_or_else(|| c.language.clone()),
            title: patch.title.unwrap_or_else(|| c.title.clone()),
            text: patch.text.unwrap_or_else(|| c.text.clone()),
            purposes: patch.purposes.unwrap_or_else(|| c.purposes.clone()),
            channels: patch.channels.unwrap_or_else(|| c.channels.clone()),
        }
        .validate()?;
        let now = state.now_db();
        notice.content = NoticeContent {
            language: text.language,
            title: text.title,
            text: text.text,
            purposes: text.purposes,
            channels: text.channels,
            ..notice.content
        };
        notice.content_hash = notice.content.content_hash();
        notice.updated_at = now.clone();
        if !store::update_draft(&mut tx, &notice).await? {
            return Err(NoticeError::Immutable.into());
        }
        audit::append(&mut tx, &notice_event(&caller, ACTION, &notice, 200), &now).await?;
        tx.commit().await.map_err(|_| ApiError::AuditUnavailable)?;
        Ok(notice.view(true))
    };
    match updated.await {
        Ok(view) => Ok(Json(view)),
        Err(error) => Err(audited::refusal(&state, &caller, ACTION, Target::Resource(&id), error).await),
    }
}

/// Publishes a draft; from then on it can be cited and never changes.
#[utoipa::path(post, path = "/v1/notices/{id}/publish", tag = "notices",
    params(("id" = String, Path), ("X-Purpose" = String, Header), ("Idempotency-Key" = Option<String>, Header)),
    responses((status = 200, body = NoticeView), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody, description = "already published")))]
pub async fn publish_notice(
    State(state): State<AppState>,
    caller: Caller,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    const ACTION: &str = "notice.publish";
    caller.require_access(&state, (EDITORS, EDIT_PURPOSES), ACTION).await?;
    let id = audited::or_refusal(&state, &caller, ACTION, Target::Nothing, notice_id(&id)).await?;
    let published = async {
        let route = format!("/v1/notices/{id}/publish");
        let mut write = match begin_idempotent(&state, &caller, &headers, &route, b"").await? {
            Begun::Replay(response) => return Ok(response),
            Begun::Fresh(write) => write,
        };
        let tenant = caller.tenant.as_str();
        let now = state.now_db();
        if !store::publish(&mut write.tx, tenant, &id, &now).await? {
            return Err(match store::load(&mut write.tx, tenant, &id).await? {
                Some(_) => NoticeError::Immutable.into(),
                None => ApiError::NotFound { what: "notice" },
            });
        }
        let notice = store::load(&mut write.tx, tenant, &id).await?.ok_or(ApiError::NotFound { what: "notice" })?;
        // Recorded at `now`, the notice's published_at: proof packages check the two agree.
        audit::append(&mut write.tx, &notice_event(&caller, ACTION, &notice, 200), &now).await?;
        write.finish(StatusCode::OK, &notice.view(true)).await
    };
    match published.await {
        Ok(response) => Ok(response),
        Err(error) => Err(audited::refusal(&state, &caller, ACTION, Target::Resource(&id), error).await),
    }
}

#[derive(Serialize, ToSchema)]
pub struct NoticeList {
    /// By name, then version; without their text.
    pub items: Vec<NoticeView>,
}

/// The tenant's notices; `name` and `state` (`draft` | `published`) filter.
#[utoipa::path(get, path = "/v1/notices", tag = "notices",
    params(("name" = Option<String>, Query), ("state" = Option<String>, Query), ("X-Purpose" = String, Header)),
    responses((status = 200, body = NoticeList), (status = 400, body = ErrorBody)))]
pub async fn list_notices(
    State(state): State<AppState>,
    caller: Caller,
    Query(params): Query<HashMap<String, String>>,
) -> Result<Json<NoticeList>, ApiError> {
    const ACTION: &str = "notice.read";
    caller.require_access(&state, (READERS, READ_PURPOSES), ACTION).await?;
    let listed = async {
        if params.keys().any(|k| k != "name" && k != "state") {
            return Err(ApiError::bad_request("unknown_parameter", "unknown query parameter; accepted: name, state"));
        }
        let published = match params.get("state").map(String::as_str) {
            None => None,
            Some("draft") => Some(false),
            Some("published") => Some(true),
            Some(_) => return Err(ApiError::bad_request("invalid_parameter", "`state` must be draft or published")),
        };
        let name = params.get("name").map(|n| notice_name(n)).transpose()?;
        let mut conn = state.db.reader().acquire().await?;
        Ok(store::list(&mut conn, caller.tenant.as_str(), name.as_deref(), published).await?)
    };
    let notices = audited::or_refusal(&state, &caller, ACTION, Target::Nothing, listed.await).await?;
    let event = caller.event(ACTION, None, vec!["notice".into()], Outcome::Allowed, 200);
    state.audit.append(&event, &state.now_db()).await?;
    Ok(Json(NoticeList { items: notices.iter().map(|n| n.view(false)).collect() }))
}

/// One notice version, with its text.
#[utoipa::path(get, path = "/v1/notices/{id}", tag = "notices", params(("id" = String, Path), ("X-Purpose" = String, Header)),
    responses((status = 200, body = NoticeView), (status = 404, body = ErrorBody)))]
pub async fn get_notice(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Json<NoticeView>, ApiError> {
    const ACTION: &str = "notice.read";
    caller.require_access(&state, (READERS, READ_PURPOSES), ACTION).await?;
    let loaded = async {
        let id = notice_id(&id)?;
        let mut conn = state.db.reader().acquire().await?;
        store::load(&mut conn, caller.tenant.as_str(), &id).await?.ok_or(ApiError::NotFound { what: "notice" })
    };
    match loaded.await {
        Ok(notice) => {
            let event = notice_event(&caller, ACTION, &notice, 200);
            state.audit.append(&event, &state.now_db()).await?;
            Ok(Json(notice.view(true)))
        }
        Err(error) => Err(audited::refusal(&state, &caller, ACTION, Target::Nothing, error).await),
    }
}

/// Records that a published notice was shown to the party (when, how, by whom).
#[utoipa::path(post, path = "/v1/parties/{id}/served-notices", tag = "notices", request_body = ServedInput,
    params(("id" = String, Path), ("X-Purpose" = String, Header), ("Idempotency-Key" = Option<String>, Header)),
    responses((status = 201, body = NoticeServedJson), (status = 404, body = ErrorBody), (status = 410, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn serve_notice(
    State(state): State<AppState>,
    caller: Caller,
    headers: HeaderMap,
    Path(id): Path<String>,
    body: Result<JsonBody<ServedInput>, ApiError>,
) -> Result<Response, ApiError> {
    const ACTION: &str = "notice.served";
    let party = crate::vault::gate::authorized_party(&state, &caller, (SERVERS, SERVE_PURPOSES), ACTION, &id).await?;
    match record_served(&state, &caller, &headers, &party, body).await {
        Ok(response) => Ok(response.into_response()),
        Err(error) => Err(audited::refusal(&state, &caller, ACTION, Target::Party(party.as_str()), error).await),
    }
}

async fn record_served(
    state: &AppState,
    caller: &Caller,
    headers: &HeaderMap,
    party: &PartyId,
    body: Result<JsonBody<ServedInput>, ApiError>,
) -> Result<Response, ApiError> {
    let body = body?;
    let input = &body.value;
    let notice_hash = hash(&input.notice_hash, "notice_hash")?;
    let served_at = instant(&input.served_at, "served_at")?;
    if served_at > state.clock.now() {
        return Err(BadInput::new("served_in_future", "served_at", "is later than the gateway's clock").into());
    }
    let served_by = actor_id(&input.served_by, "served_by")?;
    let source_reference = reference(&input.source_reference, "source_reference")?;
    let route = format!("/v1/parties/{party}/served-notices");
    let mut write = match begin_idempotent(state, caller, headers, &route, &body.raw).await? {
        Begun::Replay(response) => return Ok(response),
        Begun::Fresh(write) => write,
    };
    let tx = &mut write.tx;
    state.db.lock_party(tx, party.as_str()).await?;
    let tenant = caller.tenant.as_str();
    require_active(tx, tenant, party.as_str()).await.map_err(ApiError::from)?;
    let served_at = to_db_time(served_at);
    citable(tx, tenant, &notice_hash, None, &served_at).await?;
    let ctx = caller.context(state);
    let event = NoticeServed {
        id: uuid::Uuid::now_v7().to_string(),
        tenant: tenant.to_string(),
        party: party.to_string(),
        seq: store::next_served_seq(tx, party.as_str()).await?,
        notice_hash,
        channel: input.channel,
        method: input.method,
        served_at,
        served_by,
        source_reference,
        recorded_at: ctx.now.clone(),
        recorded_by: ctx.actor.client.as_ref().map(|c| c.as_str().to_string()),
    };
    store::insert_served(tx, &event).await?;
    let mut record = ctx.event("notice.served", party.as_str(), vec!["notice".into()], Some(event.sha256()));
    record.status = 201;
    audit::append(tx, &record, &ctx.now).await.map_err(ConsentError::from)?;
    write.finish(StatusCode::CREATED, &event.to_json()).await
}
