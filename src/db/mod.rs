//! Database access for both backends: SQLite (the embedded default) and PostgreSQL.
//!
//! Owns connection set-up, migrations and the transaction discipline of DESIGN.md
//! "Storage": on SQLite every write runs as `BEGIN IMMEDIATE` on the single writer
//! connection (readers use their own pool, WAL lets them run alongside); on PostgreSQL
//! writes share one pool and serialise per party with transaction-scoped advisory locks.
//!
//! Both backends run the same SQL text through sqlx's `Any` driver: queries use `$N`
//! placeholders and portable types (TEXT, BIGINT/INTEGER, BLOB/BYTEA), and the few
//! places where dialects differ ask [`Db::backend`]. Domain modules own their queries;
//! this module only hands out connections and transactions.

use secrecy::ExposeSecret;
use sqlx::any::{AnyConnectOptions, AnyPoolOptions};
use sqlx::{AnyPool, Executor};
use std::str::FromStr;
use std::time::Duration;

pub type Tx = sqlx::Transaction<'static, sqlx::Any>;
pub type Conn = sqlx::AnyConnection;

/// Which engine is behind the URL.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

#[derive(Debug, thiserror::Error)]
pub enum DbError {
    #[error("unsupported database URL scheme (use sqlite:// or postgres://)")]
    UnsupportedUrl,
    #[error(transparent)]
    Sqlx(#[from] sqlx::Error),
    #[error(transparent)]
    Migrate(#[from] sqlx::migrate::MigrateError),
}

/// Handle to the database: a write path and a read path (the same pool on PostgreSQL).
#[derive(Clone, Debug)]
pub struct Db {
    backend: Backend,
    writer: AnyPool,
    reader: AnyPool,
    /// SQLite only: the connection the background WAL checkpoints run on.
    maintenance: Option<AnyPool>,
    /// PostgreSQL only: where to open further pools (it may carry a password).
    postgres_url: Option<secrecy::SecretString>,
    /// SQLite only: the database file, for tools that read it without sqlx (the verifier).
    sqlite_file: Option<std::path::PathBuf>,
}

static SQLITE_MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("migrations/sqlite");
static POSTGRES_MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("migrations/postgres");

impl Db {
    /// Connects to `url`; for SQLite the file is created if absent.
    pub async fn connect(url: &str, read_connections: u32) -> Result<Self, DbError> {
        sqlx::any::install_default_drivers();
        let backend = backend_of(url)?;
        match backend {
            Backend::Sqlite => {
                let url = sqlite_url_with_create(url);
                let sqlite_file =
                    Some(sqlx::sqlite::SqliteConnectOptions::from_str(&url)?.get_filename().to_path_buf());
                let writer = sqlite_pool(&url, 1, SqliteRole::Writer).await?;
                let reader = sqlite_pool(&url, read_connections.max(1), SqliteRole::Reader).await?;
                let maintenance = sqlite_pool(&url, 1, SqliteRole::Maintenance).await?;
                spawn_checkpointer(maintenance.clone());
                Ok(Self { backend, writer, reader, maintenance: Some(maintenance), postgres_url: None, sqlite_file })
            }
            Backend::Postgres => {
                let pool = postgres_pool(url, read_connections.max(2) * 4).await?;
                let postgres_url = Some(secrecy::SecretString::from(url.to_string()));
                Ok(Self {
                    backend,
                    writer: pool.clone(),
                    reader: pool,
                    maintenance: None,
                    postgres_url,
                    sqlite_file: None,
                })
            }
        }
    }

    /// A handle for tasks that run on a runtime of their own (the audit thread). SQLite
    /// connections live on threads of their own and serve any runtime, so it is this
    /// handle again; PostgreSQL sockets belong to the runtime that opened them (its
    /// reactor drives them), so this opens a pool of `connections` on the calling
    /// runtime, retrying until the server answers.
    pub async fn for_dedicated_runtime(&self, connections: u32) -> Db {
        let Some(url) = &self.postgres_url else { return self.clone() };
        loop {
            match postgres_pool(url.expose_secret(), connections.max(1)).await {
                Ok(pool) => {
                    return Self {
                        backend: self.backend,
                        writer: pool.clone(),
                        reader: pool,
                        maintenance: None,
                        postgres_url: self.postgres_url.clone(),
                        sqlite_file: None,
                    }
                }
                Err(error) => {
                    tracing::warn!(%error, "cannot open the audit thread's database pool; retrying");
                    tokio::time::sleep(Duration::from_secs(1)).await;
                }
            }
        }
    }

    pub fn backend(&self) -> Backend {
        self.backend
    }

    /// Where the PostgreSQL server is (None on SQLite), for tools that open their own pool.
    pub fn postgres_url(&self) -> Option<&secrecy::SecretString> {
        self.postgres_url.as_ref()
    }

    /// The SQLite database file (None on PostgreSQL).
    pub fn sqlite_file(&self) -> Option<&std::path::Path> {
        self.sqlite_file.as_deref()
    }

    pub async fn migrate(&self) -> Result<(), DbError> {
        let migrator = match self.backend {
            Backend::Sqlite => &SQLITE_MIGRATOR,
            Backend::Postgres => &POSTGRES_MIGRATOR,
        };
        migrator.run(&self.writer).await?;
        Ok(())
    }

    /// Starts a write transaction. On SQLite it takes the write lock up front, so a
    /// read-then-write inside it can never fail with SQLITE_BUSY half-way.
    pub async fn begin_write(&self) -> Result<Tx, sqlx::Error> {
        match self.backend {
            Backend::Sqlite => self.writer.begin_with("BEGIN IMMEDIATE").await,
            Backend::Postgres => self.writer.begin().await,
        }
    }

    /// The pool for reads that need no write lock.
    pub fn reader(&self) -> &AnyPool {
        &self.reader
    }

    /// Serialises writers of one party (consent, flags, retention holds, erasure, contact
    /// decisions) until the transaction ends. SQLite's single writer already serialises
    /// everything.
    pub async fn lock_party(&self, tx: &mut Conn, party_id: &str) -> Result<(), sqlx::Error> {
        lock_party_in(tx, party_id).await
    }

    /// A transaction-scoped lock on a named resource (PostgreSQL advisory lock).
    pub async fn advisory_lock(&self, tx: &mut Conn, scope: &str, name: &str) -> Result<(), sqlx::Error> {
        advisory_lock_in(tx, scope, name).await
    }

    /// Cheap round trip for readiness checks.
    pub async fn ping(&self) -> Result<(), sqlx::Error> {
        sqlx::query("SELECT 1").execute(&self.reader).await?;
        Ok(())
    }

    /// Writes the WAL back into the main file and truncates it to zero bytes (SQLite), so
    /// that bytes removed from tables (zeroed in their pages by `secure_delete`) also leave
    /// the WAL, which still holds the page images written before. Returns whether it
    /// completed: a reader in the middle of a read transaction blocks it (after the busy
    /// timeout); callers retry. Always `Completed` on PostgreSQL, which has no such file.
    pub async fn checkpoint(&self) -> Result<Checkpoint, sqlx::Error> {
        if self.backend != Backend::Sqlite {
            return Ok(Checkpoint::Completed);
        }
        // (busy, frames in the WAL, frames checkpointed): busy = 1 when a reader or writer
        // kept the checkpoint from finishing, so the WAL was not truncated.
        let (busy, log, done): (i64, i64, i64) =
            sqlx::query_as("PRAGMA wal_checkpoint(TRUNCATE)").fetch_one(&self.writer).await?;
        Ok(if busy == 0 && log == done { Checkpoint::Completed } else { Checkpoint::Blocked })
    }

    pub async fn close(&self) {
        if let Some(maintenance) = &self.maintenance {
            maintenance.close().await;
        }
        self.writer.close().await;
        self.reader.close().await;
    }
}

/// What [`Db::checkpoint`] achieved.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Checkpoint {
    /// Every WAL frame is in the main file and the WAL is empty.
    Completed,
    /// A reader kept it from completing; the WAL may still hold old page images.
    Blocked,
}

/// The backend behind a connection, for functions that are handed only a connection.
pub fn backend_of_conn(conn: &Conn) -> Backend {
    if conn.backend_name().eq_ignore_ascii_case("postgresql") {
        Backend::Postgres
    } else {
        Backend::Sqlite
    }
}

/// [`Db::lock_party`] for code that holds only the transaction (domain functions called
/// inside another module's transaction take the party lock themselves; taking it twice in
/// one transaction is harmless).
pub async fn lock_party_in(conn: &mut Conn, party_id: &str) -> Result<(), sqlx::Error> {
    advisory_lock_in(conn, "party", party_id).await
}

/// [`Db::advisory_lock`] for code that holds only the transaction.
pub async fn advisory_lock_in(conn: &mut Conn, scope: &str, name: &str) -> Result<(), sqlx::Error> {
    if backend_of_conn(conn) == Backend::Postgres {
        sqlx::query("SELECT 1 FROM (SELECT pg_advisory_xact_lock(hashtextextended($1, 0))) AS locked")
            .bind(format!("{scope}:{name}"))
            .execute(&mut *conn)
            .await?;
    }
    Ok(())
}

fn backend_of(url: &str) -> Result<Backend, DbError> {
    if url.starts_with("sqlite:") {
        Ok(Backend::Sqlite)
    } else if url.starts_with("postgres:") || url.starts_with("postgresql:") {
        Ok(Backend::Postgres)
    } else {
        Err(DbError::UnsupportedUrl)
    }
}

fn sqlite_url_with_create(url: &str) -> String {
    if url.contains("mode=") {
        url.to_string()
    } else if url.contains('?') {
        format!("{url}&mode=rwc")
    } else {
        format!("{url}?mode=rwc")
    }
}

/// A PostgreSQL pool with the session settings every connection needs.
async fn postgres_pool(url: &str, max: u32) -> Result<AnyPool, sqlx::Error> {
    AnyPoolOptions::new()
        .max_connections(max)
        // No ping before every checkout (sqlx's default): it doubled the round trips of
        // every query. A broken connection fails its next statement and is replaced.
        .test_before_acquire(false)
        .acquire_timeout(Duration::from_secs(10))
        .after_connect(|conn, _meta| {
            Box::pin(async move {
                // Custom plans: sqlx keeps prepared statements per connection, and a generic
                // plan made while a table was small (a fresh tenant's first import) kept
                // scanning it sequentially as it grew: 100 ms per identity lookup at 20k rows.
                conn.execute("SET plan_cache_mode = force_custom_plan").await?;
                Ok(())
            })
        })
        .connect(url)
        .await
}

/// What a SQLite pool is for: its cache and checkpoint settings differ.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum SqliteRole {
    Writer,
    Reader,
    Maintenance,
}

