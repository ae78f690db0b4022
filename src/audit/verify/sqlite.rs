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

impl Work<'_> {
    /// Claims chunks until none is left (or the merge stopped) and sends each, checked.
    fn run(&self, sender: &mpsc::SyncSender<(u64, Result<Chunk, String>)>) -> Result<(), String> {
        let flags = OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX;
        let conn = Connection::open_with_flags(self.path, flags).map_err(|e| e.to_string())?;
        let _ = conn.pragma_update(None, "cache_size", -16384);
        let _ = conn.pragma_update(None, "mmap_size", 1_i64 << 30);
        let sql = format!(
            "SELECT {COLUMNS} FROM audit_records WHERE log_id = ?1 AND leaf_index >= ?2 AND leaf_index < ?3 ORDER BY leaf_index"
        );
        let mut statement = conn.prepare(&sql).map_err(|e| e.to_string())?;
        while !self.stop.load(Ordering::Relaxed) {
            let number = self.next.fetch_add(1, Ordering::Relaxed);
            let first = number.saturating_mul(self.chunk_size);
            if first >= self.latest {
                break;
            }
            let end = first.saturating_add(self.chunk_size).min(self.latest);
            let range = (self.log, to_i64(first), to_i64(end));
            let mut rows = statement.query(range).map_err(|e| e.to_string())?;
            let mut checker = ChunkChecker::new(first, usize::try_from(end - first).unwrap_or(0));
            while let Some(row) = rows.next().map_err(|e| e.to_string())? {
                if !checker.push(item(row)) {
                    break;
                }
            }
            if sender.send((number, Ok(checker.finish(end - first)))).is_err() {
                break;
            }
        }
        Ok(())
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
