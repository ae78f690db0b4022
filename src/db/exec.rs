//! One small statement interface over both drivers, for the audit log's write path.
//!
//! Everything else talks to sqlx directly. The audit writer and sealer are different:
//! on SQLite they run on a plain SQLite connection owned by the audit thread
//! ([`SqliteWriter`]), because sqlx-sqlite hands every statement to a worker thread of
//! its own, and with the machine busy each of those hand-offs waited for a time slice.
//! A group-commit batch of seven statements took 2–3 ms that way, and the tail of every
//! audited request with it (DESIGN.md "Performance"). The statements themselves are
//! written once, against [`Exec`], and run on either driver.

pub use super::bulk::Undo;
use super::{backend_of_conn, Backend, Conn, SqlValue};
use std::future::Future;
use std::time::Duration;

/// One column of a fetched row, owned (rows outlive the statement on both drivers).
#[derive(Clone, Debug, PartialEq)]
pub enum Cell {
    Null,
    Int(i64),
    Real(f64),
    Text(String),
    Blob(Vec<u8>),
}

/// A fetched row: its columns in select order.
#[derive(Clone, Debug, Default)]
pub struct Row(pub Vec<Cell>);

impl Row {
    fn cell(&self, index: usize) -> Result<&Cell, ExecError> {
        self.0.get(index).ok_or(ExecError::Decode { index, found: "no column" })
    }

    pub fn text(&self, index: usize) -> Result<String, ExecError> {
        match self.cell(index)? {
            Cell::Text(value) => Ok(value.clone()),
            other => Err(ExecError::Decode { index, found: kind(other) }),
        }
    }

    pub fn int(&self, index: usize) -> Result<i64, ExecError> {
        match self.cell(index)? {
            Cell::Int(value) => Ok(*value),
            other => Err(ExecError::Decode { index, found: kind(other) }),
        }
    }

    pub fn opt_int(&self, index: usize) -> Result<Option<i64>, ExecError> {
        match self.cell(index)? {
            Cell::Null => Ok(None),
            _ => self.int(index).map(Some),
        }
    }

    pub fn blob(&self, index: usize) -> Result<Vec<u8>, ExecError> {
        match self.cell(index)? {
            Cell::Blob(value) => Ok(value.clone()),
            other => Err(ExecError::Decode { index, found: kind(other) }),
        }
    }

    pub fn opt_blob(&self, index: usize) -> Result<Option<Vec<u8>>, ExecError> {
        match self.cell(index)? {
            Cell::Null => Ok(None),
            _ => self.blob(index).map(Some),
        }
    }
}

fn kind(cell: &Cell) -> &'static str {
    match cell {
        Cell::Null => "null",
        Cell::Int(_) => "integer",
        Cell::Real(_) => "real",
        Cell::Text(_) => "text",
        Cell::Blob(_) => "blob",
    }
}

