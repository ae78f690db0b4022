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
                let writer = sqlite_pool(&url, 1).await?;
                let reader = sqlite_pool(&url, read_connections.max(1)).await?;
                Ok(Self { backend, writer, reader })
            }
            Backend::Postgres => {
                // Custom plans: sqlx keeps prepared statements per connection, and a generic
                // plan made while a table was small (a fresh tenant's first import) kept
                // scanning it sequentially as it grew: 100 ms per identity lookup at 20k rows.
                let pool = AnyPoolOptions::new()
                    .max_connections(read_connections.max(2) * 4)
                    .acquire_timeout(Duration::from_secs(10))
                    .after_connect(|conn, _meta| {
                        Box::pin(async move {
                            conn.execute("SET plan_cache_mode = force_custom_plan").await?;
                            Ok(())
                        })
                    })
                    .connect(url)
                    .await?;
                Ok(Self { backend, writer: pool.clone(), reader: pool })
            }
        }
    }

    pub fn backend(&self) -> Backend {
        self.backend
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
    if conn.backend_name() == "PostgreSQL" {
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

/// SQLite pragmas every connection needs: WAL with `synchronous = FULL` (a committed
/// audit record must survive a power loss before data is released), foreign keys, a busy
/// timeout for other processes (the CLI during `serve`), and secure_delete so freed pages
/// are zeroed.
async fn sqlite_pool(url: &str, max: u32) -> Result<AnyPool, sqlx::Error> {
    let options = AnyConnectOptions::from_str(url)?;
    AnyPoolOptions::new()
        .max_connections(max)
        .min_connections(1)
        .acquire_timeout(Duration::from_secs(30))
        .after_connect(|conn, _meta| {
            Box::pin(async move {
                for pragma in [
                    "PRAGMA journal_mode = WAL",
                    "PRAGMA synchronous = FULL",
                    "PRAGMA foreign_keys = ON",
                    "PRAGMA busy_timeout = 10000",
                    "PRAGMA secure_delete = ON",
                ] {
                    conn.execute(pragma).await?;
                }
                Ok(())
            })
        })
        .connect_with(options)
        .await
}

/// Builds `($1, $2, ...), ($k, ...)` for a multi-row INSERT of `rows` × `columns`.
pub fn values_placeholders(rows: usize, columns: usize) -> String {
    let mut out = String::with_capacity(rows * columns * 5);
    for row in 0..rows {
        if row > 0 {
            out.push_str(", ");
        }
        out.push('(');
        for col in 0..columns {
            if col > 0 {
                out.push_str(", ");
            }
            out.push('$');
            out.push_str(&(row * columns + col + 1).to_string());
        }
        out.push(')');
    }
    out
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

/// Bound parameters per multi-row statement. Enough rows to amortise the ~70 µs each
/// statement costs, but no more: binding through sqlx's `Any` driver grows faster than
/// linearly with the parameter count (measured here on SQLite: 50 rows × 4 columns
/// inserted ~340k rows/s, 1,000 rows × 4 columns ~30k rows/s).
const PARAMS_PER_STATEMENT: usize = 200;

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
pub async fn insert_many_with(
    conn: &mut Conn,
    table: &str,
    columns: &[&str],
    rows: &[Vec<SqlValue>],
    suffix: &str,
) -> Result<(), sqlx::Error> {
    let per_statement = (PARAMS_PER_STATEMENT / columns.len().max(1)).max(1);
    for chunk in rows.chunks(per_statement) {
        let sql = format!(
            "INSERT INTO {table} ({}) VALUES {} {suffix}",
            columns.join(", "),
            values_placeholders(chunk.len(), columns.len())
        );
        bind_all(sqlx::query(&sql), chunk.iter().flatten()).execute(&mut *conn).await?;
    }
    Ok(())
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