/// SQLite pragmas every connection needs: WAL with `synchronous = FULL` (a committed
/// audit record must survive a power loss before data is released), foreign keys, a busy
/// timeout for other processes (the CLI during `serve`), and secure_delete so freed pages
/// are zeroed. Pages are read through a memory map and a larger page cache (random index
/// pages of the audit log otherwise cost a `pread` each). The writer never checkpoints:
/// SQLite's automatic checkpoint runs inside whichever commit crosses the threshold and
/// stalled that request's whole group-commit batch; [`Db::connect`] starts a task that
/// checkpoints in the background on a connection of its own instead.
async fn sqlite_pool(url: &str, max: u32, role: SqliteRole) -> Result<AnyPool, sqlx::Error> {
    let options = AnyConnectOptions::from_str(url)?;
    AnyPoolOptions::new()
        .max_connections(max)
        .min_connections(1)
        // An embedded database has no connection to lose; sqlx's default ping before
        // every checkout only cost a round trip to the connection's worker thread.
        .test_before_acquire(false)
        .acquire_timeout(Duration::from_secs(30))
        .after_connect(move |conn, _meta| {
            Box::pin(async move {
                let cache = if role == SqliteRole::Writer {
                    "PRAGMA cache_size = -65536"
                } else {
                    "PRAGMA cache_size = -16384"
                };
                for pragma in [
                    "PRAGMA journal_mode = WAL",
                    "PRAGMA synchronous = FULL",
                    "PRAGMA foreign_keys = ON",
                    "PRAGMA busy_timeout = 10000",
                    "PRAGMA secure_delete = ON",
                    cache,
                ] {
                    conn.execute(pragma).await?;
                }
                if role == SqliteRole::Writer {
                    conn.execute("PRAGMA wal_autocheckpoint = 0").await?;
                }
                Ok(())
            })
        })
        .connect_with(options)
        .await
}

