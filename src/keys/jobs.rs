//! The key-job queue: rotations that run in the background, stored in `key_jobs` so that
//! every gateway instance shares them and a crashed worker's job is taken up again.
//!
//! Today there is one kind, `rotate_data`: "give tenant T a data-key version of at least
//! `retire_below` and retire every version below it". Every erasure queues one (see
//! `crate::vault::erasure`): the erased party's wrapped key may survive in PostgreSQL dead
//! tuples, WAL archives and backups, and once the version it was wrapped under is retired
//! no live key opens it.
//!
//! Invariants:
//! - At most one *queued* job per tenant and kind: queueing again raises the queued job's
//!   `retire_below` instead of adding one (`key_jobs_one_queued`).
//! - At most one *claimed* job per tenant and kind (`key_jobs_one_claimed`), and a queued
//!   job is not claimed while another for the same tenant is claimed: a job queued while
//!   one runs waits for it, then retires what the running one rewrapped meanwhile.
//! - A claim is a lease (`lease_owner`, `lease_expires_at`). On PostgreSQL the claim
//!   selects with `FOR UPDATE SKIP LOCKED`, so concurrent workers never take the same row;
//!   SQLite's single writer serialises claims. A claimed job whose lease expired (its
//!   worker died, or it failed and waits for its retry) is claimed again; every claim
//!   counts in `attempts`.
//!
//! Times are the database's text form (`crate::clock::to_db_time`), which sorts.

use crate::clock::to_db_time;
use crate::db::{Backend, Conn, Db};
use crate::ids::TenantId;
use chrono::{DateTime, Utc};
use serde::Serialize;
use sqlx::Row;
use std::time::Duration;

pub const ROTATE_DATA: &str = "rotate_data";

/// One row of `key_jobs`, as `custodia keys jobs` shows it.
#[derive(Clone, Debug, Serialize)]
pub struct Job {
    pub id: String,
    pub tenant: String,
    pub kind: String,
    /// queued, claimed or done.
    pub state: String,
    /// Every data-key version below this one must end up retired.
    pub retire_below: u32,
    pub run_after: String,
    pub attempts: i64,
    pub lease_owner: Option<String>,
    pub lease_expires_at: Option<String>,
    pub claimed_at: Option<String>,
    pub last_error: Option<String>,
    pub created_at: String,
    pub finished_at: Option<String>,
}

impl Job {
    pub fn tenant_id(&self) -> TenantId {
        TenantId::from_db(self.tenant.clone())
    }

    /// queued, running (lease held), retrying (failed, waiting for `run_after`), or done.
    pub fn status(&self) -> &'static str {
        match (self.state.as_str(), self.lease_owner.is_some()) {
            ("queued", _) => "queued",
            ("claimed", true) => "running",
            ("claimed", false) => "retrying",
            _ => "done",
        }
    }
}

const COLUMNS: &str = "id, tenant_id, kind, state, retire_below, run_after, attempts, lease_owner, lease_expires_at, claimed_at, last_error, created_at, finished_at";

fn job(row: &sqlx::any::AnyRow) -> Result<Job, sqlx::Error> {
    Ok(Job {
        id: row.try_get("id")?,
        tenant: row.try_get("tenant_id")?,
        kind: row.try_get("kind")?,
        state: row.try_get("state")?,
        retire_below: u32::try_from(row.try_get::<i64, _>("retire_below")?).unwrap_or(u32::MAX),
        run_after: row.try_get("run_after")?,
        attempts: row.try_get("attempts")?,
        lease_owner: row.try_get("lease_owner")?,
        lease_expires_at: row.try_get("lease_expires_at")?,
        claimed_at: row.try_get("claimed_at")?,
        last_error: row.try_get("last_error")?,
        created_at: row.try_get("created_at")?,
        finished_at: row.try_get("finished_at")?,
    })
}

fn later(now: DateTime<Utc>, by: Duration) -> String {
    to_db_time(now + chrono::Duration::from_std(by).unwrap_or(chrono::Duration::MAX))
}

