//! Database access for both backends: SQLite (the embedded default) and PostgreSQL.
//!
//! Owns connection set-up, migrations and the transaction discipline of DESIGN.md
//! "Storage": on SQLite every write runs as `BEGIN IMMEDIATE`, one at a time: on the
//! writer pool's one connection, or on the audit thread's own ([`exec::SqliteWriter`]),
//! which takes its turns through that pool (readers use their own pool, WAL lets them run
//! alongside); on PostgreSQL
//! writes share one pool and serialise per party with transaction-scoped advisory locks.
//!
//! Both backends run the same SQL text through sqlx's `Any` driver: fixed queries use
//! `$N` placeholders (fine on both for a handful of parameters), statements built at run
//! time use [`bulk::Placeholders`] (`?` on SQLite), all with portable types (TEXT,
//! BIGINT/INTEGER, BLOB/BYTEA); the few places where dialects differ ask
//! [`Db::backend`]. Domain modules own their queries; this module only hands out
//! connections and transactions.

mod bulk;
pub mod exec;

pub use bulk::{
    bind_all, chunk_len, insert_many, insert_many_with, padded, values_placeholders, Placeholders, SqlValue,
};

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
    /// SQLite only: the database file, for code that opens it without sqlx (the verifier,
    /// the audit thread's writer).
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
                let pool = postgres_pool(url, read_connections.max(2) * 4, None).await?;
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
    /// reactor drives them), so this opens a pool of `connections` on the calling runtime.
    /// Its sessions wait at most [`AUDIT_LOCK_TIMEOUT`] for a lock, so a lock held
    /// elsewhere fails a batch (503) instead of holding every audited request.
    pub async fn for_dedicated_runtime(&self, connections: u32) -> Result<Db, sqlx::Error> {
        let Some(url) = &self.postgres_url else { return Ok(self.clone()) };
        let pool = postgres_pool(url.expose_secret(), connections.max(1), Some(AUDIT_LOCK_TIMEOUT)).await?;
        Ok(Self {
            backend: self.backend,
            writer: pool.clone(),
            reader: pool,
            maintenance: None,
            postgres_url: self.postgres_url.clone(),
            sqlite_file: None,
        })
    }

    /// Closes a pool opened by [`Db::for_dedicated_runtime`] (SQLite's shared pools are
    /// left to their owner).
    pub async fn close_dedicated(&self) {
        if self.backend == Backend::Postgres {
            self.writer.close().await;
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
    ///
    /// The begin runs as a task of its own, to completion even when the caller is
    /// cancelled (a client that went away, a deadline): sqlx's begin with a custom
    /// statement awaits once more after `BEGIN IMMEDIATE` succeeded, and a future dropped
    /// there left the pooled writer inside a transaction that nothing could end, holding
    /// SQLite's write lock for good. A finished begin whose caller is gone drops its
    /// [`Tx`], which rolls back.
    pub async fn begin_write(&self) -> Result<Tx, sqlx::Error> {
        let writer = self.writer.clone();
        let begin = match self.backend {
            Backend::Sqlite => tokio::spawn(async move { writer.begin_with("BEGIN IMMEDIATE").await }),
            Backend::Postgres => tokio::spawn(async move { writer.begin().await }),
        };
        begin
            .await
            .map_err(|failed| sqlx::Error::Protocol(format!("beginning a write transaction failed: {failed}")))?
    }

    /// The pool for reads that need no write lock.
    pub fn reader(&self) -> &AnyPool {
        &self.reader
    }

    /// The writer pool, for a SQLite writer of this process that runs outside it
    /// ([`exec::SqliteWriter`]) and takes its turns through it.
    pub fn write_turns(&self) -> &AnyPool {
        &self.writer
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
        // This process's writers (the pool's and the audit thread's) wait for it in the
        // writer pool's line: otherwise the audit thread, which takes the lock again as soon
        // as each batch commits, could keep this from ever getting it. The caller must not
        // hold a write transaction.
        let _turn = self.writer.acquire().await?;
        // (busy, frames in the WAL, frames checkpointed): busy = 1 when a reader or writer
        // kept the checkpoint from finishing, so the WAL was not truncated.
        let (busy, log, done): (i64, i64, i64) =
            sqlx::query_as("PRAGMA wal_checkpoint(TRUNCATE)").fetch_one(self.checkpointer()).await?;
        Ok(if busy == 0 && log == done { Checkpoint::Completed } else { Checkpoint::Blocked })
    }

    /// The connection checkpoints run on: the background checkpointer's own on SQLite, so
    /// an explicit checkpoint never collides with a background one (a checkpoint that finds
    /// another running gives up at once) and never holds the writer while it waits.
    fn checkpointer(&self) -> &AnyPool {
        self.maintenance.as_ref().unwrap_or(&self.writer)
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

/// The party locks of `sorted_ids` in one round trip, in the order given: callers pass
/// ids sorted (as every caller that takes several party locks does), so that two
/// transactions never wait on each other. A no-op on SQLite, like [`lock_party_in`].
pub async fn lock_parties_in(conn: &mut Conn, sorted_ids: &[String]) -> Result<(), sqlx::Error> {
    if backend_of_conn(conn) != Backend::Postgres {
        return Ok(());
    }
    for chunk in sorted_ids.chunks(1_024) {
        // A VALUES list is scanned in the order written; no ORDER BY here, whose collation
        // could differ from the byte order the callers sort by.
        let values: Vec<String> = (1..=chunk.len()).map(|i| format!("(${i})")).collect();
        let sql = format!(
            "SELECT COUNT(pg_advisory_xact_lock(hashtextextended(name, 0))) FROM (VALUES {}) AS locks(name)",
            values.join(", ")
        );
        let query = chunk.iter().fold(sqlx::query(&sql), |query, id| query.bind(lock_name("party", id)));
        query.execute(&mut *conn).await?;
    }
    Ok(())
}

/// The text an advisory lock is keyed by (hashed by PostgreSQL): one spelling for
/// [`advisory_lock_in`] and [`lock_parties_in`], so both take the same lock for a party.
pub fn lock_name(scope: &str, name: &str) -> String {
    format!("{scope}:{name}")
}

/// PostgreSQL: takes the transaction-scoped advisory lock named by `$1` ([`lock_name`]).
pub const ADVISORY_XACT_LOCK: &str = "SELECT 1 FROM (SELECT pg_advisory_xact_lock(hashtextextended($1, 0))) AS locked";

/// [`Db::advisory_lock`] for code that holds only the transaction.
pub async fn advisory_lock_in(conn: &mut Conn, scope: &str, name: &str) -> Result<(), sqlx::Error> {
    if backend_of_conn(conn) == Backend::Postgres {
        sqlx::query(ADVISORY_XACT_LOCK).bind(lock_name(scope, name)).execute(&mut *conn).await?;
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

/// How long the audit thread's PostgreSQL sessions wait for a lock.
pub const AUDIT_LOCK_TIMEOUT: Duration = Duration::from_secs(10);

/// A PostgreSQL pool with the session settings every connection needs (and a lock
/// timeout, when given).
async fn postgres_pool(url: &str, max: u32, lock_timeout: Option<Duration>) -> Result<AnyPool, sqlx::Error> {
    AnyPoolOptions::new()
        .max_connections(max)
        // No ping before every checkout (sqlx's default): it doubled the round trips of
        // every query. A broken connection fails its next statement and is replaced.
        .test_before_acquire(false)
        .acquire_timeout(Duration::from_secs(10))
        .after_connect(move |conn, _meta| {
            Box::pin(async move {
                // Custom plans: sqlx keeps prepared statements per connection, and a generic
                // plan made while a table was small (a fresh tenant's first import) kept
                // scanning it sequentially as it grew: 100 ms per identity lookup at 20k rows.
                conn.execute("SET plan_cache_mode = force_custom_plan").await?;
                if let Some(timeout) = lock_timeout {
                    conn.execute(format!("SET lock_timeout = '{}ms'", timeout.as_millis()).as_str()).await?;
                }
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
/// are zeroed. A larger page cache spares the random index pages of the audit log a
/// `pread` each. Checkpoints run in the background, on a connection of their own
/// ([`Db::connect`] starts the task): SQLite's automatic checkpoint runs inside whichever
/// commit crosses its threshold, and with the default threshold it stalled a whole
/// group-commit batch every few dozen batches.
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
                    // A backstop only: the background checkpoints copy frames as they come,
                    // so when the WAL does cross this, the writer's own checkpoint has
                    // little left to copy, and completing it lets the next write start the
                    // WAL over (a separate checkpointer alone never lets it restart under
                    // back-to-back writes, and the file would grow with the load).
                    conn.execute("PRAGMA wal_autocheckpoint = 4000").await?;
                    conn.execute("PRAGMA journal_size_limit = 67108864").await?;
                }
                Ok(())
            })
        })
        .connect_with(options)
        .await
}

/// How often the background task copies the WAL back into the database file. Often, so
/// that when the WAL crosses a writer's `wal_autocheckpoint` the checkpoint that writer
/// then runs inside its commit finds little left to copy: under the audited-read load, at
/// 250 ms about 17 in 7,000 group commits took over 10 ms doing that copy; at 20 ms, 1 to 4.
/// A pass with nothing to copy costs a statement and no I/O.
const CHECKPOINT_EVERY: Duration = Duration::from_millis(20);

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
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use std::future::Future;
    use std::task::{Context, Poll};

    /// A caller may be cancelled (client gone, deadline) at any point of `begin_write`.
    /// sqlx's begin with a custom statement awaits again after `BEGIN IMMEDIATE` succeeded,
    /// and a future dropped there left the pooled writer inside a write transaction no one
    /// could end: SQLite's write lock held for good, every later write refused. Dropping
    /// the future after every number of polls must leave the writer free.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_write_transaction_begun_and_cancelled_at_any_point_leaves_the_writer_free() {
        let dir = tempfile::tempdir().unwrap();
        let db = Db::connect(&format!("sqlite://{}", dir.path().join("cancel.db").display()), 1).await.unwrap();
        db.migrate().await.unwrap();
        let waker = futures::task::noop_waker();
        for polls in 0..400usize {
            let mut begin = Box::pin(db.begin_write());
            for _ in 0..polls % 40 {
                if let Poll::Ready(tx) = begin.as_mut().poll(&mut Context::from_waker(&waker)) {
                    drop(tx.unwrap());
                    break;
                }
                std::thread::sleep(Duration::from_micros((polls / 40) as u64 * 20));
            }
            drop(begin);
            let next = tokio::time::timeout(Duration::from_secs(2), db.begin_write()).await;
            assert!(next.is_ok(), "the writer was still held after a begin dropped at {polls} polls");
            let tx = next.unwrap();
            assert!(tx.is_ok(), "the writer was left broken after {polls} polls: {:?}", tx.as_ref().err());
            let mut tx = tx.unwrap();
            sqlx::query("DELETE FROM idempotency_keys WHERE tenant_id = 'none'").execute(&mut *tx).await.unwrap();
            tx.commit().await.unwrap();
        }
    }

    #[test]
    fn backend_follows_the_url_scheme() {
        assert_eq!(backend_of("sqlite://x.db").ok(), Some(Backend::Sqlite));
        assert_eq!(backend_of("postgres://h/db").ok(), Some(Backend::Postgres));
        assert!(backend_of("mysql://h/db").is_err());
    }
}