/// Why a statement failed, from either driver.
#[derive(Debug, thiserror::Error)]
pub enum ExecError {
    #[error(transparent)]
    Sqlx(#[from] sqlx::Error),
    #[error("sqlite: {0}")]
    Sqlite(#[from] rusqlite::Error),
    #[error("column {index} holds {found}, not the type the statement expects")]
    Decode { index: usize, found: &'static str },
    #[error("the SQLite database is in journal mode {0}, not WAL")]
    NotWal(String),
}

impl ExecError {
    /// A unique or primary-key constraint refused the write (the sealer's fence).
    pub fn is_unique_violation(&self) -> bool {
        match self {
            Self::Sqlx(error) => super::is_unique_violation(error),
            Self::Sqlite(rusqlite::Error::SqliteFailure(failure, _)) => matches!(
                failure.extended_code,
                rusqlite::ffi::SQLITE_CONSTRAINT_UNIQUE | rusqlite::ffi::SQLITE_CONSTRAINT_PRIMARYKEY
            ),
            _ => false,
        }
    }

    /// The database refused this statement's data (a constraint, a bad value), as opposed
    /// to failing itself (I/O, a lock held too long, a closed pool): only the former is
    /// worth retrying record by record.
    pub fn is_about_the_data(&self) -> bool {
        match self {
            // PostgreSQL's `lock_not_available`: the audit session's lock timeout ran out.
            Self::Sqlx(sqlx::Error::Database(db)) => db.code().as_deref() != Some("55P03"),
            Self::Sqlx(_) => false,
            Self::Sqlite(rusqlite::Error::SqliteFailure(failure, _)) => matches!(
                failure.code,
                rusqlite::ErrorCode::ConstraintViolation
                    | rusqlite::ErrorCode::TypeMismatch
                    | rusqlite::ErrorCode::TooBig
            ),
            // A column of an unexpected type is a bug of ours, the same for every record.
            Self::Sqlite(_) | Self::Decode { .. } | Self::NotWal(_) => false,
        }
    }
}

/// Runs statements inside a transaction the caller opened. Placeholders follow
/// [`super::Placeholders`] for [`Exec::backend`].
///
/// The futures are `Send` by declaration, so code generic over `Exec` can run inside
/// spawned tasks; the SQLite writer's run their statement when called and are ready at
/// once.
pub trait Exec {
    fn backend(&self) -> Backend;

    fn fetch<'q>(
        &'q mut self,
        sql: &'q str,
        params: &'q [SqlValue],
    ) -> impl Future<Output = Result<Vec<Row>, ExecError>> + Send + 'q;

    /// Resolves to the number of rows changed.
    fn execute<'q>(
        &'q mut self,
        sql: &'q str,
        params: &'q [SqlValue],
    ) -> impl Future<Output = Result<u64, ExecError>> + Send + 'q;
}

impl Exec for Conn {
    fn backend(&self) -> Backend {
        backend_of_conn(self)
    }

    fn fetch<'q>(
        &'q mut self,
        sql: &'q str,
        params: &'q [SqlValue],
    ) -> impl Future<Output = Result<Vec<Row>, ExecError>> + Send + 'q {
        let query = super::bind_all(sqlx::query(sql), params);
        async move {
            let rows = query.fetch_all(self).await?;
            rows.iter().map(sqlx_row).collect()
        }
    }

    fn execute<'q>(
        &'q mut self,
        sql: &'q str,
        params: &'q [SqlValue],
    ) -> impl Future<Output = Result<u64, ExecError>> + Send + 'q {
        let query = super::bind_all(sqlx::query(sql), params);
        async move { Ok(query.execute(self).await?.rows_affected()) }
    }
}

fn sqlx_row(row: &sqlx::any::AnyRow) -> Result<Row, ExecError> {
    use sqlx::any::AnyTypeInfoKind as Kind;
    use sqlx::{Row as _, ValueRef as _};
    let mut cells = Vec::with_capacity(row.len());
    for index in 0..row.len() {
        let raw = row.try_get_raw(index)?;
        let cell = if raw.is_null() {
            Cell::Null
        } else {
            match raw.type_info().kind() {
                Kind::Bool => Cell::Int(i64::from(row.try_get::<bool, _>(index)?)),
                Kind::SmallInt | Kind::Integer | Kind::BigInt => Cell::Int(row.try_get(index)?),
                Kind::Real => Cell::Real(f64::from(row.try_get::<f32, _>(index)?)),
                Kind::Double => Cell::Real(row.try_get(index)?),
                Kind::Text => Cell::Text(row.try_get(index)?),
                Kind::Blob => Cell::Blob(row.try_get(index)?),
                Kind::Null => Cell::Null,
            }
        };
        cells.push(cell);
    }
    Ok(Row(cells))
}

/// The audit thread's own SQLite connection: the one connection that writes audit
/// records and seals them, with no thread hand-off per statement.
///
/// It is a second writer of the database file beside the shared sqlx writer pool. Within
/// the process the two take turns through that pool: a transaction here first checks out
/// the pool's one connection (and leaves it unused), so API writes and audit batches queue
/// in one fair line, as they did when both ran on the pool, instead of racing for SQLite's
/// lock. Other processes (the CLI) are met at the lock itself, see [`SqliteWriter::begin`].
pub struct SqliteWriter {
    conn: rusqlite::Connection,
    turns: sqlx::AnyPool,
}

