//! SQL for retention holds: stored retention periods, and the open obligations that hold
//! a party's data. The caller owns the transaction.

use super::domain::{NewPeriod, StoredPeriod, SETTLED_STATUSES};
use crate::db::Conn;
use chrono::NaiveDate;
use sqlx::Row;

const COLUMNS: &str =
    "id, party_id, basis, starts_on, ends_on, erase_at_end, created_at, created_by, released_at, released_by";

fn day(text: &str) -> Result<NaiveDate, sqlx::Error> {
    NaiveDate::parse_from_str(text, "%Y-%m-%d").map_err(|e| sqlx::Error::Decode(Box::new(e)))
}

fn period(row: &sqlx::any::AnyRow) -> Result<StoredPeriod, sqlx::Error> {
    let ends_on: Option<String> = row.try_get("ends_on")?;
    Ok(StoredPeriod {
        id: row.try_get("id")?,
        party_id: row.try_get("party_id")?,
        period: NewPeriod {
            basis: row.try_get("basis")?,
            starts_on: day(&row.try_get::<String, _>("starts_on")?)?,
            ends_on: ends_on.as_deref().map(day).transpose()?,
            erase_at_end: row.try_get::<i64, _>("erase_at_end")? != 0,
        },
        created_at: row.try_get("created_at")?,
        created_by: row.try_get("created_by")?,
        released_at: row.try_get("released_at")?,
        released_by: row.try_get("released_by")?,
    })
}

pub async fn insert(conn: &mut Conn, tenant: &str, hold: &StoredPeriod) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO retention_holds (id, tenant_id, party_id, basis, starts_on, ends_on, erase_at_end, created_at, created_by) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
    )
    .bind(&hold.id)
    .bind(tenant)
    .bind(&hold.party_id)
    .bind(&hold.period.basis)
    .bind(hold.period.starts_on.to_string())
    .bind(hold.period.ends_on.map(|d| d.to_string()))
    .bind(i64::from(hold.period.erase_at_end))
    .bind(&hold.created_at)
    .bind(&hold.created_by)
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// Every stored period of the party (released and ended ones too), oldest first.
pub async fn list(conn: &mut Conn, tenant: &str, party: &str) -> Result<Vec<StoredPeriod>, sqlx::Error> {
    let sql =
        format!("SELECT {COLUMNS} FROM retention_holds WHERE tenant_id = $1 AND party_id = $2 ORDER BY created_at, id");
    let rows = sqlx::query(&sql).bind(tenant).bind(party).fetch_all(&mut *conn).await?;
    rows.iter().map(period).collect()
}

pub async fn find(conn: &mut Conn, tenant: &str, party: &str, id: &str) -> Result<Option<StoredPeriod>, sqlx::Error> {
    let sql = format!("SELECT {COLUMNS} FROM retention_holds WHERE tenant_id = $1 AND party_id = $2 AND id = $3");
    sqlx::query(&sql)
        .bind(tenant)
        .bind(party)
        .bind(id)
        .fetch_optional(&mut *conn)
        .await?
        .as_ref()
        .map(period)
        .transpose()
}

/// Marks a hold released; false when it already was.
pub async fn release(conn: &mut Conn, id: &str, at: &str, by: &str) -> Result<bool, sqlx::Error> {
    let done = sqlx::query(
        "UPDATE retention_holds SET released_at = $1, released_by = $2 WHERE id = $3 AND released_at IS NULL",
    )
    .bind(at)
    .bind(by)
    .bind(id)
    .execute(&mut *conn)
    .await?;
    Ok(done.rows_affected() == 1)
}

/// (obligation id, role, status) of the party's obligations that are not settled.
pub async fn open_obligations(
    conn: &mut Conn,
    tenant: &str,
    party: &str,
) -> Result<Vec<(String, String, String)>, sqlx::Error> {
    let settled: Vec<String> = SETTLED_STATUSES.iter().map(|s| format!("'{s}'")).collect();
    let sql = format!(
        "SELECT o.id, l.role, o.status FROM obligation_parties l JOIN obligations o ON o.id = l.obligation_id \
         WHERE l.party_id = $1 AND o.tenant_id = $2 AND o.status NOT IN ({}) ORDER BY o.id",
        settled.join(", ")
    );
    let rows = sqlx::query(&sql).bind(party).bind(tenant).fetch_all(&mut *conn).await?;
    rows.iter().map(|r| Ok((r.try_get("id")?, r.try_get("role")?, r.try_get("status")?))).collect()
}

/// Parties (tenant, party) with an unreleased `erase_at_end` period whose last day is
/// before `before`, not erased yet, oldest end first: candidates for the erasure a
/// blocked cancellation promised. Each must still pass `retention::holds` when erased.
pub async fn due_for_erasure(
    conn: &mut Conn,
    before: NaiveDate,
    limit: i64,
) -> Result<Vec<(String, String)>, sqlx::Error> {
    let rows = sqlx::query(
        "SELECT h.tenant_id, h.party_id, MIN(h.ends_on) AS first_end FROM retention_holds h JOIN parties p ON p.id = h.party_id \
         WHERE h.erase_at_end = 1 AND h.released_at IS NULL AND h.ends_on < $1 AND p.erased_at IS NULL \
         GROUP BY h.tenant_id, h.party_id ORDER BY first_end, h.party_id LIMIT $2",
    )
    .bind(before.to_string())
    .bind(limit)
    .fetch_all(&mut *conn)
    .await?;
    rows.iter().map(|r| Ok((r.try_get("tenant_id")?, r.try_get("party_id")?))).collect()
}