/// How often the background task copies the WAL back into the database file.
const CHECKPOINT_EVERY: Duration = Duration::from_millis(250);

/// Checkpoints the WAL in the background (PASSIVE: it never blocks the writer or waits
/// for readers) until the pool closes.
fn spawn_checkpointer(pool: AnyPool) {
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(CHECKPOINT_EVERY);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        while !pool.is_closed() {
            tick.tick().await;
            if let Err(error) = pool.execute("PRAGMA wal_checkpoint(PASSIVE)").await {
                if !pool.is_closed() {
                    tracing::warn!(%error, "background WAL checkpoint failed; will retry");
                }
            }
        }
    });
}

/// Numbered placeholders for one statement, in the backend's own style: `$1, $2, …` on
/// PostgreSQL, plain `?` on SQLite. SQLite resolves each *named* parameter (`$N` is a
/// name to it) with a linear search over those seen so far, so a statement with N `$N`
/// placeholders costs O(N²) to prepare: a 1,000-row insert ran at 48k rows/s with `$N`
/// and 1.3M rows/s with `?` here. With `?` the values must be bound in textual order
/// and a value used twice is bound twice.
#[derive(Debug)]
pub struct Placeholders {
    numbered: bool,
    next: usize,
}

impl Placeholders {
    /// Placeholders for a statement on `conn`, the first numbered 1.
    pub fn for_conn(conn: &Conn) -> Self {
        Self::for_backend(backend_of_conn(conn))
    }

