//! The shape every writing endpoint shares: one transaction holding the idempotency
//! claim, the change, its audit record and the stored response; commit, then answer.
//! A 4xx from the work rolls everything back, so bad input writes nothing.

use super::auth::Caller;
use super::error::ApiError;
use super::AppState;
use crate::db::Tx;
use crate::idempotency::{self, Claim, IdempotencyError, IdempotencyKey};
use axum::body::Bytes;
use axum::extract::{FromRequest, Request};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::de::DeserializeOwned;
use serde::Serialize;

/// A JSON body kept with its raw bytes (the bytes feed the idempotency fingerprint).
pub struct JsonBody<T> {
    pub value: T,
    pub raw: Bytes,
}

impl<S: Send + Sync, T: DeserializeOwned> FromRequest<S> for JsonBody<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, ApiError> {
        let is_json =
            req.headers().get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).is_some_and(|v| {
                v.split(';').next().is_some_and(|m| m.trim().eq_ignore_ascii_case("application/json"))
            });
        if !is_json {
            return Err(ApiError::UnsupportedMediaType { expected: "application/json" });
        }
        let raw = Bytes::from_request(req, state).await.map_err(|r| {
            if r.status() == StatusCode::PAYLOAD_TOO_LARGE {
                ApiError::PayloadTooLarge
            } else {
                ApiError::bad_request("invalid_body", "could not read request body")
            }
        })?;
        let value = parse_json(&raw)?;
        Ok(Self { value, raw })
    }
}

/// Parses JSON with our error codes: syntax → 400 `malformed_json`, shape → 422 `invalid_body`.
pub fn parse_json<T: DeserializeOwned>(raw: &[u8]) -> Result<T, ApiError> {
    serde_json::from_slice(raw).map_err(|err| {
        let message = super::error::describe_serde_error(&err.to_string());
        match err.classify() {
            serde_json::error::Category::Data => ApiError::unprocessable("invalid_body", message),
            _ => ApiError::bad_request("malformed_json", format!("request body is not valid JSON: {message}")),
        }
    })
}

impl From<IdempotencyError> for ApiError {
    fn from(err: IdempotencyError) -> Self {
        match err {
            IdempotencyError::BadKey => ApiError::bad_request("invalid_idempotency_key", err.to_string()),
            IdempotencyError::Reused => ApiError::unprocessable("idempotency_key_reused", err.to_string()),
            IdempotencyError::Expired => ApiError::unprocessable("idempotency_key_expired", err.to_string()),
            IdempotencyError::Db(db) => ApiError::from(db),
        }
    }
}

/// How a writing request starts: a replay of a stored response, or a fresh transaction.
pub enum Begun {
    Replay(Response),
    Fresh(WriteTx),
}

/// A write transaction that carries the idempotency claim; [`WriteTx::finish`] stores
/// the response with the change and commits. Dropping it rolls everything back.
pub struct WriteTx {
    pub tx: Tx,
    key: Option<IdempotencyKey>,
    tenant: String,
    client: String,
}

/// Opens the write transaction and claims the request's `Idempotency-Key`, if any.
pub async fn begin_idempotent(
    state: &AppState,
    caller: &Caller,
    headers: &HeaderMap,
    route: &str,
    raw: &[u8],
) -> Result<Begun, ApiError> {
    let key = IdempotencyKey::from_headers(headers)?;
    let mut tx = state.db.begin_write().await?;
    let scope = (caller.tenant.as_str(), caller.client.as_str());
    if let Some(key) = &key {
        let (version, fingerprint_key) =
            state.keys.fingerprint_key(&mut tx, &caller.tenant).await.map_err(ApiError::internal)?;
        let fingerprint = idempotency::fingerprint(&fingerprint_key, "POST", route, raw);
        let claim = idempotency::begin(&mut tx, scope, key, (version, &fingerprint), &state.now_db()).await?;
        if let Claim::Earlier(earlier) = claim {
            // A first use during an index rotation was keyed by the version active then.
            let expected = if earlier.fingerprint_version == version {
                Some(fingerprint)
            } else {
                let old = state.keys.fingerprint_key_of(&mut tx, &caller.tenant, earlier.fingerprint_version).await;
                old.map_err(ApiError::internal)?.map(|k| idempotency::fingerprint(&k, "POST", route, raw))
            };
            let stored = earlier.replay(expected.as_deref())?;
            tx.rollback().await?;
            return Ok(Begun::Replay(json_response(stored.status, stored.body, true)));
        }
    }
    Ok(Begun::Fresh(WriteTx { tx, key, tenant: scope.0.to_string(), client: scope.1.to_string() }))
}

impl WriteTx {
    /// Stores the response under the idempotency key, commits, and answers.
    pub async fn finish<B: Serialize>(mut self, status: StatusCode, body: &B) -> Result<Response, ApiError> {
        let bytes = serde_json::to_vec(body).map_err(ApiError::internal)?;
        if let Some(key) = &self.key {
            idempotency::complete(&mut self.tx, (&self.tenant, &self.client), key, status, &bytes).await?;
        }
        // The audit record is in this transaction: if it does not commit, nothing is released.
        self.tx.commit().await.map_err(|_| ApiError::AuditUnavailable)?;
        Ok(json_response(status, bytes, false))
    }
}

fn json_response(status: StatusCode, body: Vec<u8>, replayed: bool) -> Response {
    let mut response =
        (status, [(header::CONTENT_TYPE, HeaderValue::from_static("application/json"))], body).into_response();
    if replayed {
        response.headers_mut().insert("idempotent-replayed", HeaderValue::from_static("true"));
    }
    response
}
