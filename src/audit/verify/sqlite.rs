//! Reading a log's sealed records straight from the SQLite file, for `audit verify`.
//!
//! sqlx hands every row across threads and copies each column into an owned value; at
//! millions of records that, not hashing, set the pace (about 14 µs a record). This
//! reader opens the file read-only with rusqlite and checks chunks of the log on several
//! threads at once; the caller merges them in order. Records up to the latest checkpoint
//! never change, so each thread may read under its own snapshot.

use super::chunk::{item, Chunk, ChunkChecker, StoredRow, COLUMNS};
use rusqlite::types::ValueRef;
use rusqlite::{Connection, OpenFlags};
use std::collections::BTreeMap;
use std::path::Path;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::mpsc;

/// Why a walk stopped early.
#[derive(Debug)]
pub enum Stop<F> {
    /// The file could not be read.
    Read(String),
    /// The merge refused a chunk.
    Merge(F),
}

/// Checks the records with leaf indices `0..latest` of `log` in chunks of `chunk_size`
/// on `threads` threads, and hands each chunk to `merge` in leaf order.
pub fn walk<F>(
    path: &Path,
    log: &str,
    latest: u64,
    chunk_size: u64,
    threads: usize,
    mut merge: impl FnMut(Chunk) -> Result<(), F>,
) -> Result<(), Stop<F>> {
    let next = AtomicU64::new(0);
    let stop = AtomicBool::new(false);
    let (sender, chunks) = mpsc::sync_channel::<(u64, Result<Chunk, String>)>(threads * 2);
    let work = Work { path, log, latest, chunk_size: chunk_size.max(1), next: &next, stop: &stop };
    std::thread::scope(|scope| {
        for _ in 0..threads.max(1) {
            let sender = sender.clone();
            let work = &work;
            scope.spawn(move || {
                if let Err(error) = work.run(&sender) {
                    let _ = sender.send((u64::MAX, Err(error)));
                }
            });
        }
        drop(sender);
        let result = merge_in_order(chunks, &mut merge);
        stop.store(true, Ordering::Relaxed);
        result
    })
}

fn merge_in_order<F>(
    chunks: mpsc::Receiver<(u64, Result<Chunk, String>)>,
    merge: &mut impl FnMut(Chunk) -> Result<(), F>,
) -> Result<(), Stop<F>> {
    let mut waiting = BTreeMap::new();
    let mut wanted = 0;
    for (number, chunk) in chunks {
        let chunk = chunk.map_err(Stop::Read)?;
        waiting.insert(number, chunk);
        while let Some(chunk) = waiting.remove(&wanted) {
            merge(chunk).map_err(Stop::Merge)?;
            wanted += 1;
        }
    }
    Ok(())
}

/// What the reader threads share.
struct Work<'a> {
    path: &'a Path,
    log: &'a str,
    latest: u64,
    chunk_size: u64,
    next: &'a AtomicU64,
    stop: &'a AtomicBool,
}

/// The walk's statements on one reader's connection.
struct Statements<'c> {
    /// A chunk through the leaf index: one seek into the table per record.
    by_leaf: rusqlite::Statement<'c>,
    /// A chunk as a range of the table itself: no seeks (see [`Work::in_table_order`]).
    by_seq: rusqlite::Statement<'c>,
    seq_of: rusqlite::Statement<'c>,
    /// How many records the leaf index holds in a chunk's range (read from the index alone).
    held: rusqlite::Statement<'c>,
}