    pub fn for_backend(backend: Backend) -> Self {
        Self { numbered: backend == Backend::Postgres, next: 1 }
    }

    /// Continues after `already` parameters that were written by hand.
    pub fn starting_after(mut self, already: usize) -> Self {
        self.next = already + 1;
        self
    }

    /// The next placeholder.
    pub fn one(&mut self) -> String {
        let n = self.next;
        self.next += 1;
        if self.numbered {
            format!("${n}")
        } else {
            "?".to_string()
        }
    }

    /// `p, p, p` for `count` values.
    pub fn list(&mut self, count: usize) -> String {
        (0..count).map(|_| self.one()).collect::<Vec<_>>().join(", ")
    }

    /// `(p, p), (p, p), …` for a multi-row VALUES clause of `rows` × `columns`.
    pub fn rows(&mut self, rows: usize, columns: usize) -> String {
        (0..rows).map(|_| format!("({})", self.list(columns))).collect::<Vec<_>>().join(", ")
    }
}

/// Builds `($1, $2, ...), ($k, ...)` for a multi-row INSERT of `rows` × `columns`
/// (PostgreSQL style; see [`Placeholders`] for statements that run on both backends).
pub fn values_placeholders(rows: usize, columns: usize) -> String {
    Placeholders::for_backend(Backend::Postgres).rows(rows, columns)
}

