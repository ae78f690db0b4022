//! `custodia audit verify`: recomputes each log from the database and checks it against
//! every signed checkpoint, and against a checkpoint kept outside the database.
//!
//! Reads every sealed record once, in chunks of consecutive leaf indices ([`chunk`]):
//! each record's leaf hash is recomputed from its columns and compared with the hash
//! stored beside it (proofs are built from those), its per-party links are checked
//! against the chain so far, and the running tree's root is compared at every checkpoint
//! size. Consecutive checkpoints are consistent because both roots are recomputed from
//! one leaf sequence. The first failure stops the run and names the first bad index. On
//! SQLite several threads read and check chunks at once ([`sqlite`]).

mod chunk;
mod postgres;
mod sqlite;

use super::merkle::Hash;
use super::note::{Checkpoint, Note, VerifierKey};
use super::rows;
use crate::db::Db;
use chunk::{Failure, Merger};
use futures::TryStreamExt;
use secrecy::ExposeSecret;
use sqlx::Row;

/// What a clean run checked.
#[derive(Debug, Default)]
pub struct LogReport {
    pub log: String,
    pub records: u64,
    pub checkpoints: usize,
    /// Records written but not sealed yet (not covered by any checkpoint).
    pub unsealed: u64,
}

/// The first thing found wrong, with the index it concerns where there is one.
#[derive(Debug, thiserror::Error)]
pub enum VerifyError {
    #[error(transparent)]
    Sql(#[from] sqlx::Error),
    #[error("log {log}: {message}")]
    Checkpoint { log: String, message: String },
    #[error("log {log}: record at index {index}: {message}")]
    Record { log: String, index: u64, message: String },
    #[error("log {log}: {message}")]
    Log { log: String, message: String },
}

struct StoredCp {
    size: u64,
    root: Hash,
}

/// Every log in the database, in name order.
pub async fn logs(db: &Db) -> Result<Vec<String>, sqlx::Error> {
    sqlx::query_scalar(
        "SELECT log_id FROM audit_records GROUP BY log_id UNION SELECT log_id FROM audit_checkpoints GROUP BY log_id ORDER BY 1",
    )
    .fetch_all(db.reader())
    .await
}

/// Verifies `log` (origin `origin`) with `key`, and against `trusted` when given.
pub async fn verify_log(
    db: &Db,
    key: &VerifierKey,
    origin: &str,
    log: &str,
    trusted: Option<&str>,
) -> Result<LogReport, VerifyError> {
    let fail_cp = |message: String| VerifyError::Checkpoint { log: log.to_string(), message };
    let checkpoints = load_checkpoints(db, key, origin, log).await?;
    let trusted = trusted
        .map(|t| parse_checkpoint(t, key, origin))
        .transpose()
        .map_err(|m| fail_cp(format!("trusted checkpoint: {m}")))?;
    let latest = checkpoints.last().map(|c| c.size).unwrap_or(0);
    if let Some(t) = &trusted {
        if t.size > latest {
            return Err(fail_cp(format!(
                "the log was truncated or rolled back: the trusted checkpoint has {} records, the database's latest checkpoint {latest}",
                t.size
            )));
        }
    }
    let mut targets: Vec<(u64, Hash, &'static str)> =
        checkpoints.iter().map(|c| (c.size, c.root, "signed checkpoint")).collect();
    if let Some(t) = &trusted {
        targets.push((t.size, t.root, "trusted checkpoint (history was rewritten)"));
    }
    targets.sort_by_key(|t| t.0);
    let report = walk_records(db, log, latest, &targets).await?;
    Ok(LogReport { log: log.to_string(), checkpoints: checkpoints.len(), ..report })
}

async fn load_checkpoints(db: &Db, key: &VerifierKey, origin: &str, log: &str) -> Result<Vec<StoredCp>, VerifyError> {
    let rows: Vec<(i64, i64, Vec<u8>, String)> = sqlx::query_as(
        "SELECT tree_size, prev_size, root, note FROM audit_checkpoints WHERE log_id = $1 ORDER BY tree_size",
    )
    .bind(log)
    .fetch_all(db.reader())
    .await?;
    let mut out: Vec<StoredCp> = Vec::with_capacity(rows.len());
    for (size, prev, root, note) in rows {
        let fail = |message: String| VerifyError::Checkpoint { log: log.to_string(), message };
        let parsed =
            parse_checkpoint(&note, key, origin).map_err(|m| fail(format!("checkpoint of size {size}: {m}")))?;
        let expected_prev = out.last().map(|c| c.size).unwrap_or(0);
        if parsed.size != u64::try_from(size).unwrap_or(u64::MAX) || parsed.root.as_slice() != root.as_slice() {
            return Err(fail(format!("checkpoint of size {size}: stored size/root differ from the signed note")));
        }
        if u64::try_from(prev).ok() != Some(expected_prev) {
            return Err(fail(format!(
                "checkpoint of size {size} does not extend the previous checkpoint ({expected_prev})"
            )));
        }
        out.push(StoredCp { size: parsed.size, root: parsed.root });
    }
    Ok(out)
}

/// Parses a signed checkpoint note, checks its signature by `key` and its origin.
pub fn parse_checkpoint(text: &str, key: &VerifierKey, origin: &str) -> Result<Checkpoint, String> {
    let note = Note::parse(text).map_err(|e| format!("not a signed note: {e}"))?;
    note.verify(std::slice::from_ref(key)).map_err(|e| format!("signature does not verify: {e}"))?;
    let checkpoint = Checkpoint::parse(note.text()).map_err(|e| format!("not a checkpoint: {e}"))?;
    if checkpoint.origin != origin {
        return Err(format!("origin is `{}`, expected `{origin}`", checkpoint.origin));
    }
    Ok(checkpoint)
}

/// Records checked per chunk (one query each).
const CHUNK: u64 = 4_096;

async fn walk_records(
    db: &Db,
    log: &str,
    latest: u64,
    targets: &[(u64, Hash, &'static str)],
) -> Result<LogReport, VerifyError> {
    let record_error = |index: u64, message: String| VerifyError::Record { log: log.to_string(), index, message };
    // Only up to the checkpoint read at the start: a sealer running meanwhile adds records
    // beyond it, which `check_beyond` judges against a fresher checkpoint.
    let outcome = match db.sqlite_file() {
        Some(path) => walk_file(path.to_path_buf(), log.to_string(), latest, targets.to_vec()).await?,
        None => walk_postgres(db, log, latest, targets).await?,
    };
    if let Err(failure) = outcome {
        return Err(explain(db, log, failure).await?);
    }
    check_beyond(db, log).await.map_err(|(index, message)| record_error(index, message))?;
    // Ordered by `seq` so that SQLite counts through the small partial index of unsealed
    // records; left to itself it picked the time index and read every row of the log.
    let unsealed: i64 = sqlx::query_scalar(
        "SELECT COUNT(*) FROM (SELECT seq FROM audit_records WHERE log_id = $1 AND leaf_index IS NULL ORDER BY seq) AS unsealed",
    )
    .bind(log)
    .fetch_one(db.reader())
    .await?;
    Ok(LogReport { records: latest, unsealed: u64::try_from(unsealed).unwrap_or(0), ..LogReport::default() })
}

/// The SQLite file, read and checked on every core.
async fn walk_file(
    path: std::path::PathBuf,
    log: String,
    latest: u64,
    targets: Vec<(u64, Hash, &'static str)>,
) -> Result<Result<(), Failure>, VerifyError> {
    let threads = std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1);
    let checked = tokio::task::spawn_blocking(move || {
        let mut merger = Merger::new(&targets);
        sqlite::walk(&path, &log, latest, CHUNK, threads, |chunk| merger.merge(chunk))?;
        merger.finish(latest).map_err(sqlite::Stop::Merge)
    })
    .await
    .map_err(|e| VerifyError::Log { log: String::new(), message: format!("verifier thread: {e}") })?;
    match checked {
        Ok(()) => Ok(Ok(())),
        Err(sqlite::Stop::Merge(failure)) => Ok(Err(failure)),
        Err(sqlite::Stop::Read(message)) => Err(VerifyError::Sql(sqlx::Error::Protocol(message))),
    }
}

/// PostgreSQL, through a pool of the verifier's own.
async fn walk_postgres(
    db: &Db,
    log: &str,
    latest: u64,
    targets: &[(u64, Hash, &'static str)],
) -> Result<Result<(), Failure>, VerifyError> {
    let url = db.postgres_url().ok_or_else(|| VerifyError::Sql(sqlx::Error::Protocol("no PostgreSQL URL".into())))?;
    let mut merger = Merger::new(targets);
    match postgres::walk(url.expose_secret(), log, latest, CHUNK, |chunk| merger.merge(chunk)).await? {
        Ok(()) => Ok(merger.finish(latest)),
        Err(failure) => Ok(Err(failure)),
    }
}

/// Turns a failure into the error to report, naming the record whose content changed
/// where the stored leaves can tell (a broken link or a wrong root may be the symptom of
/// a modified record earlier in the log).
async fn explain(db: &Db, log: &str, failure: Failure) -> Result<VerifyError, sqlx::Error> {
    let record_error = |index: u64, message: String| VerifyError::Record { log: log.to_string(), index, message };
    Ok(match failure {
        Failure::Record { index, message } if message.contains("link") => {
            match locate_change(db, log, index + 1).await? {
                Some(changed) => record_error(changed, "its content differs from what was sealed".into()),
                None => record_error(index, message),
            }
        }
        Failure::Record { index, message } => record_error(index, message),
        Failure::Root { size, what } => {
            let first = match locate_change(db, log, size).await? {
                Some(index) => format!("index {index} (its content differs from what was sealed)"),
                None => format!("before index {size} (the stored tree was rewritten too)"),
            };
            VerifyError::Log {
                log: log.to_string(),
                message: format!("tree of size {size} does not match its {what}; first bad record: {first}"),
            }
        }
    })
}

/// A record with a leaf index no checkpoint covers was inserted after sealing. The
/// highest index is read before the latest checkpoint: a sealing round commits its
/// records and its checkpoint together, so any index seen first is covered by then.
async fn check_beyond(db: &Db, log: &str) -> Result<(), (u64, String)> {
    let sql_error = |e: sqlx::Error| (0, format!("reading the log: {e}"));
    let highest: Option<i64> =
        sqlx::query_scalar("SELECT MAX(leaf_index) FROM audit_records WHERE log_id = $1 AND leaf_index IS NOT NULL")
            .bind(log)
            .fetch_one(db.reader())
            .await
            .map_err(sql_error)?;
    let covered: Option<i64> = sqlx::query_scalar("SELECT MAX(tree_size) FROM audit_checkpoints WHERE log_id = $1")
        .bind(log)
        .fetch_one(db.reader())
        .await
        .map_err(sql_error)?;
    match (highest, covered.unwrap_or(0)) {
        (Some(index), covered) if index >= covered => {
            return Err((
                u64::try_from(covered).unwrap_or(0),
                "sealed but beyond the latest checkpoint: inserted after sealing".into(),
            ))
        }
        _ => {}
    }
    // Below 0 is outside every tree: the chunks (which read 0..size) would never see it.
    let lowest: Option<i64> =
        sqlx::query_scalar("SELECT MIN(leaf_index) FROM audit_records WHERE log_id = $1 AND leaf_index IS NOT NULL")
            .bind(log)
            .fetch_one(db.reader())
            .await
            .map_err(sql_error)?;
    match lowest {
        Some(index) if index < 0 => {
            Err((0, format!("stored at negative index {index}: inserted or moved out of the tree")))
        }
        _ => Ok(()),
    }
}

/// Finds the first index below `upto` whose recomputed leaf differs from the leaf hash
/// stored when it was written (None if the stored leaves were rewritten as well). Runs
/// only after a failure, so it may take its time.
async fn locate_change(db: &Db, log: &str, upto: u64) -> Result<Option<u64>, sqlx::Error> {
    let bound = i64::try_from(upto).unwrap_or(i64::MAX);
    let sql = format!(
        "SELECT {}, leaf_hash FROM audit_records WHERE log_id = $1 AND leaf_index IS NOT NULL AND leaf_index < $2 ORDER BY leaf_index",
        rows::COLUMNS
    );
    let mut stream = sqlx::query(&sql).bind(log).bind(bound).fetch(db.reader());
    let mut expected: i64 = 0;
    while let Some(row) = stream.try_next().await? {
        let Ok(record) = rows::decode(&row) else { return Ok(u64::try_from(expected).ok()) };
        let stored: Option<Vec<u8>> = row.try_get(rows::COLUMN_COUNT).unwrap_or(None);
        let index = record.leaf_index.and_then(|i| i64::try_from(i).ok()).unwrap_or(-1);
        if index != expected || stored.as_deref() != Some(record.record.leaf_hash().as_slice()) {
            return Ok(u64::try_from(expected).ok());
        }
        expected += 1;
    }
    Ok((expected < bound).then(|| u64::try_from(expected).ok()).flatten())
}
