//! The sealer: gives committed records their leaf index, in order, stores the new tree
//! nodes and writes a signed checkpoint, every `every_records` records or `every`
//! seconds, for each log.
//!
//! Exactly one sealer extends a log at a time, on any number of gateway instances: a
//! round reads and hashes outside any lock, then writes in one transaction under a
//! per-log advisory lock (PostgreSQL) or the single writer (SQLite) only if the log still
//! ends where it read it, every record it seals is still unsealed, and the checkpoint
//! insert passes the `UNIQUE (log_id, prev_size)` fence — so a sealer that raced another
//! can never fork the log: its round rolls back and nothing of it remains.

use super::merkle::{self, Hash, NodeKey};
use super::rows;
use super::signer::AuditSigner;
use super::writer::{in_write_tx, WriteTarget};
use crate::clock::Clock;
use crate::db::exec::{self, Exec, ExecError, Undo};
use crate::db::{self, Backend, Conn, Db, SqlValue};
use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::Notify;

/// When to seal and where to publish.
#[derive(Clone, Debug)]
pub struct SealerConfig {
    pub every_records: usize,
    pub every: Duration,
    /// Most records one round seals (bounds one transaction).
    pub max_round: usize,
    /// Directory checkpoints are also written to, one sub-directory per log.
    pub publish_dir: Option<PathBuf>,
    /// Numbered checkpoints each log's sub-directory keeps (0: all), see [`publish`].
    pub publish_keep: usize,
}