/// Queues "rotate `tenant`'s data key and retire every version below `retire_below`" in
/// the caller's transaction, or raises the already queued job's `retire_below`; returns
/// the queued job's id.
pub async fn enqueue_data_rotation(
    conn: &mut Conn,
    tenant: &TenantId,
    retire_below: u32,
    now: &str,
) -> Result<String, sqlx::Error> {
    sqlx::query_scalar(
        "INSERT INTO key_jobs (id, tenant_id, kind, state, retire_below, run_after, attempts, created_at, updated_at) \
         VALUES ($1, $2, $3, 'queued', $4, $5, 0, $5, $5) \
         ON CONFLICT (tenant_id, kind) WHERE state = 'queued' DO UPDATE SET \
         retire_below = CASE WHEN excluded.retire_below > key_jobs.retire_below THEN excluded.retire_below ELSE key_jobs.retire_below END, \
         updated_at = excluded.updated_at \
         RETURNING id",
    )
    .bind(uuid::Uuid::now_v7().to_string())
    .bind(tenant.as_str())
    .bind(ROTATE_DATA)
    .bind(i64::from(retire_below))
    .bind(now)
    .fetch_one(&mut *conn)
    .await
}

/// Claims the next due job for `owner` until `now + lease`: a claimed job whose lease
/// expired first (it was started and must be finished), then the oldest queued job of a
/// tenant that has no claimed job. None when nothing is due.
pub async fn claim(db: &Db, owner: &str, now: DateTime<Utc>, lease: Duration) -> Result<Option<Job>, sqlx::Error> {
    let skip_locked = if db.backend() == Backend::Postgres { " FOR UPDATE SKIP LOCKED" } else { "" };
    let now_text = to_db_time(now);
    // An idle worker polls: ask the read pool first, so that polling an empty queue never
    // takes SQLite's one write lock (nor a write transaction on PostgreSQL).
    let due: Option<String> = sqlx::query_scalar(
        "SELECT id FROM key_jobs WHERE (state = 'claimed' AND lease_expires_at <= $1) OR (state = 'queued' AND run_after <= $1) LIMIT 1",
    )
    .bind(&now_text)
    .fetch_optional(db.reader())
    .await?;
    if due.is_none() {
        return Ok(None);
    }
    let mut tx = db.begin_write().await?;
    let sql = format!(
        "SELECT j.id FROM key_jobs j WHERE (j.state = 'claimed' AND j.lease_expires_at <= $1) \
         OR (j.state = 'queued' AND j.run_after <= $1 AND NOT EXISTS \
             (SELECT 1 FROM key_jobs c WHERE c.tenant_id = j.tenant_id AND c.kind = j.kind AND c.state = 'claimed')) \
         ORDER BY CASE j.state WHEN 'claimed' THEN 0 ELSE 1 END, j.run_after, j.id LIMIT 1{skip_locked}"
    );
    let Some(id) = sqlx::query_scalar::<_, String>(&sql).bind(&now_text).fetch_optional(&mut *tx).await? else {
        return Ok(None);
    };
    // The WHERE repeats what made the row claimable: re-checked on the row as committed
    // (PostgreSQL re-evaluates it after waiting), so even without the row lock two workers
    // could not both claim it.
    let claimed = sqlx::query(
        "UPDATE key_jobs SET state = 'claimed', lease_owner = $1, lease_expires_at = $2, claimed_at = $3, \
         attempts = attempts + 1, updated_at = $3 WHERE id = $4 \
         AND (state = 'queued' OR (state = 'claimed' AND lease_expires_at <= $3))",
    )
    .bind(owner)
    .bind(later(now, lease))
    .bind(&now_text)
    .bind(&id)
    .execute(&mut *tx)
    .await;
    match claimed {
        Ok(done) if done.rows_affected() == 1 => {}
        Ok(_) => return Ok(None),
        // Another worker claimed a job of the same tenant in between: the fence held.
        Err(err) if crate::db::is_unique_violation(&err) => return Ok(None),
        Err(err) => return Err(err),
    }
    let sql = format!("SELECT {COLUMNS} FROM key_jobs WHERE id = $1");
    let row = sqlx::query(&sql).bind(&id).fetch_one(&mut *tx).await?;
    tx.commit().await?;
    Ok(Some(job(&row)?))
}

