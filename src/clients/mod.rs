//! Tenants and their API clients.
//!
//! Owns creating a tenant (with its keys), issuing API tokens, listing and revoking
//! clients, and resolving a presented token to its client. A token is 256 random bits
//! shown once; only its SHA-256 is stored, so a database leak yields no usable token and
//! a lookup costs one indexed query (no Argon2 on the request path: the token's entropy,
//! not a slow hash, is what protects it).

pub mod settings;

use crate::access::Role;
use crate::db::Conn;
use crate::ids::{ClientId, TenantId};
use crate::keys::crypto::{random_bytes, sha256};
use crate::keys::{KeyError, KeyService};
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use secrecy::{ExposeSecret, SecretString};
use sqlx::Row;

const TOKEN_PREFIX: &str = "cust_";

#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    #[error("tenant {0} does not exist")]
    UnknownTenant(TenantId),
    #[error("tenant {0} already exists")]
    TenantExists(TenantId),
    #[error("client {0} does not exist")]
    UnknownClient(String),
    #[error(transparent)]
    Key(#[from] KeyError),
    #[error(transparent)]
    Db(#[from] sqlx::Error),
}

/// A client as the authentication layer sees it.
#[derive(Clone, Debug)]
pub struct AuthenticatedClient {
    pub id: ClientId,
    pub tenant: TenantId,
    pub role: Role,
}

/// A client as `clients list` shows it (never the token).
#[derive(Debug, serde::Serialize)]
pub struct ClientSummary {
    pub id: String,
    pub tenant: String,
    pub name: String,
    pub role: String,
    pub created_at: String,
    pub revoked_at: Option<String>,
}

/// A newly issued token: printed once, then only its hash exists.
pub struct IssuedToken {
    pub client_id: ClientId,
    pub token: SecretString,
}

/// The SHA-256 under which a token is stored and looked up.
pub fn token_hash(token: &str) -> [u8; 32] {
    sha256(token.as_bytes())
}

pub async fn tenant_exists(conn: &mut Conn, tenant: &TenantId) -> Result<bool, sqlx::Error> {
    let found: Option<String> = sqlx::query_scalar("SELECT id FROM tenants WHERE id = $1")
        .bind(tenant.as_str())
        .fetch_optional(&mut *conn)
        .await?;
    Ok(found.is_some())
}

/// Creates a tenant and its data and blind-index keys in the caller's transaction.
pub async fn create_tenant(
    conn: &mut Conn,
    keys: &KeyService,
    tenant: &TenantId,
    name: &str,
    now: &str,
) -> Result<(), ClientError> {
    if tenant_exists(conn, tenant).await? {
        return Err(ClientError::TenantExists(tenant.clone()));
    }
    sqlx::query("INSERT INTO tenants (id, name, created_at) VALUES ($1, $2, $3)")
        .bind(tenant.as_str())
        .bind(name)
        .bind(now)
        .execute(&mut *conn)
        .await?;
    keys.create_tenant_keys(conn, tenant, now).await?;
    Ok(())
}

/// Issues a new client with a fresh token, in the caller's transaction.
pub async fn create_client(
    conn: &mut Conn,
    tenant: &TenantId,
    role: Role,
    name: &str,
    now: &str,
) -> Result<IssuedToken, ClientError> {
    if !tenant_exists(conn, tenant).await? {
        return Err(ClientError::UnknownTenant(tenant.clone()));
    }
    let bytes = random_bytes::<32>().map_err(|_| KeyError::Integrity)?;
    let token = format!("{TOKEN_PREFIX}{}", URL_SAFE_NO_PAD.encode(bytes));
    let id = ClientId::new();
    sqlx::query(
        "INSERT INTO api_clients (id, tenant_id, name, role, token_hash, created_at) VALUES ($1, $2, $3, $4, $5, $6)",
    )
    .bind(id.as_str())
    .bind(tenant.as_str())
    .bind(name)
    .bind(role.as_str())
    .bind(token_hash(&token).to_vec())
    .bind(now)
    .execute(&mut *conn)
    .await?;
    Ok(IssuedToken { client_id: id, token: SecretString::from(token) })
}

/// Revokes a client; its token stops working on the next request, on every instance.
pub async fn revoke_client(conn: &mut Conn, id: &str, now: &str) -> Result<TenantId, ClientError> {
    let tenant: Option<String> = sqlx::query_scalar(
        "UPDATE api_clients SET revoked_at = COALESCE(revoked_at, $1) WHERE id = $2 RETURNING tenant_id",
    )
    .bind(now)
    .bind(id)
    .fetch_optional(&mut *conn)
    .await?;
    tenant.map(TenantId::from_db).ok_or_else(|| ClientError::UnknownClient(id.to_string()))
}

pub async fn list_clients(conn: &mut Conn, tenant: Option<&TenantId>) -> Result<Vec<ClientSummary>, ClientError> {
    let rows = sqlx::query("SELECT id, tenant_id, name, role, created_at, revoked_at FROM api_clients WHERE ($1 IS NULL OR tenant_id = $1) ORDER BY tenant_id, created_at")
        .bind(tenant.map(|t| t.as_str().to_string()))
        .fetch_all(&mut *conn)
        .await?;
    rows.iter()
        .map(|r| {
            Ok(ClientSummary {
                id: r.try_get("id")?,
                tenant: r.try_get("tenant_id")?,
                name: r.try_get("name")?,
                role: r.try_get("role")?,
                created_at: r.try_get("created_at")?,
                revoked_at: r.try_get("revoked_at")?,
            })
        })
        .collect()
}

/// Active clients by the SHA-256 of their token. An entry is trusted only until the
/// request's audit transaction re-checks the client (`crate::audit::freshness`), so a
/// revocation committed anywhere takes effect on the next request on every instance.
pub type ClientCache = crate::cache::TtlCache<[u8; 32], AuthenticatedClient>;

/// [`authenticate`] through `cache`: a hit costs no database round trip. Returns the
/// client and the token hash it is cached under.
pub async fn authenticate_cached(
    cache: &ClientCache,
    pool: &sqlx::AnyPool,
    token: &SecretString,
) -> Result<Option<AuthenticatedClient>, sqlx::Error> {
    let hash = token_hash(token.expose_secret());
    if let Some(client) = cache.get(&hash) {
        return Ok(Some(client));
    }
    let found = authenticate(pool, token).await?;
    if let Some(client) = &found {
        cache.insert(hash, client.clone());
    }
    Ok(found)
}

/// Drops a client from `cache` (its token was found revoked).
pub fn forget_client(cache: &ClientCache, id: &ClientId) {
    cache.retain(|_, client| client.id != *id);
}

/// Resolves a presented bearer token to an active client, or `None`.
pub async fn authenticate(
    pool: &sqlx::AnyPool,
    token: &SecretString,
) -> Result<Option<AuthenticatedClient>, sqlx::Error> {
    let token = token.expose_secret();
    if !token.starts_with(TOKEN_PREFIX) || token.len() > 128 {
        return Ok(None);
    }
    let row = sqlx::query("SELECT id, tenant_id, role FROM api_clients WHERE token_hash = $1 AND revoked_at IS NULL")
        .bind(token_hash(token).to_vec())
        .fetch_optional(pool)
        .await?;
    let Some(row) = row else { return Ok(None) };
    let role: String = row.try_get("role")?;
    let Ok(role) = role.parse::<Role>() else { return Ok(None) };
    Ok(Some(AuthenticatedClient {
        id: ClientId::from_db(row.try_get("id")?),
        tenant: TenantId::from_db(row.try_get("tenant_id")?),
        role,
    }))
}