impl Work<'_> {
    /// Claims chunks until none is left (or the merge stopped) and sends each, checked.
    fn run(&self, sender: &mpsc::SyncSender<(u64, Result<Chunk, String>)>) -> Result<(), String> {
        let flags = OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX;
        let conn = Connection::open_with_flags(self.path, flags).map_err(|e| e.to_string())?;
        let _ = conn.pragma_update(None, "cache_size", -16384);
        // SQLite caps this at its compile-time limit (2 GiB); the rest is read with pread.
        let _ = conn.pragma_update(None, "mmap_size", i64::MAX);
        let prepare = |sql: &str| conn.prepare(sql).map_err(|e| e.to_string());
        let mut statements = Statements {
            by_leaf: prepare(&format!(
                "SELECT {COLUMNS} FROM audit_records WHERE log_id = ?1 AND leaf_index >= ?2 AND leaf_index < ?3 ORDER BY leaf_index"
            ))?,
            by_seq: prepare(&format!(
                "SELECT {COLUMNS} FROM audit_records NOT INDEXED \
                 WHERE seq >= ?2 AND seq <= ?3 AND log_id = ?1 AND leaf_index IS NOT NULL ORDER BY seq"
            ))?,
            seq_of: prepare("SELECT seq FROM audit_records WHERE log_id = ?1 AND leaf_index = ?2")?,
            held: prepare(
                "SELECT COUNT(*) FROM audit_records WHERE log_id = ?1 AND leaf_index >= ?2 AND leaf_index < ?3",
            )?,
        };
        while !self.stop.load(Ordering::Relaxed) {
            let number = self.next.fetch_add(1, Ordering::Relaxed);
            let first = number.saturating_mul(self.chunk_size);
            if first >= self.latest {
                break;
            }
            let end = first.saturating_add(self.chunk_size).min(self.latest);
            let chunk = match self.in_table_order(&mut statements, first, end)? {
                Some(chunk) => chunk,
                None => self.check_rows(&mut statements.by_leaf, (self.log, to_i64(first), to_i64(end)), first, end)?,
            };
            if sender.send((number, Ok(chunk))).is_err() {
                break;
            }
        }
        Ok(())
    }

    /// Checks the chunk `first..end` read as a range of the table, in `seq` order, which
    /// skips the per-record seek from the leaf index into the table. The sealer gives
    /// leaf indices in `seq` order, so the rows of the log that hold leaf indices between
    /// the seqs of the chunk's first and last record are the chunk's records, in order.
    /// The checker confirms exactly that (each record's index is the next one, and none is
    /// missing), and the leaf index is counted to hold no other record in the chunk's
    /// range, so a chunk that checks out read this way is the chunk the leaf index holds.
    /// (The count does not trust the index to be unique: someone with the database can
    /// drop it, store a second record under a sealed index outside this seq range, and
    /// only the count, or the walk through the index, would see it.) Any other answer (no
    /// record at either end, other logs' records filling most of the range, another record
    /// in the range, any problem) is None: the caller reads the chunk through the leaf
    /// index, which names what is wrong.
    fn in_table_order(&self, statements: &mut Statements<'_>, first: u64, end: u64) -> Result<Option<Chunk>, String> {
        let seq_of = |statement: &mut rusqlite::Statement<'_>, index: u64| -> Result<Option<i64>, String> {
            let mut rows = statement.query((self.log, to_i64(index))).map_err(|e| e.to_string())?;
            Ok(rows.next().map_err(|e| e.to_string())?.and_then(|row| row.get(0).ok()))
        };
        let (Some(low), Some(high)) =
            (seq_of(&mut statements.seq_of, first)?, seq_of(&mut statements.seq_of, end - 1)?)
        else {
            return Ok(None);
        };
        let span = u64::try_from(high.saturating_sub(low)).unwrap_or(u64::MAX);
        if span >= (end - first).saturating_mul(2) {
            return Ok(None);
        }
        let chunk = self.check_rows(&mut statements.by_seq, (self.log, low, high), first, end)?;
        if chunk.problem.is_some() {
            return Ok(None);
        }
        let range = (self.log, to_i64(first), to_i64(end));
        let held: i64 = statements.held.query_row(range, |row| row.get(0)).map_err(|e| e.to_string())?;
        Ok((u64::try_from(held).ok() == Some(end - first)).then_some(chunk))
    }

    /// Checks the rows `statement` selects with `params` as the records `first..end`.
    fn check_rows(
        &self,
        statement: &mut rusqlite::Statement<'_>,
        params: (&str, i64, i64),
        first: u64,
        end: u64,
    ) -> Result<Chunk, String> {
        let mut rows = statement.query(params).map_err(|e| e.to_string())?;
        let mut checker = ChunkChecker::new(first, usize::try_from(end - first).unwrap_or(0));
        while let Some(row) = rows.next().map_err(|e| e.to_string())? {
            if !checker.push(item(self.log.as_bytes(), row)) {
                break;
            }
        }
        Ok(checker.finish(end - first))
    }
}