/// Extends `owner`'s lease; false when the lease is no longer `owner`'s (it expired and
/// another worker took the job over), in which case `owner` must stop working on it.
pub async fn renew(db: &Db, id: &str, owner: &str, now: DateTime<Utc>, lease: Duration) -> Result<bool, sqlx::Error> {
    let mut tx = db.begin_write().await?;
    let renewed = sqlx::query(
        "UPDATE key_jobs SET lease_expires_at = $1, updated_at = $2 WHERE id = $3 AND lease_owner = $4 AND state = 'claimed'",
    )
    .bind(later(now, lease))
    .bind(to_db_time(now))
    .bind(id)
    .bind(owner)
    .execute(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok(renewed.rows_affected() == 1)
}

/// Marks `owner`'s job done in the caller's transaction (which also holds the job's audit
/// record); false when the lease was lost.
pub async fn complete(conn: &mut Conn, id: &str, owner: &str, now: &str) -> Result<bool, sqlx::Error> {
    let done = sqlx::query(
        "UPDATE key_jobs SET state = 'done', finished_at = $1, updated_at = $1, lease_expires_at = NULL, last_error = NULL \
         WHERE id = $2 AND lease_owner = $3 AND state = 'claimed'",
    )
    .bind(now)
    .bind(id)
    .bind(owner)
    .execute(&mut *conn)
    .await?;
    Ok(done.rows_affected() == 1)
}

/// Gives up `owner`'s lease until `retry_at` (a failure, with `error` saying why, or a
/// shutdown with `retry_at` = now): the job stays claimed, with no owner, and is claimed
/// again once `retry_at` passes.
pub async fn release(
    db: &Db,
    id: &str,
    owner: &str,
    now: DateTime<Utc>,
    retry_at: DateTime<Utc>,
    error: Option<&str>,
) -> Result<(), sqlx::Error> {
    let mut tx = db.begin_write().await?;
    let retry = to_db_time(retry_at);
    sqlx::query(
        "UPDATE key_jobs SET lease_owner = NULL, lease_expires_at = $1, run_after = $1, \
         last_error = COALESCE($2, last_error), updated_at = $3 WHERE id = $4 AND lease_owner = $5 AND state = 'claimed'",
    )
    .bind(&retry)
    .bind(error)
    .bind(to_db_time(now))
    .bind(id)
    .bind(owner)
    .execute(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok(())
}

/// How long to wait before attempt `attempts + 1`: 5 s doubling per attempt, at most `max`.
pub fn backoff(attempts: i64, max: Duration) -> Duration {
    let exponent = u32::try_from(attempts.clamp(1, 20) - 1).unwrap_or(0);
    Duration::from_secs(5).saturating_mul(2u32.saturating_pow(exponent)).min(max)
}

/// Jobs, newest first (`custodia keys jobs`).
pub async fn list(db: &Db, tenant: Option<&TenantId>, limit: i64) -> Result<Vec<Job>, sqlx::Error> {
    let order = "ORDER BY created_at DESC, id DESC";
    let rows = match tenant {
        Some(tenant) => {
            let sql = format!("SELECT {COLUMNS} FROM key_jobs WHERE tenant_id = $1 {order} LIMIT $2");
            sqlx::query(&sql).bind(tenant.as_str()).bind(limit).fetch_all(db.reader()).await?
        }
        None => {
            let sql = format!("SELECT {COLUMNS} FROM key_jobs {order} LIMIT $1");
            sqlx::query(&sql).bind(limit).fetch_all(db.reader()).await?
        }
    };
    rows.iter().map(job).collect()
}

/// One job by id.
pub async fn get(db: &Db, id: &str) -> Result<Option<Job>, sqlx::Error> {
    let sql = format!("SELECT {COLUMNS} FROM key_jobs WHERE id = $1");
    sqlx::query(&sql).bind(id).fetch_optional(db.reader()).await?.as_ref().map(job).transpose()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_from_five_seconds_up_to_the_cap() {
        let cap = Duration::from_secs(3600);
        let waits: Vec<u64> = (1..=12).map(|n| backoff(n, cap).as_secs()).collect();
        assert_eq!(waits, vec![5, 10, 20, 40, 80, 160, 320, 640, 1280, 2560, 3600, 3600]);
        assert_eq!(backoff(0, cap).as_secs(), 5);
        assert_eq!(backoff(i64::MAX, cap), cap);
    }
}
