//! Re-checking, inside the audit transaction, what a request took for granted.
//!
//! A gateway keeps API clients and encrypted party rows in memory so that a read costs
//! no database round trip of its own. That is safe only because nothing is answered
//! before its audit record commits (DESIGN invariant 3): the transaction that writes the
//! record first re-reads, in one statement for the whole group-commit batch, that each
//! allowed record's client is still active and that each party row served from memory
//! still has the version the request saw. A revocation or a change committed by any
//! instance before that statement is therefore seen, and the request is refused (401) or
//! read again instead of being answered from a stale copy. A change committed after it
//! is ordered after the read, which is what a read that started earlier may show.
//!
//! Denied and failed records release nothing, so their clients are not re-checked.

use super::{AuditEvent, AuditUnavailable, Outcome};
use crate::db::{Conn, Placeholders};
use sqlx::Row;
use std::collections::{BTreeSet, HashMap};

/// A party row served from memory, and the version it had.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SeenVersion {
    pub party: String,
    pub version: i64,
}

/// What one record relies on.
#[derive(Clone, Debug, Default)]
pub struct Reliance {
    /// The client of an allowed record: it must still be active.
    pub client: Option<String>,
    pub parties: Vec<SeenVersion>,
}

impl Reliance {
    pub fn of(event: &AuditEvent) -> Self {
        let client = match event.outcome {
            Outcome::Allowed => event.actor.client.as_ref().map(|c| c.as_str().to_string()),
            Outcome::Denied | Outcome::Failed => None,
        };
        Self { client, parties: event.seen_versions.clone() }
    }
}

/// Whether a record may be written as it is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Verdict {
    Fresh,
    ClientRevoked,
    PartyChanged,
}

impl Verdict {
    /// The error a stale record turns into (None when fresh).
    pub fn refusal(self) -> Option<AuditUnavailable> {
        match self {
            Verdict::Fresh => None,
            Verdict::ClientRevoked => Some(AuditUnavailable::ClientRevoked),
            Verdict::PartyChanged => Some(AuditUnavailable::StaleRead),
        }
    }
}

/// One verdict per reliance, from one statement in the caller's transaction. A revoked
/// client outranks a changed party (the request must not be answered at all).
pub async fn check(conn: &mut Conn, reliances: &[Reliance]) -> Result<Vec<Verdict>, sqlx::Error> {
    let clients: BTreeSet<&str> = reliances.iter().filter_map(|r| r.client.as_deref()).collect();
    let parties: BTreeSet<&str> = reliances.iter().flat_map(|r| r.parties.iter().map(|p| p.party.as_str())).collect();
    if clients.is_empty() && parties.is_empty() {
        return Ok(vec![Verdict::Fresh; reliances.len()]);
    }
    let (active, versions) = current(conn, &clients, &parties).await?;
    Ok(reliances
        .iter()
        .map(|r| {
            if r.client.as_deref().is_some_and(|c| !active.contains(c)) {
                Verdict::ClientRevoked
            } else if r.parties.iter().any(|p| versions.get(&p.party) != Some(&p.version)) {
                Verdict::PartyChanged
            } else {
                Verdict::Fresh
            }
        })
        .collect())
}

/// Active clients among `clients`, and the current version of each of `parties`.
async fn current(
    conn: &mut Conn,
    clients: &BTreeSet<&str>,
    parties: &BTreeSet<&str>,
) -> Result<(BTreeSet<String>, HashMap<String, i64>), sqlx::Error> {
    let mut params = Placeholders::for_conn(conn);
    let mut parts = Vec::new();
    if !clients.is_empty() {
        parts.push(format!(
            "SELECT 'c' AS kind, id, 0 AS version FROM api_clients WHERE revoked_at IS NULL AND id IN ({})",
            params.list(clients.len())
        ));
    }
    if !parties.is_empty() {
        parts
            .push(format!("SELECT 'p' AS kind, id, version FROM parties WHERE id IN ({})", params.list(parties.len())));
    }
    let sql = parts.join(" UNION ALL ");
    let mut query = sqlx::query(&sql);
    for id in clients.iter().chain(parties.iter()) {
        query = query.bind(*id);
    }
    let mut active = BTreeSet::new();
    let mut versions = HashMap::new();
    for row in query.fetch_all(&mut *conn).await? {
        let kind: String = row.try_get(0)?;
        let id: String = row.try_get(1)?;
        if kind == "c" {
            active.insert(id);
        } else {
            versions.insert(id, row.try_get::<i64, _>(2)?);
        }
    }
    Ok((active, versions))
}