impl std::fmt::Debug for SqliteWriter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SqliteWriter")
    }
}

/// Statements kept prepared per connection (the batch shapes are few: lists are padded
/// to powers of two and multi-row inserts go in power-of-two chunks).
const STATEMENT_CACHE: usize = 256;

impl SqliteWriter {
    /// Opens `path` with the durability settings of the pools' writer (`sqlite_pool`): WAL,
    /// `synchronous = FULL`, `secure_delete`; `turns` is the shared writer pool.
    pub fn open(path: &std::path::Path, turns: sqlx::AnyPool) -> Result<Self, ExecError> {
        let conn = rusqlite::Connection::open(path)?;
        let mode: String = conn.query_row("PRAGMA journal_mode = WAL", [], |row| row.get(0))?;
        if !mode.eq_ignore_ascii_case("wal") {
            return Err(ExecError::NotWal(mode));
        }
        conn.set_prepared_statement_cache_capacity(STATEMENT_CACHE);
        conn.execute_batch(
            "PRAGMA synchronous = FULL;
             PRAGMA foreign_keys = ON;
             PRAGMA secure_delete = ON;
             PRAGMA temp_store = MEMORY;
             PRAGMA cache_size = -65536;
             PRAGMA wal_autocheckpoint = 4000;
             PRAGMA journal_size_limit = 67108864;",
        )?;
        // No busy handler: `begin` waits for the write lock without blocking the thread,
        // and inside a WAL write transaction there is no lock left to wait for.
        conn.busy_timeout(Duration::ZERO)?;
        Ok(Self { conn, turns })
    }

    /// Starts a write transaction (`BEGIN IMMEDIATE`); it rolls back unless committed.
    ///
    /// Waits for this process's other writers in the writer pool's queue, then for other
    /// processes at SQLite's lock, asynchronously, up to [`WRITE_LOCK_WAIT`]. SQLite's own
    /// busy handler would sleep inside the call and stall the whole audit thread,
    /// including the tasks that hand pooled connections back; a request holding the lock
    /// and waiting for one of those would then never let go of it.
    pub async fn begin(&mut self) -> Result<SqliteTx<'_>, ExecError> {
        let turn = self.turns.acquire().await?;
        if !self.conn.is_autocommit() {
            // A transaction whose rollback failed earlier: close it before anything else.
            self.conn.execute_batch("ROLLBACK")?;
        }
        let started = std::time::Instant::now();
        let mut pause = Duration::from_micros(250);
        loop {
            match self.conn.execute_batch("BEGIN IMMEDIATE") {
                Ok(()) => return Ok(SqliteTx { conn: &mut self.conn, open: true, _turn: turn }),
                Err(error) if is_busy(&error) && started.elapsed() < WRITE_LOCK_WAIT => {
                    tokio::time::sleep(pause).await;
                    pause = (pause * 2).min(Duration::from_millis(5));
                }
                Err(error) => return Err(error.into()),
            }
        }
    }
}

/// How long [`SqliteWriter::begin`] waits for another writer (as `busy_timeout` does for
/// the pools).
pub const WRITE_LOCK_WAIT: Duration = Duration::from_secs(10);

fn is_busy(error: &rusqlite::Error) -> bool {
    matches!(error, rusqlite::Error::SqliteFailure(failure, _) if failure.code == rusqlite::ErrorCode::DatabaseBusy)
}

/// A write transaction on a [`SqliteWriter`]. It holds the connection mutably (not
/// rusqlite's `Transaction`, which borrows it shared and so is not `Send`), so futures
/// that hold it can move between threads like any other.
pub struct SqliteTx<'c> {
    conn: &'c mut rusqlite::Connection,
    open: bool,
    /// This process's turn to write, given back when the transaction ends.
    _turn: sqlx::pool::PoolConnection<sqlx::Any>,
}

impl SqliteTx<'_> {
    pub fn commit(mut self) -> Result<(), ExecError> {
        self.conn.execute_batch("COMMIT")?;
        self.open = false;
        Ok(())
    }
}

