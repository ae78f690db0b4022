//! Writing records: content columns, the parties each record is about, and the
//! per-party chain (each record carries the leaf hash of the previous record about the
//! same party, DESIGN.md "Audit").
//!
//! The chain is extended under a lock on each party's head row, so two writers (two
//! gateway instances on PostgreSQL) can never give two records the same predecessor.
//! Head rows are created first (`ON CONFLICT DO NOTHING` waits for a concurrent creator)
//! and then locked in party order, which keeps lock order the same in every transaction.

use super::merkle::Hash;
use super::record::{PartyLink, Record};
use crate::db::exec::{self, Exec, ExecError, Undo};
use crate::db::{self, Backend, SqlValue};
use std::collections::{BTreeMap, BTreeSet};

/// A record about to be written: its content without the chain links, which are filled
/// in here, under the head locks.
#[derive(Clone, Debug)]
pub struct Draft {
    pub record: Record,
    /// The tenant column (None for the gateway log).
    pub tenant_id: Option<String>,
}

/// Inserts `drafts` in order inside the caller's transaction, linking each into its
/// parties' chains (every link is rewritten here, so drafts whose transaction rolled back
/// can be passed again as they are). Returns the leaf hash of each record. On an error
/// the caller must roll its transaction back: a failed statement leaves its earlier rows
/// in place ([`Undo::Transaction`]), and a chain half written is no chain.
pub async fn insert<E: Exec>(conn: &mut E, drafts: &mut [Draft]) -> Result<Vec<Hash>, ExecError> {
    let keys: BTreeSet<(String, String)> =
        drafts.iter().flat_map(|d| d.record.parties.iter().map(|p| (d.record.log.clone(), p.party.clone()))).collect();
    let mut heads = lock_heads(conn, &keys).await?;
    let mut hashes = Vec::with_capacity(drafts.len());
    for draft in drafts.iter_mut() {
        let log = draft.record.log.clone();
        for link in &mut draft.record.parties {
            link.prev_leaf_hash = heads.get(&(log.clone(), link.party.clone())).copied().flatten();
        }
        let hash = draft.record.leaf_hash();
        for link in &draft.record.parties {
            heads.insert((log.clone(), link.party.clone()), Some(hash));
        }
        hashes.push(hash);
    }
    insert_rows(conn, drafts, &hashes).await?;
    save_heads(conn, &heads).await?;
    Ok(hashes)
}

type Heads = BTreeMap<(String, String), Option<Hash>>;

async fn lock_heads<E: Exec>(conn: &mut E, keys: &BTreeSet<(String, String)>) -> Result<Heads, ExecError> {
    let mut heads = Heads::new();
    if keys.is_empty() {
        return Ok(heads);
    }
    let postgres = conn.backend() == Backend::Postgres;
    if postgres {
        // A concurrent writer may be creating the same head: wait for it rather than both
        // starting the party's chain. (SQLite's single writer cannot race.)
        let rows: Vec<Vec<SqlValue>> =
            keys.iter().map(|(log, party)| vec![SqlValue::Text(log.clone()), SqlValue::Text(party.clone())]).collect();
        exec::insert_many(
            conn,
            Undo::Transaction,
            "audit_party_heads",
            &["log_id", "party_id"],
            rows,
            "ON CONFLICT (log_id, party_id) DO NOTHING",
        )
        .await?;
    }
    let lock = if postgres { " FOR UPDATE" } else { "" };
    let by_log: BTreeMap<&str, Vec<&str>> = keys.iter().fold(BTreeMap::new(), |mut acc, (log, party)| {
        acc.entry(log.as_str()).or_insert_with(Vec::new).push(party.as_str());
        acc
    });
    for (log, parties) in by_log {
        for chunk in parties.chunks(1024) {
            let chunk = db::padded(chunk);
            let mut params = db::Placeholders::for_backend(conn.backend());
            let sql = format!(
                "SELECT party_id, last_hash FROM audit_party_heads WHERE log_id = {} AND party_id IN ({}) ORDER BY party_id{lock}",
                params.one(),
                params.list(chunk.len())
            );
            let values: Vec<SqlValue> =
                std::iter::once(log).chain(chunk).map(|value| SqlValue::Text(value.to_string())).collect();
            for row in conn.fetch(&sql, &values).await? {
                let hash = row.opt_blob(1)?.and_then(|h| h.try_into().ok());
                heads.insert((log.to_string(), row.text(0)?), hash);
            }
        }
    }
    Ok(heads)
}

async fn insert_rows<E: Exec>(conn: &mut E, drafts: &[Draft], hashes: &[Hash]) -> Result<(), ExecError> {
    use SqlValue::{Blob, Int, OptText, Text};
    let mut records = Vec::with_capacity(drafts.len());
    let mut links = Vec::new();
    for (draft, hash) in drafts.iter().zip(hashes) {
        let r = &draft.record;
        let record_id = uuid::Uuid::now_v7().as_bytes().to_vec();
        records.push(vec![
            Blob(record_id.clone()),
            Text(r.log.clone()),
            OptText(draft.tenant_id.clone()),
            Text(r.recorded_at.clone()),
            OptText(r.client_id.clone()),
            OptText(r.role.clone()),
            OptText(r.on_behalf_of.clone()),
            Text(r.action.clone()),
            OptText(r.resource_id.clone()),
            OptText(r.purpose.clone()),
            Text(r.fields.join(",")),
            Text(r.outcome.clone()),
            Int(i64::from(r.status)),
            OptText(r.error_code.clone()),
            Text(r.request_id.clone()),
            SqlValue::OptBlob(r.evidence_sha256.map(|h| h.to_vec())),
            Blob(r.encode_parties()),
            Blob(hash.to_vec()),
        ]);
        for PartyLink { party, .. } in &r.parties {
            links.push(vec![Text(r.log.clone()), Text(party.clone()), Blob(record_id.clone())]);
        }
    }
    exec::insert_many(conn, Undo::Transaction, "audit_records", &RECORD_COLUMNS, records, "").await?;
    exec::insert_many(conn, Undo::Transaction, "audit_record_parties", &["log_id", "party_id", "record_id"], links, "")
        .await
}

/// Columns written when a record is inserted (`seq` and `leaf_index` are not).
const RECORD_COLUMNS: [&str; 18] = [
    "record_id",
    "log_id",
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
    "evidence",
    "parties",
    "leaf_hash",
];

async fn save_heads<E: Exec>(conn: &mut E, heads: &Heads) -> Result<(), ExecError> {
    let rows: Vec<Vec<SqlValue>> = heads
        .iter()
        .map(|((log, party), hash)| {
            vec![
                SqlValue::Text(log.clone()),
                SqlValue::Text(party.clone()),
                SqlValue::OptBlob(hash.map(|h| h.to_vec())),
            ]
        })
        .collect();
    exec::insert_many(
        conn,
        Undo::Transaction,
        "audit_party_heads",
        &["log_id", "party_id", "last_hash"],
        rows,
        "ON CONFLICT (log_id, party_id) DO UPDATE SET last_hash = excluded.last_hash",
    )
    .await
}