fn to_i64(value: u64) -> i64 {
    i64::try_from(value).unwrap_or(i64::MAX)
}

fn value<'r>(row: &'r rusqlite::Row<'_>, column: usize) -> Result<ValueRef<'r>, String> {
    row.get_ref(column).map_err(|e| format!("column {column}: {e}"))
}

impl StoredRow for rusqlite::Row<'_> {
    fn int(&self, column: usize) -> Result<Option<i64>, String> {
        match value(self, column)? {
            ValueRef::Null => Ok(None),
            ValueRef::Integer(i) => Ok(Some(i)),
            _ => Err(format!("column {column} is not an integer")),
        }
    }

    fn text(&self, column: usize) -> Result<Option<&[u8]>, String> {
        match value(self, column)? {
            ValueRef::Null => Ok(None),
            ValueRef::Text(bytes) => Ok(Some(bytes)),
            _ => Err(format!("column {column} is not text")),
        }
    }

    fn blob(&self, column: usize) -> Result<Option<&[u8]>, String> {
        match value(self, column)? {
            ValueRef::Null => Ok(None),
            ValueRef::Blob(bytes) => Ok(Some(bytes)),
            _ => Err(format!("column {column} is not a blob")),
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::panic)]
mod tests {
    use super::*;
    use crate::audit::merkle::{root_from_leaves, Hash};
    use crate::audit::record::{PartyLink, Record};
    use crate::audit::verify::chunk::{Failure, Merger};

    fn record(log: &str, n: u64, prev: Option<Hash>) -> Record {
        Record {
            log: log.into(),
            recorded_at: format!("2026-11-23T12:00:{n:02}.000000Z"),
            request_id: format!("r{n}"),
            client_id: Some("c".into()),
            role: None,
            on_behalf_of: None,
            purpose: None,
            action: "party.read".into(),
            resource_id: None,
            fields: vec!["phones:masked".into()],
            outcome: "allowed".into(),
            status: 200,
            error_code: None,
            evidence_sha256: None,
            parties: vec![PartyLink { party: "p".into(), prev_leaf_hash: prev }],
        }
    }

