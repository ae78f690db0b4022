//! Reading a sealed log: checkpoints, records by index, and proofs built from the stored
//! nodes (no rehashing of the tree per request).

use super::merkle::{self, Hash, MerkleError};
use super::rows::{self, RowError, StoredRecord};
use super::sealer::{fetch_nodes, StoredCheckpoint};
use crate::db::Conn;

#[derive(Debug, thiserror::Error)]
pub enum LogError {
    #[error(transparent)]
    Sql(#[from] sqlx::Error),
    #[error(transparent)]
    Exec(#[from] crate::db::exec::ExecError),
    #[error(transparent)]
    Row(#[from] RowError),
    #[error(transparent)]
    Merkle(#[from] MerkleError),
    #[error("the log has no checkpoint yet")]
    NoCheckpoint,
    #[error("tree size {0} is larger than the latest checkpoint")]
    BeyondCheckpoint(u64),
    #[error("no record at index {0}")]
    NoRecord(u64),
    #[error("stored node ({0}, {1}) is missing")]
    MissingNode(u8, u64),
}

fn to_i64(value: u64) -> i64 {
    i64::try_from(value).unwrap_or(i64::MAX)
}

/// The latest checkpoint of `log`, with witness cosignature lines appended to the note.
pub async fn latest_checkpoint(conn: &mut Conn, log: &str) -> Result<StoredCheckpoint, LogError> {
    let row: Option<(i64, Vec<u8>, String)> = sqlx::query_as(
        "SELECT tree_size, root, note FROM audit_checkpoints WHERE log_id = $1 ORDER BY tree_size DESC LIMIT 1",
    )
    .bind(log)
    .fetch_optional(&mut *conn)
    .await?;
    let (size, root, note) = row.ok_or(LogError::NoCheckpoint)?;
    with_cosignatures(conn, log, size, root, note).await
}

/// The checkpoint of exactly `size`, if one was written.
pub async fn checkpoint_at(conn: &mut Conn, log: &str, size: u64) -> Result<Option<StoredCheckpoint>, LogError> {
    let row: Option<(i64, Vec<u8>, String)> =
        sqlx::query_as("SELECT tree_size, root, note FROM audit_checkpoints WHERE log_id = $1 AND tree_size = $2")
            .bind(log)
            .bind(to_i64(size))
            .fetch_optional(&mut *conn)
            .await?;
    match row {
        Some((size, root, note)) => Ok(Some(with_cosignatures(conn, log, size, root, note).await?)),
        None => Ok(None),
    }
}

async fn with_cosignatures(
    conn: &mut Conn,
    log: &str,
    size: i64,
    root: Vec<u8>,
    mut note: String,
) -> Result<StoredCheckpoint, LogError> {
    let lines: Vec<String> =
        sqlx::query_scalar("SELECT line FROM audit_cosignatures WHERE log_id = $1 AND tree_size = $2 ORDER BY witness")
            .bind(log)
            .bind(size)
            .fetch_all(&mut *conn)
            .await?;
    for line in lines {
        note.push_str(&line);
        note.push('\n');
    }
    Ok(StoredCheckpoint {
        log: log.to_string(),
        size: u64::try_from(size).unwrap_or(0),
        root: root.try_into().unwrap_or([0; 32]),
        note,
    })
}

/// The sealed record at `index`.
pub async fn record_at(conn: &mut Conn, log: &str, index: u64) -> Result<StoredRecord, LogError> {
    let sql = format!("SELECT {} FROM audit_records WHERE log_id = $1 AND leaf_index = $2", rows::COLUMNS);
    let row = sqlx::query(&sql).bind(log).bind(to_i64(index)).fetch_optional(&mut *conn).await?;
    Ok(rows::decode(&row.ok_or(LogError::NoRecord(index))?)?)
}

/// For each party of `record`, the index of the previous record about it (None for its
/// first record).
pub async fn prev_indices(conn: &mut Conn, log: &str, record: &StoredRecord) -> Result<Vec<Option<u64>>, LogError> {
    let Some(index) = record.leaf_index else { return Ok(vec![None; record.record.parties.len()]) };
    let mut out = Vec::with_capacity(record.record.parties.len());
    for link in &record.record.parties {
        if link.prev_leaf_hash.is_none() {
            out.push(None);
            continue;
        }
        out.push(previous_index(conn, log, &link.party, index).await?);
    }
    Ok(out)
}

/// The index of the last sealed record about `party` before index `before`: the record a
/// party link of the record at `before` names (a party's records are sealed in the order
/// their links were set).
pub async fn previous_index(conn: &mut Conn, log: &str, party: &str, before: u64) -> Result<Option<u64>, LogError> {
    let prev: Option<i64> = sqlx::query_scalar(
        "SELECT MAX(r.leaf_index) FROM audit_record_parties p CROSS JOIN audit_records r \
         WHERE r.record_id = p.record_id AND p.log_id = $1 AND p.party_id = $2 AND r.log_id = $1 AND r.leaf_index < $3",
    )
    .bind(log)
    .bind(party)
    .bind(to_i64(before))
    .fetch_one(&mut *conn)
    .await?;
    Ok(prev.and_then(|p| u64::try_from(p).ok()))
}

/// Checks `size` is within the latest checkpoint.
pub async fn check_size(conn: &mut Conn, log: &str, size: u64) -> Result<(), LogError> {
    let latest = super::sealer::latest_size(conn, log).await?;
    if size > latest {
        return Err(LogError::BeyondCheckpoint(size));
    }
    Ok(())
}

/// Inclusion proof of leaf `index` in the tree of `size` (RFC 6962 audit path).
pub async fn inclusion_proof(conn: &mut Conn, log: &str, index: u64, size: u64) -> Result<Vec<Hash>, LogError> {
    check_size(conn, log, size).await?;
    let nodes = fetch_nodes(conn, log, &merkle::inclusion_proof_nodes(index, size)?).await?;
    Ok(merkle::inclusion_proof(index, size, &nodes)?)
}

/// Consistency proof from the tree of `old` to the tree of `new`.
pub async fn consistency_proof(conn: &mut Conn, log: &str, old: u64, new: u64) -> Result<Vec<Hash>, LogError> {
    check_size(conn, log, new).await?;
    let nodes = fetch_nodes(conn, log, &merkle::consistency_proof_nodes(old, new)?).await?;
    Ok(merkle::consistency_proof(old, new, &nodes)?)
}

/// Inclusion proofs for many leaves against one size, fetching every needed node once.
pub async fn inclusion_proofs(
    conn: &mut Conn,
    log: &str,
    indices: &[u64],
    size: u64,
) -> Result<Vec<Vec<Hash>>, LogError> {
    let mut wanted = std::collections::BTreeSet::new();
    for index in indices {
        wanted.extend(merkle::inclusion_proof_nodes(*index, size)?);
    }
    let wanted: Vec<_> = wanted.into_iter().collect();
    let nodes = fetch_nodes(conn, log, &wanted).await?;
    indices.iter().map(|i| Ok(merkle::inclusion_proof(*i, size, &nodes)?)).collect()
}
