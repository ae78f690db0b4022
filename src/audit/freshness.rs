//! Re-checking, inside the audit transaction, what a request took for granted.
//!
//! A gateway keeps API clients and encrypted party rows in memory so that a read costs
//! no database round trip of its own. That is safe only because nothing is answered
//! before its audit record commits (DESIGN invariant 3): the transaction that writes the
//! record first re-reads, once for the whole group-commit batch, that each record's client
//! is still active and that each party row the request read (from memory or from the
//! database) still has the version the request saw. A revocation or a change committed by any
//! instance before that statement is therefore seen, and the request is refused (401) or
//! read again instead of being answered from a stale copy. A change committed after it
//! is ordered after the read, which is what a read that started earlier may show.
//!
//! Every record with a client is re-checked (a refusal can tell something too: 404 from
//! 410, say), except the record of an authentication refusal itself, which is about that
//! client being refused.

use super::{AuditEvent, AuditUnavailable};
use crate::db::exec::{Exec, ExecError};
use crate::db::{padded, Backend, Placeholders, SqlValue};
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
    /// The record's client: it must still be active.
    pub client: Option<String>,
    pub parties: Vec<SeenVersion>,
}

impl Reliance {
    pub fn of(event: &AuditEvent) -> Self {
        let client = match event.error_code {
            Some("unauthenticated") => None,
            _ => event.actor.client.as_ref().map(|c| c.as_str().to_string()),
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
pub async fn check<E: Exec>(conn: &mut E, reliances: &[Reliance]) -> Result<Vec<Verdict>, ExecError> {
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
///
/// On PostgreSQL the rows are share-locked: a revocation, rectification, erasure or rewrap
/// in flight holds the row it updates until it commits, so the check waits for it and then
/// reads what it committed (READ COMMITTED re-reads the row version), instead of reading
/// the version from before a change that commits before this record does. SQLite's single
/// writer already orders the two.
async fn current<E: Exec>(
    conn: &mut E,
    clients: &BTreeSet<&str>,
    parties: &BTreeSet<&str>,
) -> Result<(BTreeSet<String>, HashMap<String, i64>), ExecError> {
    let backend = conn.backend();
    let postgres = backend == Backend::Postgres;
    // Each part numbers its own placeholders: PostgreSQL runs them as separate
    // statements, and SQLite's `?` are positional whatever the text.
    let list = |count: usize| Placeholders::for_backend(backend).list(count);
    let mut parts: Vec<(String, Vec<&str>)> = Vec::new();
    if !clients.is_empty() {
        let ids = padded(&clients.iter().copied().collect::<Vec<_>>());
        let sql = format!(
            "SELECT 'c' AS kind, id, 0 AS version FROM api_clients WHERE revoked_at IS NULL AND id IN ({})",
            list(ids.len())
        );
        parts.push((sql, ids));
    }
    if !parties.is_empty() {
        let ids = padded(&parties.iter().copied().collect::<Vec<_>>());
        let sql = format!("SELECT 'p' AS kind, id, version FROM parties WHERE id IN ({})", list(ids.len()));
        parts.push((sql, ids));
    }
    // PostgreSQL locks each table's rows in its own statement (FOR SHARE cannot follow a
    // UNION); SQLite, which needs no lock, asks both in one round trip.
    let statements: Vec<(String, Vec<&str>)> = if postgres {
        parts.into_iter().map(|(sql, ids)| (format!("{sql} ORDER BY id FOR SHARE"), ids)).collect()
    } else {
        let (sql, ids): (Vec<String>, Vec<Vec<&str>>) = parts.into_iter().unzip();
        vec![(sql.join(" UNION ALL "), ids.concat())]
    };
    let (mut active, mut versions) = (BTreeSet::new(), HashMap::new());
    for (sql, ids) in statements {
        let ids: Vec<SqlValue> = ids.into_iter().map(|id| SqlValue::Text(id.to_string())).collect();
        for row in conn.fetch(&sql, &ids).await? {
            let id = row.text(1)?;
            if row.text(0)? == "c" {
                active.insert(id);
            } else {
                versions.insert(id, row.int(2)?);
            }
        }
    }
    Ok((active, versions))
}
