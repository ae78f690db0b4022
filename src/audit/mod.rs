//! The audit log: one record per access, committed before the answer, sealed into a
//! tamper-evident Merkle log per tenant.
//!
//! A record names who (client, role, the human on whose behalf a service acts), what
//! (action, resource, the opaque ids of the parties touched, names of the fields —
//! never their values), why (purpose), the outcome and the request id. Writes append
//! inside the caller's transaction, so a change and its record commit together; reads
//! and refusals go through the group-commit [`writer`] and wait until their record is
//! durable. If the append fails the caller answers 503 and releases nothing (DESIGN
//! invariant 3). The [`sealer`] then gives records leaf indices and signs checkpoints;
//! `audit/FORMAT.md` specifies every byte a verifier sees.

pub mod bundle;
pub mod bundle_verify;
pub mod cosign;
pub mod encoding;
pub mod freshness;
pub mod http;
pub mod log;
pub mod merkle;
pub mod note;
pub mod record;
pub mod rows;
pub mod sealer;
pub mod search;
pub mod service;
pub mod signer;
pub mod store;
pub mod verify;
pub mod writer;

#[cfg(test)]
mod vectors_tests;

use crate::access::{Purpose, Role};
use crate::db::Conn;
use crate::ids::{ClientId, TenantId};
use record::{PartyLink, Record, GATEWAY_LOG};
use std::time::Instant;
use store::Draft;

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
    /// The resource acted on (a party, an obligation), when there is one.
    pub resource_id: Option<String>,
    /// Opaque ids of every party whose data the request touched (reads, searches,
    /// writes): the per-party chains run through these.
    pub parties: Vec<String>,
    /// SHA-256 of an event this record attests (a consent or flag event), if any.
    pub evidence: Option<merkle::Hash>,
    /// Field names with how they were released, e.g. `phones:masked`. Never values.
    pub fields: Vec<String>,
    pub outcome: Outcome,
    pub status: u16,
    pub error_code: Option<&'static str>,
    pub request_id: String,
    /// Party rows this request served from a gateway's memory, with the version it saw.
    /// The audit transaction re-reads them: if any changed, nothing is recorded and the
    /// request must read again ([`AuditUnavailable::StaleRead`]).
    pub seen_versions: Vec<freshness::SeenVersion>,
}

impl AuditEvent {
    /// Says which parties the request touched.
    pub fn about_parties(mut self, parties: impl IntoIterator<Item = String>) -> Self {
        self.parties.extend(parties);
        self
    }

    /// The record this event becomes at `recorded_at` (chain links are filled in when it
    /// is written).
    pub fn to_draft(&self, recorded_at: &str) -> Draft {
        let mut parties: Vec<String> = self.parties.clone();
        parties.sort();
        parties.dedup();
        let tenant = self.actor.tenant.as_ref().map(|t| t.as_str().to_string());
        Draft {
            record: Record {
                log: tenant.clone().unwrap_or_else(|| GATEWAY_LOG.to_string()),
                recorded_at: recorded_at.to_string(),
                request_id: self.request_id.clone(),
                client_id: self.actor.client.as_ref().map(|c| c.as_str().to_string()),
                role: self.actor.role.map(|r| r.as_str().to_string()),
                on_behalf_of: self.actor.on_behalf_of.clone(),
                purpose: self.actor.purpose.map(|p| p.as_str().to_string()),
                action: self.action.to_string(),
                resource_id: self.resource_id.clone(),
                fields: self.fields.clone(),
                outcome: self.outcome.as_str().to_string(),
                status: self.status,
                error_code: self.error_code.map(str::to_string),
                evidence_sha256: self.evidence,
                parties: parties.into_iter().map(|party| PartyLink { party, prev_leaf_hash: None }).collect(),
            },
            tenant_id: tenant,
        }
    }
}

/// Who is acting, for whom and when: what a domain write needs to build the audit records
/// of the events it commits (handlers make it from their [`crate::api::auth::Caller`];
/// background jobs use a system actor).
#[derive(Clone, Debug)]
pub struct EventContext {
    pub tenant: TenantId,
    pub actor: Actor,
    pub request_id: String,
    /// Now, in the database's text form (`crate::clock::to_db_time`).
    pub now: String,
}

impl EventContext {
    /// An allowed record of `action` about `party`, attesting `evidence` (the SHA-256 of
    /// the event's canonical encoding).
    pub fn event(
        &self,
        action: &'static str,
        party: &str,
        fields: Vec<String>,
        evidence: Option<merkle::Hash>,
    ) -> AuditEvent {
        AuditEvent {
            actor: self.actor.clone(),
            action,
            resource_id: Some(party.to_string()),
            parties: vec![party.to_string()],
            evidence,
            fields,
            outcome: Outcome::Allowed,
            status: 200,
            error_code: None,
            request_id: self.request_id.clone(),
            seen_versions: Vec::new(),
        }
    }
}

impl From<sqlx::Error> for AuditUnavailable {
    fn from(error: sqlx::Error) -> Self {
        Self::Store(error.into())
    }
}

/// The audit record could not be made durable: the request must not be answered with data.
#[derive(Debug, thiserror::Error)]
pub enum AuditUnavailable {
    #[error("audit store: {0}")]
    Store(#[from] crate::db::exec::ExecError),
    #[error("audit writer stopped")]
    WriterStopped,
    /// The record was not durable within the writer's deadline.
    #[error("audit record was not durable in time")]
    TimedOut,
    #[error("audit record could not be written")]
    WriteFailed,
    /// The request's API client was revoked before its record could commit: nothing was
    /// recorded as allowed and nothing may be released (the caller answers 401).
    #[error("the API client was revoked during the request")]
    ClientRevoked,
    /// A party row the request served from memory changed before its record could
    /// commit: nothing was recorded; read the party again from the database.
    #[error("a party read from memory changed; read it again")]
    StaleRead,
}

/// Appends inside the caller's transaction (writes: the change and its record commit together).
pub async fn append(conn: &mut Conn, event: &AuditEvent, recorded_at: &str) -> Result<(), AuditUnavailable> {
    append_many(conn, std::slice::from_ref(event), recorded_at).await
}

/// Appends several records inside the caller's transaction, as multi-row statements
/// (bulk import writes one record per party). Re-checks, in the same transaction, that
/// the clients of allowed records are still active, so a write never commits for a token
/// revoked (on any instance) after it was authenticated.
pub async fn append_many(conn: &mut Conn, events: &[AuditEvent], recorded_at: &str) -> Result<(), AuditUnavailable> {
    let started = Instant::now();
    let reliances: Vec<freshness::Reliance> = events.iter().map(freshness::Reliance::of).collect();
    let verdicts = freshness::check(conn, &reliances).await?;
    if let Some(stale) = verdicts.iter().find_map(|v| v.refusal()) {
        return Err(stale);
    }
    let mut drafts: Vec<Draft> = events.iter().map(|e| e.to_draft(recorded_at)).collect();
    let result = store::insert(conn, &mut drafts).await;
    metrics::histogram!("custodia_audit_write_seconds").record(started.elapsed().as_secs_f64());
    result.map(|_| ()).map_err(AuditUnavailable::Store)
}
