//! Reading a log's sealed records from PostgreSQL, for `audit verify`.
//!
//! Through sqlx's `Any` driver every column of every row was copied into an owned value
//! before it could be encoded; native rows lend their columns out of the row buffer. A few
//! chunks are fetched at once over a small pool of the verifier's own, each is checked on
//! the blocking pool (every core), and they come back in order for the merge.

use super::chunk::{check_chunk, item, Chunk, StoredRow, COLUMNS};
use futures::stream::{FuturesOrdered, StreamExt};
use sqlx::postgres::{PgPoolOptions, PgRow};
use sqlx::Row;

/// Chunks fetched or checked at the same time.
const IN_FLIGHT: usize = 3;

/// Checks the records with leaf indices `0..latest` of `log` in chunks of `chunk_size`
/// and hands each chunk to `merge` in leaf order; stops at the first chunk `merge` refuses.
pub async fn walk<F>(
    url: &str,
    log: &str,
    latest: u64,
    chunk_size: u64,
    mut merge: impl FnMut(Chunk) -> Result<(), F>,
) -> Result<Result<(), F>, sqlx::Error> {
    let pool = PgPoolOptions::new().max_connections(IN_FLIGHT as u32).connect(url).await?;
    let sql = format!(
        "SELECT {COLUMNS} FROM audit_records WHERE log_id = $1 AND leaf_index >= $2 AND leaf_index < $3 ORDER BY leaf_index"
    );
    let chunk_size = chunk_size.max(1);
    let mut starts = (0..latest).step_by(usize::try_from(chunk_size).unwrap_or(usize::MAX));
    let mut pending = FuturesOrdered::new();
    let fetch = |first: u64| {
        let (pool, sql, log) = (pool.clone(), sql.clone(), log.to_string());
        let end = first.saturating_add(chunk_size).min(latest);
        async move {
            let rows = sqlx::query(&sql).bind(&log).bind(to_i64(first)).bind(to_i64(end)).fetch_all(&pool).await?;
            let items = move || check_chunk(first, end - first, rows.iter().map(|row| item(log.as_bytes(), row)));
            tokio::task::spawn_blocking(items).await.map_err(|e| sqlx::Error::Protocol(format!("verifier task: {e}")))
        }
    };
    for first in starts.by_ref().take(IN_FLIGHT) {
        pending.push_back(fetch(first));
    }
    while let Some(chunk) = pending.next().await {
        if let Some(first) = starts.next() {
            pending.push_back(fetch(first));
        }
        if let Err(failure) = merge(chunk?) {
            pool.close().await;
            return Ok(Err(failure));
        }
    }
    pool.close().await;
    Ok(Ok(()))
}

fn to_i64(value: u64) -> i64 {
    i64::try_from(value).unwrap_or(i64::MAX)
}

impl StoredRow for PgRow {
    fn int(&self, column: usize) -> Result<Option<i64>, String> {
        self.try_get(column).map_err(|e| format!("column {column}: {e}"))
    }

    fn text(&self, column: usize) -> Result<Option<&[u8]>, String> {
        self.try_get::<Option<&str>, _>(column)
            .map(|t| t.map(str::as_bytes))
            .map_err(|e| format!("column {column}: {e}"))
    }

    fn blob(&self, column: usize) -> Result<Option<&[u8]>, String> {
        self.try_get(column).map_err(|e| format!("column {column}: {e}"))
    }
}