/// True when the error is a unique-constraint violation (both backends).
pub fn is_unique_violation(err: &sqlx::Error) -> bool {
    match err {
        sqlx::Error::Database(db) => {
            db.is_unique_violation() || db.code().as_deref() == Some("23505") || db.code().as_deref() == Some("2067")
        }
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn placeholders_number_rows_then_columns() {
        assert_eq!(values_placeholders(2, 3), "($1, $2, $3), ($4, $5, $6)");
        assert_eq!(Placeholders::for_backend(Backend::Sqlite).rows(2, 2), "(?, ?), (?, ?)");
        assert_eq!(Placeholders::for_backend(Backend::Postgres).starting_after(2).list(2), "$3, $4");
    }

    #[test]
    fn chunks_are_powers_of_two_that_add_up() {
        for (total, largest) in [(1, 512), (22, 512), (512, 512), (1000, 512), (1025, 64), (7, 3)] {
            let mut left = total;
            let mut sizes = Vec::new();
            while left > 0 {
                let take = chunk_len(left, largest);
                assert!(take.is_power_of_two() && take <= largest, "{take} of {left}, largest {largest}");
                sizes.push(take);
                left -= take;
            }
            assert_eq!(sizes.iter().sum::<usize>(), total);
        }
        assert_eq!(chunk_len(22, 512), 16);
    }

    #[test]
    fn backend_follows_the_url_scheme() {
        assert_eq!(backend_of("sqlite://x.db").ok(), Some(Backend::Sqlite));
        assert_eq!(backend_of("postgres://h/db").ok(), Some(Backend::Postgres));
        assert!(backend_of("mysql://h/db").is_err());
    }
}

/// A value for [`insert_many`]; the portable types both backends share.
#[derive(Clone, Debug)]
pub enum SqlValue {
    Text(String),
    OptText(Option<String>),
    Int(i64),
    OptInt(Option<i64>),
    Blob(Vec<u8>),
    OptBlob(Option<Vec<u8>>),
}

/// Most bound parameters in one multi-row statement (SQLite allows 32,766, PostgreSQL
/// 65,535). Large statements amortise the ~70 µs every statement costs here.
const MAX_PARAMS_PER_STATEMENT: usize = 8_192;

/// Most rows in one multi-row statement.
const MAX_ROWS_PER_STATEMENT: usize = 512;

/// Inserts `rows` into `table` as multi-row `INSERT ... VALUES (...), (...)` statements.
/// Batching is the whole game for bulk writes (DESIGN.md "Performance").
pub async fn insert_many(
    conn: &mut Conn,
    table: &str,
    columns: &[&str],
    rows: &[Vec<SqlValue>],
) -> Result<(), sqlx::Error> {
    insert_many_with(conn, table, columns, rows, "").await
}

/// [`insert_many`] with a clause after the values, e.g. `ON CONFLICT ... DO NOTHING`.
///
/// Rows go out in chunks whose sizes are powers of two (a batch of 22 rows is 16 + 4 + 2),
/// so however batch sizes vary, each table needs only a handful of distinct statements
/// and every one is prepared once per connection and then reused from sqlx's cache.
pub async fn insert_many_with(
    conn: &mut Conn,
    table: &str,
    columns: &[&str],
    rows: &[Vec<SqlValue>],
    suffix: &str,
) -> Result<(), sqlx::Error> {
    let backend = backend_of_conn(conn);
    let largest = (MAX_PARAMS_PER_STATEMENT / columns.len().max(1)).clamp(1, MAX_ROWS_PER_STATEMENT);
    let mut rest = rows;
    while !rest.is_empty() {
        let take = chunk_len(rest.len(), largest);
        let (chunk, tail) = rest.split_at(take);
        let sql = format!(
            "INSERT INTO {table} ({}) VALUES {} {suffix}",
            columns.join(", "),
            Placeholders::for_backend(backend).rows(chunk.len(), columns.len())
        );
        bind_all(sqlx::query(&sql), chunk.iter().flatten()).execute(&mut *conn).await?;
        rest = tail;
    }
    Ok(())
}

/// The next chunk of `remaining` rows: the largest power of two not above it or `largest`.
pub fn chunk_len(remaining: usize, largest: usize) -> usize {
    let cap = remaining.min(largest.max(1));
    1 << (usize::BITS - 1 - cap.leading_zeros())
}

/// Binds each value in order.
pub fn bind_all<'q>(
    mut query: sqlx::query::Query<'q, sqlx::Any, sqlx::any::AnyArguments<'q>>,
    values: impl IntoIterator<Item = &'q SqlValue>,
) -> sqlx::query::Query<'q, sqlx::Any, sqlx::any::AnyArguments<'q>> {
    for value in values {
        query = match value {
            SqlValue::Text(v) => query.bind(v.as_str()),
            SqlValue::OptText(v) => query.bind(v.as_deref()),
            SqlValue::Int(v) => query.bind(*v),
            SqlValue::OptInt(v) => query.bind(*v),
            SqlValue::Blob(v) => query.bind(v.as_slice()),
            SqlValue::OptBlob(v) => query.bind(v.as_deref()),
        };
    }
    query
}