#[derive(Debug, thiserror::Error)]
pub enum SealError {
    #[error(transparent)]
    Sql(#[from] sqlx::Error),
    #[error(transparent)]
    Exec(#[from] ExecError),
    #[error(transparent)]
    Row(#[from] rows::RowError),
    #[error(transparent)]
    Merkle(#[from] merkle::MerkleError),
    #[error("signing the checkpoint: {0}")]
    Sign(String),
    #[error("another sealer extended log {log} first; this round was rolled back")]
    Fenced { log: String },
}

/// A checkpoint as stored.
#[derive(Clone, Debug)]
pub struct StoredCheckpoint {
    pub log: String,
    pub size: u64,
    pub root: Hash,
    /// The signed note, as signed by the gateway (cosignatures are kept apart).
    pub note: String,
}

/// Lets writers tell the sealer task that records arrived.
#[derive(Clone, Debug, Default)]
pub struct SealerHandle {
    shared: Arc<Shared>,
}

#[derive(Debug, Default)]
struct Shared {
    appended: Mutex<HashMap<String, usize>>,
    wake: Notify,
    every_records: usize,
}

impl SealerHandle {
    pub fn new(every_records: usize) -> Self {
        Self { shared: Arc::new(Shared { every_records, ..Shared::default() }) }
    }

    /// Counts records written to `logs`; wakes the sealer once a log has enough.
    pub fn note_appended(&self, logs: &[String]) {
        let Ok(mut counts) = self.shared.appended.lock() else { return };
        let mut full = false;
        for log in logs {
            let count = counts.entry(log.clone()).or_insert(0);
            *count += 1;
            full |= *count >= self.shared.every_records;
        }
        if full {
            counts.clear();
            self.shared.wake.notify_one();
        }
    }
}

/// Runs sealing rounds until the process ends: one round per log each time it wakes, so
/// under steady load each round takes what accumulated (about `every_records`) instead of
/// chasing every group-commit batch with a round of its own.
pub async fn run(
    db: Db,
    target: WriteTarget<'_>,
    signer: Arc<AuditSigner>,
    clock: Clock,
    config: SealerConfig,
    handle: SealerHandle,
) {
    loop {
        tokio::select! {
            _ = tokio::time::sleep(config.every) => {},
            _ = handle.shared.wake.notified() => {},
        }
        if let Err(error) = seal_pass(&db, target, &signer, &clock, &config).await {
            tracing::warn!(%error, "sealing round failed; will retry");
        }
    }
}

/// Seals every log that has unsealed records, until none is left (exports, the CLI).
pub async fn seal_all(db: &Db, signer: &AuditSigner, clock: &Clock, config: &SealerConfig) -> Result<(), SealError> {
    while seal_pass(db, WriteTarget::Pool(db), signer, clock, config).await? > 0 {}
    Ok(())
}

/// One round for each log with unsealed records; returns how many rounds sealed anything.
async fn seal_pass(
    db: &Db,
    target: WriteTarget<'_>,
    signer: &AuditSigner,
    clock: &Clock,
    config: &SealerConfig,
) -> Result<usize, SealError> {
    // One log per tenant plus the gateway's: asking each by the (log_id, leaf_index) index
    // stays instant however long the logs grow (a DISTINCT over unsealed rows did not).
    let mut logs: Vec<String> = sqlx::query_scalar("SELECT id FROM tenants ORDER BY id").fetch_all(db.reader()).await?;
    logs.push(super::record::GATEWAY_LOG.to_string());
    let mut sealed = 0;
    for log in logs {
        match seal_round_on(db, target, signer, clock, config, &log).await {
            // Fenced: another sealer extended the log first; that is progress too, and
            // whatever it left is sealed by the next pass.
            Ok(Some(_)) | Err(SealError::Fenced { .. }) => sealed += 1,
            Ok(None) => {}
            Err(error) => return Err(error),
        }
    }
    Ok(sealed)
}

/// One round for `log`: seals up to `max_round` records and writes their checkpoint.
/// Returns it, or None when nothing was waiting.
pub async fn seal_round(
    db: &Db,
    signer: &AuditSigner,
    clock: &Clock,
    config: &SealerConfig,
    log: &str,
) -> Result<Option<StoredCheckpoint>, SealError> {
    seal_round_on(db, WriteTarget::Pool(db), signer, clock, config, log).await
}

/// [`seal_round`], reading from `db` and writing on `target`.
async fn seal_round_on(
    db: &Db,
    target: WriteTarget<'_>,
    signer: &AuditSigner,
    clock: &Clock,
    config: &SealerConfig,
    log: &str,
) -> Result<Option<StoredCheckpoint>, SealError> {
    // Reading, hashing and signing happen before the write lock, so writers wait only for
    // the inserts; the tree extended is re-checked under the lock (a fenced round has only
    // wasted a signature).
    let mut conn = db.reader().acquire().await?;
    let old_size = latest_size(&mut *conn, log).await?;
    let pending = load_unsealed(&mut conn, log, config.max_round).await?;
    if pending.is_empty() {
        return Ok(None);
    }
    let edge = fetch_nodes(&mut conn, log, &merkle::right_edge_nodes(old_size)).await?;
    drop(conn);
    let leaves: Vec<Hash> = pending.iter().map(|r| r.leaf).collect();
    let mut tree = merkle::TreeBuilder::from_right_edge(old_size, &edge)?;
    let mut created = Vec::with_capacity(leaves.len() * 2);
    for leaf in &leaves {
        tree.push_with(*leaf, |node| created.push(node))?;
    }
    let (new_size, root) = (tree.size(), tree.root());
    let note = signer.sign_checkpoint(log, new_size, &root, clock.now()).map_err(|e| SealError::Sign(e.to_string()))?;
    let round = Round { log, old_size, new_size, root, note: &note, created: &created, pending: &pending };
    let locked = std::time::Instant::now();
    in_write_tx!(target, |tx| write_round(tx, &round, clock).await?);
    // How long the round's write took, its wait for the lock included (on SQLite, writers
    // waited for the part under the lock).
    metrics::histogram!("custodia_audit_seal_seconds").record(locked.elapsed().as_secs_f64());
    metrics::counter!("custodia_audit_sealed_records_total").increment(leaves.len() as u64);
    let checkpoint = StoredCheckpoint { log: log.to_string(), size: new_size, root, note };
    if let Some(dir) = config.publish_dir.clone() {
        // File I/O off the (single-threaded) audit runtime, so group commit goes on meanwhile.
        let published = checkpoint.clone();
        let keep = config.publish_keep;
        let outcome = tokio::task::spawn_blocking(move || publish(&dir, &published, keep)).await;
        if let Err(error) = outcome.map_err(std::io::Error::other).and_then(|written| written) {
            tracing::warn!(%error, log, "could not publish checkpoint to the directory");
        }
    }
    Ok(Some(checkpoint))
}

fn to_i64(value: u64) -> i64 {
    i64::try_from(value).unwrap_or(i64::MAX)
}

/// What a round writes, all computed before it takes the write lock.
struct Round<'a> {
    log: &'a str,
    old_size: u64,
    new_size: u64,
    root: Hash,
    note: &'a str,
    created: &'a [merkle::StoredNode],
    pending: &'a [Pending],
}

/// The write half of a round, under the log's lock: fails with [`SealError::Fenced`]
/// (and the caller's transaction rolls back) unless the log still ends where the round
/// read it and every record it seals is still unsealed.
async fn write_round<E: Exec>(tx: &mut E, round: &Round<'_>, clock: &Clock) -> Result<(), SealError> {
    let log = round.log;
    let fenced = || SealError::Fenced { log: log.to_string() };
    if tx.backend() == Backend::Postgres {
        tx.execute(db::ADVISORY_XACT_LOCK, &[SqlValue::Text(db::lock_name("audit-seal", log))]).await?;
    }
    if latest_size(tx, log).await? != round.old_size {
        return Err(fenced());
    }
    store_nodes(tx, log, round.created).await?;
    if assign_indices(tx, round.pending, round.old_size).await? != round.pending.len() as u64 {
        return Err(fenced());
    }
    store_legacy_leaves(tx, round.pending).await?;
    let inserted = tx
        .execute(
            "INSERT INTO audit_checkpoints (log_id, tree_size, prev_size, root, note, created_at) VALUES ($1, $2, $3, $4, $5, $6)",
            &[
                SqlValue::Text(log.to_string()),
                SqlValue::Int(to_i64(round.new_size)),
                SqlValue::Int(to_i64(round.old_size)),
                SqlValue::Blob(round.root.to_vec()),
                SqlValue::Text(round.note.to_string()),
                SqlValue::Text(crate::clock::to_db_time(clock.now())),
            ],
        )
        .await;
    match inserted {
        Err(e) if e.is_unique_violation() => Err(fenced()),
        other => other.map(|_| ()).map_err(SealError::from),
    }
}

/// Size of the latest checkpoint (0 for a log never sealed).
pub async fn latest_size<E: Exec>(conn: &mut E, log: &str) -> Result<u64, ExecError> {
    let rows = conn
        .fetch("SELECT MAX(tree_size) FROM audit_checkpoints WHERE log_id = $1", &[SqlValue::Text(log.to_string())])
        .await?;
    let size = match rows.first() {
        Some(row) => row.opt_int(0)?,
        None => None,
    };
    Ok(size.unwrap_or(0).max(0) as u64)
}

/// A record waiting for its leaf index: its row id and the leaf hash it was written with.
struct Pending {
    seq: i64,
    leaf: Hash,
    /// Written before leaf hashes were stored: the round stores the one it computed.
    legacy: bool,
}

/// The oldest unsealed records of `log`, by their stored leaf hashes (records written
/// before leaf hashes were stored get theirs computed from their columns).
async fn load_unsealed(conn: &mut Conn, log: &str, max: usize) -> Result<Vec<Pending>, SealError> {
    let found: Vec<(i64, Option<Vec<u8>>)> = sqlx::query_as(
        "SELECT seq, leaf_hash FROM audit_records WHERE log_id = $1 AND leaf_index IS NULL ORDER BY seq LIMIT $2",
    )
    .bind(log)
    .bind(to_i64(max as u64))
    .fetch_all(&mut *conn)
    .await?;
    let mut pending = Vec::with_capacity(found.len());
    for (seq, leaf) in found {
        let (leaf, legacy) = match leaf.and_then(|l| Hash::try_from(l.as_slice()).ok()) {
            Some(leaf) => (leaf, false),
            None => (legacy_leaf(conn, seq).await?, true),
        };
        pending.push(Pending { seq, leaf, legacy });
    }
    Ok(pending)
}

/// Stores the leaf hash of records written before leaf hashes were (proofs read leaves
/// from the records).
async fn store_legacy_leaves<E: Exec>(conn: &mut E, pending: &[Pending]) -> Result<(), ExecError> {
    for record in pending.iter().filter(|p| p.legacy) {
        let values = [SqlValue::Blob(record.leaf.to_vec()), SqlValue::Int(record.seq)];
        conn.execute("UPDATE audit_records SET leaf_hash = $1 WHERE seq = $2 AND leaf_hash IS NULL", &values).await?;
    }
    Ok(())
}

/// The leaf hash of a record stored without one, from its columns.
async fn legacy_leaf(conn: &mut Conn, seq: i64) -> Result<Hash, SealError> {
    let sql = format!("SELECT {} FROM audit_records WHERE seq = $1", rows::COLUMNS);
    let row = sqlx::query(&sql).bind(seq).fetch_one(&mut *conn).await?;
    Ok(rows::decode(&row)?.record.leaf_hash())
}

/// Fetches stored nodes by (level, index); missing ones are simply absent. Leaves
/// (level 0) are the records' own leaf hashes; higher levels come from `audit_nodes`.
pub async fn fetch_nodes(
    conn: &mut Conn,
    log: &str,
    wanted: &[(u8, u64)],
) -> Result<HashMap<(u8, u64), Hash>, sqlx::Error> {
    let (leaves, inner): (Vec<NodeKey>, Vec<NodeKey>) = wanted.iter().partition(|(level, _)| *level == 0);
    let mut found = HashMap::with_capacity(wanted.len());
    for chunk in leaves.chunks(1024) {
        let mut params = db::Placeholders::for_conn(conn);
        let sql = format!(
            "SELECT leaf_index, leaf_hash FROM audit_records WHERE log_id = {} AND leaf_index IN ({})",
            params.one(),
            params.list(chunk.len())
        );
        let mut query = sqlx::query_as::<_, (i64, Option<Vec<u8>>)>(&sql).bind(log);
        for (_, idx) in chunk {
            query = query.bind(to_i64(*idx));
        }
        for (idx, hash) in query.fetch_all(&mut *conn).await? {
            if let (Ok(idx), Some(Ok(hash))) = (u64::try_from(idx), hash.map(Hash::try_from)) {
                found.insert((0, idx), hash);
            }
        }
    }
    for chunk in inner.chunks(512) {
        let mut params = db::Placeholders::for_conn(conn);
        let first = params.one();
        let conditions: Vec<String> =
            chunk.iter().map(|_| format!("(level = {} AND idx = {})", params.one(), params.one())).collect();
        let sql = format!(
            "SELECT level, idx, hash FROM audit_nodes WHERE log_id = {first} AND ({})",
            conditions.join(" OR ")
        );
        let mut query = sqlx::query_as::<_, (i64, i64, Vec<u8>)>(&sql).bind(log);
        for (level, idx) in chunk {
            query = query.bind(i64::from(*level)).bind(to_i64(*idx));
        }
        for (level, idx, hash) in query.fetch_all(&mut *conn).await? {
            if let (Ok(level), Ok(idx), Ok(hash)) = (u8::try_from(level), u64::try_from(idx), hash.try_into()) {
                found.insert((level, idx), hash);
            }
        }
    }
    Ok(found)
}

/// Stores the nodes a round completed above the leaves (the leaves are in the records).
async fn store_nodes<E: Exec>(conn: &mut E, log: &str, nodes: &[merkle::StoredNode]) -> Result<(), ExecError> {
    let rows: Vec<Vec<SqlValue>> = nodes
        .iter()
        .filter(|node| node.level > 0)
        .map(|node| {
            vec![
                SqlValue::Text(log.to_string()),
                SqlValue::Int(i64::from(node.level)),
                SqlValue::Int(to_i64(node.index)),
                SqlValue::Blob(node.hash.to_vec()),
            ]
        })
        .collect();
    exec::insert_many(conn, Undo::Transaction, "audit_nodes", &["log_id", "level", "idx", "hash"], rows, "").await
}

/// Sets `leaf_index` for the round's records; returns how many were still unsealed (all
/// of them, unless another sealer got there first). A run of consecutive row ids takes
/// one range statement (`leaf_index = seq + offset`; with one busy tenant a round is one
/// run); the scattered rest go in `CASE` statements over primary keys (not `UPDATE ...
/// FROM (VALUES ...)`, which SQLite may plan as a scan of the whole table).
async fn assign_indices<E: Exec>(conn: &mut E, records: &[Pending], first: u64) -> Result<u64, ExecError> {
    let mut updated = 0;
    let mut scattered: Vec<(i64, i64)> = Vec::new();
    let mut start = 0;
    while start < records.len() {
        let mut end = start + 1;
        while end < records.len() && records[end].seq == records[end - 1].seq + 1 {
            end += 1;
        }
        let index_of_start = to_i64(first + start as u64);
        if end - start >= MIN_RANGE_RUN {
            updated += assign_range(conn, records[start].seq, records[end - 1].seq, index_of_start).await?;
        } else {
            scattered.extend(records[start..end].iter().enumerate().map(|(i, r)| (r.seq, index_of_start + i as i64)));
        }
        start = end;
    }
    for chunk in scattered.chunks(256) {
        updated += assign_scattered(conn, chunk).await?;
    }
    Ok(updated)
}

/// Shortest run of consecutive row ids worth a range statement of its own.
const MIN_RANGE_RUN: usize = 8;

async fn assign_range<E: Exec>(
    conn: &mut E,
    first_seq: i64,
    last_seq: i64,
    first_index: i64,
) -> Result<u64, ExecError> {
    let mut params = db::Placeholders::for_backend(conn.backend());
    let sql = format!(
        "{} audit_records SET leaf_index = seq + {} WHERE seq >= {} AND seq <= {} AND leaf_index IS NULL",
        Undo::Transaction.verb(conn.backend(), "UPDATE"),
        params.one(),
        params.one(),
        params.one()
    );
    let values = [SqlValue::Int(first_index - first_seq), SqlValue::Int(first_seq), SqlValue::Int(last_seq)];
    conn.execute(&sql, &values).await
}

async fn assign_scattered<E: Exec>(conn: &mut E, pairs: &[(i64, i64)]) -> Result<u64, ExecError> {
    let mut params = db::Placeholders::for_backend(conn.backend());
    let cases: Vec<String> = pairs.iter().map(|_| format!("WHEN {} THEN {}", params.one(), params.one())).collect();
    let keys = params.list(pairs.len());
    let sql = format!(
        "{} audit_records SET leaf_index = CASE seq {} END WHERE seq IN ({keys}) AND leaf_index IS NULL",
        Undo::Transaction.verb(conn.backend(), "UPDATE"),
        cases.join(" ")
    );
    let mut values: Vec<SqlValue> =
        pairs.iter().flat_map(|(seq, index)| [SqlValue::Int(*seq), SqlValue::Int(*index)]).collect();
    values.extend(pairs.iter().map(|(seq, _)| SqlValue::Int(*seq)));
    conn.execute(&sql, &values).await
}

/// Writes `<dir>/<log>/checkpoint` (the latest, replaced atomically) and keeps
/// `<dir>/<log>/<size>.checkpoint`, for a witness or regulator to copy; of those numbered
/// files only the newest `keep` stay (0 keeps them all).
fn publish(dir: &std::path::Path, checkpoint: &StoredCheckpoint, keep: usize) -> std::io::Result<()> {
    let log_dir = dir.join(&checkpoint.log);
    std::fs::create_dir_all(&log_dir)?;
    std::fs::write(log_dir.join(format!("{}.checkpoint", checkpoint.size)), &checkpoint.note)?;
    // A temp name of its own per process and size: two gateways publishing at once never
    // write into each other's file; the rename is atomic either way.
    let temp = log_dir.join(format!(".checkpoint.{}.{}.tmp", std::process::id(), checkpoint.size));
    std::fs::write(&temp, &checkpoint.note)?;
    std::fs::rename(temp, log_dir.join("checkpoint"))?;
    if keep > 0 {
        // The checkpoint is published either way: a failed clean-up is only that.
        if let Err(error) = prune_published(&log_dir, keep) {
            tracing::warn!(%error, log = checkpoint.log, "could not remove older checkpoints from the directory");
        }
    }
    Ok(())
}

/// Removes all but the newest `keep` numbered checkpoints of one log's directory, and
/// nothing else.
fn prune_published(log_dir: &std::path::Path, keep: usize) -> std::io::Result<()> {
    let mut sizes: Vec<u64> = std::fs::read_dir(log_dir)?
        .filter_map(|entry| entry.ok())
        .filter_map(|entry| entry.file_name().to_str()?.strip_suffix(".checkpoint")?.parse().ok())
        .collect();
    if sizes.len() <= keep {
        return Ok(());
    }
    sizes.sort_unstable();
    remove_numbered(log_dir, &sizes[..sizes.len() - keep])
}

/// Removes the numbered checkpoints of `sizes`. Another gateway pruning the same
/// directory at once is harmless: a file it removed first is simply gone.
fn remove_numbered(log_dir: &std::path::Path, sizes: &[u64]) -> std::io::Result<()> {
    for size in sizes {
        match std::fs::remove_file(log_dir.join(format!("{size}.checkpoint"))) {
            Err(error) if error.kind() != std::io::ErrorKind::NotFound => return Err(error),
            _ => {}
        }
    }
    Ok(())
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn checkpoint(size: u64) -> StoredCheckpoint {
        StoredCheckpoint { log: "acme".into(), size, root: [0; 32], note: format!("note of size {size}\n") }
    }

    fn names(dir: &std::path::Path) -> Vec<String> {
        let mut names: Vec<String> = std::fs::read_dir(dir.join("acme"))
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .collect();
        names.sort();
        names
    }

    #[test]
    fn the_publish_directory_keeps_the_latest_and_the_newest_numbered_checkpoints_only() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join("acme")).unwrap();
        std::fs::write(dir.path().join("acme").join("witness-notes.txt"), "kept").unwrap();
        // Sizes that sort differently as text and as numbers: 9 is older than 10.
        for size in [7, 8, 9, 10, 11] {
            publish(dir.path(), &checkpoint(size), 3).unwrap();
        }
        assert_eq!(
            names(dir.path()),
            ["10.checkpoint", "11.checkpoint", "9.checkpoint", "checkpoint", "witness-notes.txt"]
        );
        let latest = std::fs::read_to_string(dir.path().join("acme").join("checkpoint")).unwrap();
        assert_eq!(latest, checkpoint(11).note);
    }

    #[test]
    fn keeping_zero_keeps_every_numbered_checkpoint() {
        let dir = tempfile::tempdir().unwrap();
        for size in 1..=5 {
            publish(dir.path(), &checkpoint(size), 0).unwrap();
        }
        assert_eq!(names(dir.path()).len(), 6);
    }

    #[test]
    fn a_checkpoint_another_gateway_removed_first_is_no_error() {
        let dir = tempfile::tempdir().unwrap();
        for size in 1..=3 {
            publish(dir.path(), &checkpoint(size), 0).unwrap();
        }
        std::fs::remove_file(dir.path().join("acme").join("1.checkpoint")).unwrap();
        remove_numbered(&dir.path().join("acme"), &[1, 2]).unwrap();
        assert_eq!(names(dir.path()), ["3.checkpoint", "checkpoint"]);
    }
}
