//! `Idempotency-Key` for POSTs: the key and the response are stored in the same
//! transaction as the write, so a retry gets the stored response with no second write
//! and no second audit record.
//!
//! The key row is inserted *first* in the transaction. On PostgreSQL a concurrent retry
//! blocks on that row until the first attempt commits or rolls back, then sees the
//! stored response; on SQLite writers are serialised anyway. Reusing a key with a
//! different body is refused (422). The stored fingerprint is an HMAC under a subkey of
//! the tenant's active index-key version (stored with it), so request bodies (which hold
//! personal data) cannot be guessed back from it, and once that version is retired no one
//! can test a guess against it at all; a retry whose first use predates the retirement is
//! refused (422 `idempotency_key_expired`) rather than replayed unchecked or run twice.
//! Stored response bodies never contain personal data.

use crate::db::Conn;
use crate::keys::crypto::Key256;
use axum::http::{HeaderMap, StatusCode};
use sqlx::Row;

pub const HEADER: &str = "idempotency-key";

#[derive(Debug, thiserror::Error)]
pub enum IdempotencyError {
    #[error("Idempotency-Key must be 1-128 visible ASCII characters")]
    BadKey,
    #[error("this Idempotency-Key was already used with a different request")]
    Reused,
    #[error("this Idempotency-Key was used before the tenant's index key was rotated and can no longer be checked; confirm the first request's outcome and use a new key")]
    Expired,
    #[error(transparent)]
    Db(#[from] sqlx::Error),
}

/// A validated key from the request headers.
#[derive(Clone, Debug)]
pub struct IdempotencyKey(String);

impl IdempotencyKey {
    pub fn from_headers(headers: &HeaderMap) -> Result<Option<Self>, IdempotencyError> {
        let Some(value) = headers.get(HEADER) else { return Ok(None) };
        let text = value.to_str().map_err(|_| IdempotencyError::BadKey)?;
        if (1..=128).contains(&text.len()) && text.bytes().all(|b| b.is_ascii_graphic()) {
            Ok(Some(Self(text.to_string())))
        } else {
            Err(IdempotencyError::BadKey)
        }
    }
}

/// A response stored for replay.
pub struct StoredResponse {
    pub status: StatusCode,
    pub body: Vec<u8>,
}

/// What `begin` found.
pub enum Claim {
    /// First use: go on with the write, then call [`complete`].
    Fresh,
    /// The key was used before: a retry if [`Earlier::replay`] accepts the fingerprint.
    Earlier(Earlier),
}

/// A key's first use, as stored: its fingerprint, the index-key version that keyed it, and
/// the response to replay.
pub struct Earlier {
    pub fingerprint_version: u32,
    fingerprint: Vec<u8>,
    response: StoredResponse,
}

impl Earlier {
    /// The stored response, if `fingerprint` (computed under `fingerprint_version`, or
    /// None when that version is retired and nothing can be checked any more) matches.
    pub fn replay(self, fingerprint: Option<&[u8]>) -> Result<StoredResponse, IdempotencyError> {
        match fingerprint {
            None => Err(IdempotencyError::Expired),
            Some(f) if f == self.fingerprint.as_slice() => Ok(self.response),
            Some(_) => Err(IdempotencyError::Reused),
        }
    }
}

/// Keyed fingerprint of method, path and body.
pub fn fingerprint(key: &Key256, method: &str, path: &str, body: &[u8]) -> Vec<u8> {
    let mut message = Vec::with_capacity(body.len() + path.len() + 8);
    message.extend_from_slice(&crate::keys::crypto::associated_data(&[method, path]));
    message.extend_from_slice(body);
    key.hmac(&message).to_vec()
}

/// Claims the key inside the caller's transaction, or finds its earlier use.
/// `fingerprint` is (index-key version, fingerprint under it).
pub async fn begin(
    conn: &mut Conn,
    scope: (&str, &str),
    key: &IdempotencyKey,
    fingerprint: (u32, &[u8]),
    now: &str,
) -> Result<Claim, IdempotencyError> {
    let (tenant, client) = scope;
    let insert = "INSERT INTO idempotency_keys (tenant_id, client_id, key, fingerprint, fingerprint_version, created_at) VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (tenant_id, client_id, key) DO NOTHING";
    let inserted = sqlx::query(insert)
        .bind(tenant)
        .bind(client)
        .bind(&key.0)
        .bind(fingerprint.1.to_vec())
        .bind(i64::from(fingerprint.0))
        .bind(now)
        .execute(&mut *conn)
        .await?;
    if inserted.rows_affected() == 1 {
        return Ok(Claim::Fresh);
    }
    let row = sqlx::query(
        "SELECT fingerprint, fingerprint_version, status, body FROM idempotency_keys WHERE tenant_id = $1 AND client_id = $2 AND key = $3",
    )
    .bind(tenant)
    .bind(client)
    .bind(&key.0)
    .fetch_one(&mut *conn)
    .await?;
    let status: Option<i64> = row.try_get("status")?;
    let body: Option<Vec<u8>> = row.try_get("body")?;
    let status = status
        .and_then(|s| u16::try_from(s).ok())
        .and_then(|s| StatusCode::from_u16(s).ok())
        .unwrap_or(StatusCode::CONFLICT);
    Ok(Claim::Earlier(Earlier {
        fingerprint_version: u32::try_from(row.try_get::<i64, _>("fingerprint_version")?).unwrap_or(u32::MAX),
        fingerprint: row.try_get("fingerprint")?,
        response: StoredResponse { status, body: body.unwrap_or_default() },
    }))
}

/// Stores the response of the write that claimed the key (same transaction).
pub async fn complete(
    conn: &mut Conn,
    scope: (&str, &str),
    key: &IdempotencyKey,
    status: StatusCode,
    body: &[u8],
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "UPDATE idempotency_keys SET status = $1, body = $2 WHERE tenant_id = $3 AND client_id = $4 AND key = $5",
    )
    .bind(i64::from(status.as_u16()))
    .bind(body.to_vec())
    .bind(scope.0)
    .bind(scope.1)
    .bind(&key.0)
    .execute(&mut *conn)
    .await?;
    Ok(())
}