impl Drop for SqliteTx<'_> {
    fn drop(&mut self) {
        // A failed COMMIT leaves the transaction open too; either way nothing of it stays.
        if self.open && !self.conn.is_autocommit() {
            if let Err(error) = self.conn.execute_batch("ROLLBACK") {
                tracing::error!(%error, "rolling back the audit transaction failed");
            }
        }
    }
}

impl SqliteTx<'_> {
    fn fetch_now(&self, sql: &str, params: &[SqlValue]) -> Result<Vec<Row>, ExecError> {
        let mut statement = self.conn.prepare_cached(sql)?;
        let columns = statement.column_count();
        let mut rows = statement.query(rusqlite::params_from_iter(params.iter().map(SqliteParam)))?;
        let mut out = Vec::new();
        while let Some(row) = rows.next()? {
            let mut cells = Vec::with_capacity(columns);
            for index in 0..columns {
                cells.push(sqlite_cell(index, row.get_ref(index)?)?);
            }
            out.push(Row(cells));
        }
        Ok(out)
    }

    fn execute_now(&self, sql: &str, params: &[SqlValue]) -> Result<u64, ExecError> {
        let mut statement = self.conn.prepare_cached(sql)?;
        let changed = statement.execute(rusqlite::params_from_iter(params.iter().map(SqliteParam)))?;
        Ok(changed as u64)
    }
}

impl Exec for SqliteTx<'_> {
    fn backend(&self) -> Backend {
        Backend::Sqlite
    }

    fn fetch<'q>(
        &'q mut self,
        sql: &'q str,
        params: &'q [SqlValue],
    ) -> impl Future<Output = Result<Vec<Row>, ExecError>> + Send + 'q {
        std::future::ready(self.fetch_now(sql, params))
    }

    fn execute<'q>(
        &'q mut self,
        sql: &'q str,
        params: &'q [SqlValue],
    ) -> impl Future<Output = Result<u64, ExecError>> + Send + 'q {
        std::future::ready(self.execute_now(sql, params))
    }
}

fn sqlite_cell(index: usize, value: rusqlite::types::ValueRef<'_>) -> Result<Cell, ExecError> {
    use rusqlite::types::ValueRef;
    Ok(match value {
        ValueRef::Null => Cell::Null,
        ValueRef::Integer(v) => Cell::Int(v),
        ValueRef::Real(v) => Cell::Real(v),
        ValueRef::Text(v) => {
            Cell::Text(String::from_utf8(v.to_vec()).map_err(|_| ExecError::Decode { index, found: "invalid UTF-8" })?)
        }
        ValueRef::Blob(v) => Cell::Blob(v.to_vec()),
    })
}

struct SqliteParam<'a>(&'a SqlValue);

impl rusqlite::ToSql for SqliteParam<'_> {
    fn to_sql(&self) -> rusqlite::Result<rusqlite::types::ToSqlOutput<'_>> {
        use rusqlite::types::{ToSqlOutput, ValueRef};
        Ok(ToSqlOutput::Borrowed(match self.0 {
            SqlValue::Text(v) => ValueRef::Text(v.as_bytes()),
            SqlValue::Int(v) => ValueRef::Integer(*v),
            SqlValue::Blob(v) => ValueRef::Blob(v),
            SqlValue::OptText(v) => v.as_deref().map_or(ValueRef::Null, |v| ValueRef::Text(v.as_bytes())),
            SqlValue::OptInt(v) => v.map_or(ValueRef::Null, ValueRef::Integer),
            SqlValue::OptBlob(v) => v.as_deref().map_or(ValueRef::Null, ValueRef::Blob),
        }))
    }
}

