//! The audit log: one append-only record per access, committed before the answer.
//!
//! Owns the record's shape and how it is written. A record names who (client, role,
//! the human on whose behalf a service acts), what (action, opaque party id, names of
//! the fields touched — never their values), why (purpose), the outcome and the request
//! id. Writes append inside the caller's transaction, so a change and its record commit
//! together; reads append in their own transaction before the response is released. If
//! the append fails the caller answers 503 and releases nothing (DESIGN invariant 3).
//! A later issue seals these records into per-tenant Merkle logs; nothing stored here
//! is set after the fact, so the leaf hash can cover every column.

use crate::access::{Purpose, Role};
use crate::db::{Conn, Db};
use crate::ids::{ClientId, TenantId};
use std::time::Instant;

/// How the request ended, as the audit log records it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Outcome {
    /// Served (data read or written).
    Allowed,
    /// Refused by authentication, authorization, rate limit or validation.
    Denied,
    /// Failed for a reason on our side.
    Failed,
}

impl Outcome {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Allowed => "allowed",
            Self::Denied => "denied",
            Self::Failed => "failed",
        }
    }
}

/// Who made the request, as far as it is known.
#[derive(Clone, Debug, Default)]
pub struct Actor {
    pub tenant: Option<TenantId>,
    pub client: Option<ClientId>,
    pub role: Option<Role>,
    pub on_behalf_of: Option<String>,
    pub purpose: Option<Purpose>,
}

/// One audit record before it is written.
#[derive(Clone, Debug)]
pub struct AuditEvent {
    pub actor: Actor,
    pub action: &'static str,
    /// Opaque ids of the parties (or other resources) touched, comma separated.
    pub resource_id: Option<String>,
    /// Field names with how they were released, e.g. `phones:masked`. Never values.
    pub fields: Vec<String>,
    pub outcome: Outcome,
    pub status: u16,
    pub error_code: Option<&'static str>,
    pub request_id: String,
}

#[derive(Debug, thiserror::Error)]
#[error("audit log unavailable")]
pub struct AuditUnavailable(#[source] pub sqlx::Error);

/// Appends inside the caller's transaction (writes: the change and its record commit together).
pub async fn append(conn: &mut Conn, event: &AuditEvent, recorded_at: &str) -> Result<(), AuditUnavailable> {
    let started = Instant::now();
    let result = sqlx::query(
        "INSERT INTO audit_records (tenant_id, recorded_at, client_id, role, on_behalf_of, action, resource_id, purpose, fields, outcome, status, error_code, request_id) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)",
    )
    .bind(event.actor.tenant.as_ref().map(|t| t.as_str().to_string()))
    .bind(recorded_at)
    .bind(event.actor.client.as_ref().map(|c| c.as_str().to_string()))
    .bind(event.actor.role.map(|r| r.as_str()))
    .bind(event.actor.on_behalf_of.clone())
    .bind(event.action)
    .bind(event.resource_id.clone())
    .bind(event.actor.purpose.map(|p| p.as_str()))
    .bind(event.fields.join(","))
    .bind(event.outcome.as_str())
    .bind(i64::from(event.status))
    .bind(event.error_code)
    .bind(&event.request_id)
    .execute(&mut *conn)
    .await;
    metrics::histogram!("custodia_audit_write_seconds").record(started.elapsed().as_secs_f64());
    result.map(|_| ()).map_err(AuditUnavailable)
}

/// Appends in a transaction of its own and waits until it is durable (reads, denials).
pub async fn append_durably(db: &Db, event: &AuditEvent, recorded_at: &str) -> Result<(), AuditUnavailable> {
    let mut tx = db.begin_write().await.map_err(AuditUnavailable)?;
    append(&mut tx, event, recorded_at).await?;
    tx.commit().await.map_err(AuditUnavailable)
}

/// Appends several records in one multi-row statement inside the caller's transaction
/// (bulk import writes one record per party without one statement per record).
pub async fn append_many(conn: &mut Conn, events: &[AuditEvent], recorded_at: &str) -> Result<(), AuditUnavailable> {
    use crate::db::SqlValue::{Int, OptText, Text};
    let rows: Vec<Vec<crate::db::SqlValue>> = events
        .iter()
        .map(|e| {
            vec![
                OptText(e.actor.tenant.as_ref().map(|t| t.as_str().to_string())),
                Text(recorded_at.to_string()),
                OptText(e.actor.client.as_ref().map(|c| c.as_str().to_string())),
                OptText(e.actor.role.map(|r| r.as_str().to_string())),
                OptText(e.actor.on_behalf_of.clone()),
                Text(e.action.to_string()),
                OptText(e.resource_id.clone()),
                OptText(e.actor.purpose.map(|p| p.as_str().to_string())),
                Text(e.fields.join(",")),
                Text(e.outcome.as_str().to_string()),
                Int(i64::from(e.status)),
                OptText(e.error_code.map(str::to_string)),
                Text(e.request_id.clone()),
            ]
        })
        .collect();
    let columns = [
        "tenant_id",
        "recorded_at",
        "client_id",
        "role",
        "on_behalf_of",
        "action",
        "resource_id",
        "purpose",
        "fields",
        "outcome",
        "status",
        "error_code",
        "request_id",
    ];
    crate::db::insert_many(conn, "audit_records", &columns, &rows).await.map_err(AuditUnavailable)
}