    /// A file holding log `t` (`n` records about one party) with leaf index `i` at the
    /// position `order[i]` among its rows, each `t` row followed by `other` rows of log `u`.
    fn file(n: u64, order: impl Fn(u64) -> u64, other: u64) -> (tempfile::TempDir, Vec<Hash>) {
        let dir = tempfile::tempdir().unwrap();
        let conn = Connection::open(dir.path().join("audit.db")).unwrap();
        conn.execute_batch(
            "CREATE TABLE audit_records (seq INTEGER PRIMARY KEY, log_id TEXT NOT NULL, recorded_at TEXT, request_id TEXT,
               client_id TEXT, role TEXT, on_behalf_of TEXT, purpose TEXT, action TEXT, resource_id TEXT, fields TEXT,
               outcome TEXT, status INTEGER, error_code TEXT, evidence BLOB, parties BLOB, leaf_index INTEGER, leaf_hash BLOB);
             CREATE UNIQUE INDEX audit_records_leaf ON audit_records(log_id, leaf_index) WHERE leaf_index IS NOT NULL;",
        )
        .unwrap();
        let mut leaves: Vec<Hash> = Vec::new();
        let mut rows = Vec::new();
        for i in 0..n {
            let r = record("t", i, leaves.last().copied());
            leaves.push(r.leaf_hash());
            rows.push((order(i), i, r));
        }
        rows.sort_by_key(|(position, _, _)| *position);
        let insert = |r: &Record, index: Option<u64>| {
            conn.execute(
                "INSERT INTO audit_records (log_id, recorded_at, request_id, client_id, action, fields, outcome, status, parties, leaf_index, leaf_hash)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)",
                rusqlite::params![r.log, r.recorded_at, r.request_id, r.client_id, r.action, r.fields.join(","), r.outcome,
                    r.status, r.encode_parties(), index.map(|i| i as i64), r.leaf_hash().to_vec()],
            )
            .unwrap();
        };
        for (_, index, r) in &rows {
            insert(r, Some(*index));
            for k in 0..other {
                insert(&record("u", k, None), None);
            }
        }
        (dir, leaves)
    }

    fn verify(dir: &tempfile::TempDir, n: u64, root: Hash) -> Result<u64, Stop<Failure>> {
        let targets = [(n, root, "signed checkpoint")];
        let mut merger = Merger::new(&targets);
        walk(&dir.path().join("audit.db"), "t", n, 4, 2, |chunk| merger.merge(chunk))?;
        merger.finish(n).map_err(Stop::Merge)?;
        Ok(merger.tree.size())
    }

    #[test]
    fn a_log_verifies_whether_its_chunks_are_read_in_table_order_or_through_the_leaf_index() {
        // Table order is leaf order; the same with another log's records between (densely:
        // read in table order, or sparsely: through the index); and leaf indices 5 and 6
        // stored in the opposite order (through the index).
        let layouts: [(&dyn Fn(u64) -> u64, u64); 4] =
            [(&|i| i, 0), (&|i| i, 1), (&|i| i, 3), (&|i| [0, 1, 2, 3, 4, 6, 5, 7, 8, 9, 10][i as usize], 0)];
        for (n, (order, other)) in layouts.into_iter().enumerate() {
            let (dir, leaves) = file(11, order, other);
            assert!(matches!(verify(&dir, 11, root_from_leaves(&leaves)), Ok(11)), "layout {n}");
            match verify(&dir, 11, [0; 32]) {
                Err(Stop::Merge(Failure::Root { size: 11, .. })) => {}
                other => panic!("layout {n}: a wrong root passed: {other:?}"),
            }
        }
    }

    #[test]
    fn a_second_record_under_a_sealed_index_is_found_even_with_the_unique_index_dropped() {
        // Someone with the database replaces the unique index with a plain one and appends
        // a copy of record 5, under index 5, after every other row: outside the seq range
        // of the chunk that holds index 5, so only a look through the index finds it.
        let (dir, leaves) = file(11, |i| i, 0);
        let conn = Connection::open(dir.path().join("audit.db")).unwrap();
        conn.execute_batch(
            "DROP INDEX audit_records_leaf;
             CREATE INDEX audit_records_leaf ON audit_records(log_id, leaf_index) WHERE leaf_index IS NOT NULL;
             INSERT INTO audit_records (log_id, recorded_at, request_id, client_id, action, fields, outcome, status,
                 parties, leaf_index, leaf_hash)
               SELECT log_id, recorded_at, request_id, client_id, action, fields, outcome, status, parties, leaf_index,
                 leaf_hash FROM audit_records WHERE leaf_index = 5;",
        )
        .unwrap();
        drop(conn);
        match verify(&dir, 11, root_from_leaves(&leaves)) {
            Err(Stop::Merge(Failure::Record { index: 6, .. })) => {}
            other => panic!("a duplicated sealed record passed: {other:?}"),
        }
    }
}