/// Inserts `rows` into `table` as multi-row statements (see [`super::insert_many_with`],
/// which shares the chunking). Takes the rows by value: each statement's parameters are
/// moved out of them, not copied (this runs for every group-commit batch). `undo` says
/// what a failed statement must take back (see [`Undo`]).
pub async fn insert_many<E: Exec>(
    conn: &mut E,
    undo: Undo,
    table: &str,
    columns: &[&str],
    rows: Vec<Vec<SqlValue>>,
    suffix: &str,
) -> Result<(), ExecError> {
    let statements: Vec<(String, usize)> =
        super::bulk::insert_statements(conn.backend(), undo, table, columns, &rows, suffix)
            .into_iter()
            .map(|(sql, chunk)| (sql, chunk.len()))
            .collect();
    let mut rows = rows.into_iter();
    for (sql, len) in statements {
        let values: Vec<SqlValue> = rows.by_ref().take(len).flatten().collect();
        conn.execute(&sql, &values).await?;
    }
    Ok(())
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::Arc;

    async fn writer_on(dir: &tempfile::TempDir) -> SqliteWriter {
        let path = dir.path().join("exec.db");
        sqlx::any::install_default_drivers();
        let url = format!("sqlite://{}?mode=rwc", path.display());
        let turns = sqlx::any::AnyPoolOptions::new().max_connections(1).connect(&url).await.unwrap();
        let writer = SqliteWriter::open(&path, turns).unwrap();
        writer
            .conn
            .execute_batch("CREATE TABLE t (id INTEGER PRIMARY KEY, name TEXT NOT NULL UNIQUE, data BLOB)")
            .unwrap();
        writer
    }

    fn count(writer: &SqliteWriter) -> i64 {
        writer.conn.query_row("SELECT COUNT(*) FROM t", [], |row| row.get(0)).unwrap()
    }

    #[tokio::test]
    async fn rows_come_back_with_their_types_and_multi_row_inserts_count() {
        let dir = tempfile::tempdir().unwrap();
        let mut writer = writer_on(&dir).await;
        let mut tx = writer.begin().await.unwrap();
        let rows: Vec<Vec<SqlValue>> = (0..37)
            .map(|i| {
                vec![
                    SqlValue::Int(i),
                    SqlValue::Text(format!("n{i}")),
                    SqlValue::OptBlob((i % 2 == 0).then(|| vec![i as u8])),
                ]
            })
            .collect();
        insert_many(&mut tx, Undo::Statement, "t", &["id", "name", "data"], rows, "").await.unwrap();
        let changed = tx.execute("UPDATE t SET data = NULL WHERE id < ?", &[SqlValue::Int(10)]).await.unwrap();
        assert_eq!(changed, 10);
        let found = tx
            .fetch("SELECT id, name, data FROM t WHERE id IN (?, ?)", &[SqlValue::Int(3), SqlValue::Int(12)])
            .await
            .unwrap();
        tx.commit().unwrap();
        assert_eq!(found.len(), 2);
        assert_eq!((found[0].int(0).unwrap(), found[0].text(1).unwrap()), (3, "n3".to_string()));
        assert_eq!(found[0].opt_blob(2).unwrap(), None);
        assert_eq!(found[1].opt_blob(2).unwrap(), Some(vec![12]));
        assert!(matches!(found[1].text(0), Err(ExecError::Decode { index: 0, found: "integer" })));
        assert_eq!(count(&writer), 37);
    }

    #[tokio::test]
    async fn a_transaction_dropped_uncommitted_leaves_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let mut writer = writer_on(&dir).await;
        {
            let mut tx = writer.begin().await.unwrap();
            tx.execute("INSERT INTO t (id, name) VALUES (?, ?)", &[SqlValue::Int(1), SqlValue::Text("a".into())])
                .await
                .unwrap();
        }
        assert_eq!(count(&writer), 0);
        assert!(writer.conn.is_autocommit(), "the rollback closed the transaction");
    }

    #[tokio::test]
    async fn a_constraint_is_about_the_data_and_a_duplicate_is_a_unique_violation() {
        let dir = tempfile::tempdir().unwrap();
        let mut writer = writer_on(&dir).await;
        let mut tx = writer.begin().await.unwrap();
        let row = [SqlValue::Int(1), SqlValue::Text("a".into())];
        tx.execute("INSERT INTO t (id, name) VALUES (?, ?)", &row).await.unwrap();
        let duplicate = tx.execute("INSERT INTO t (id, name) VALUES (?, ?)", &row).await.unwrap_err();
        assert!(duplicate.is_unique_violation() && duplicate.is_about_the_data(), "{duplicate}");
        let missing = tx.execute("INSERT INTO t (id) VALUES (?)", &[SqlValue::Int(2)]).await.unwrap_err();
        assert!(missing.is_about_the_data() && !missing.is_unique_violation(), "{missing}");
    }

    /// `Undo::Statement` takes a failed multi-row statement back whole; `Undo::Transaction`
    /// (no statement journal) leaves the rows before the failing one, which is why its
    /// callers roll the whole transaction back, and a rollback then leaves nothing.
    #[tokio::test]
    async fn a_failed_insert_undoes_its_statement_or_leaves_it_to_the_transaction() {
        let dir = tempfile::tempdir().unwrap();
        let mut writer = writer_on(&dir).await;
        let rows = || -> Vec<Vec<SqlValue>> {
            ["a", "b", "a", "c"]
                .iter()
                .enumerate()
                .map(|(i, n)| vec![SqlValue::Int(i as i64), SqlValue::Text(n.to_string())])
                .collect()
        };
        {
            let mut tx = writer.begin().await.unwrap();
            let failed = insert_many(&mut tx, Undo::Statement, "t", &["id", "name"], rows(), "").await.unwrap_err();
            assert!(failed.is_unique_violation(), "{failed}");
            let left = tx.fetch("SELECT COUNT(*) FROM t", &[]).await.unwrap();
            assert_eq!(left[0].int(0).unwrap(), 0, "the failed statement took its own rows back");
        }
        {
            let mut tx = writer.begin().await.unwrap();
            let failed = insert_many(&mut tx, Undo::Transaction, "t", &["id", "name"], rows(), "").await.unwrap_err();
            assert!(failed.is_unique_violation(), "{failed}");
            let left = tx.fetch("SELECT COUNT(*) FROM t", &[]).await.unwrap();
            assert_eq!(left[0].int(0).unwrap(), 2, "OR FAIL keeps the rows before the duplicate");
        }
        assert_eq!(count(&writer), 0, "dropping the transaction rolled those back");
        assert_eq!(
            Undo::Transaction.verb(Backend::Postgres, "UPDATE"),
            "UPDATE",
            "PostgreSQL undoes a failed statement anyway"
        );
        assert_eq!(Undo::Transaction.verb(Backend::Sqlite, "UPDATE"), "UPDATE OR FAIL");
        assert_eq!(Undo::Statement.verb(Backend::Sqlite, "INSERT"), "INSERT");
    }

    /// SQLite's busy handler would sleep inside `BEGIN IMMEDIATE` and stall every task of
    /// the audit thread; `begin` must wait without blocking the thread, then proceed.
    #[tokio::test(flavor = "current_thread")]
    async fn begin_waits_for_another_writer_without_blocking_the_thread() {
        let dir = tempfile::tempdir().unwrap();
        let mut writer = writer_on(&dir).await;
        let other = rusqlite::Connection::open(dir.path().join("exec.db")).unwrap();
        other.execute_batch("BEGIN IMMEDIATE; INSERT INTO t (id, name) VALUES (1, 'held');").unwrap();
        let ticks = Arc::new(AtomicUsize::new(0));
        let ticker = {
            let ticks = ticks.clone();
            tokio::spawn(async move {
                loop {
                    ticks.fetch_add(1, Ordering::Relaxed);
                    tokio::time::sleep(Duration::from_millis(5)).await;
                }
            })
        };
        let release = tokio::spawn(async move {
            tokio::time::sleep(Duration::from_millis(150)).await;
            other.execute_batch("COMMIT").unwrap();
        });
        let started = std::time::Instant::now();
        let tx = writer.begin().await.unwrap();
        let waited = started.elapsed();
        tx.commit().unwrap();
        release.await.unwrap();
        ticker.abort();
        assert!(waited >= Duration::from_millis(100), "begin returned after {waited:?}, before the lock was free");
        assert!(ticks.load(Ordering::Relaxed) >= 10, "other tasks on the thread ran while begin waited");
        assert_eq!(count(&writer), 1);
    }
}
