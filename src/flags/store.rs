//! SQL for party flag events. Append-only: an INSERT and SELECTs; database triggers
//! (migration 0005) refuse any UPDATE or DELETE. The caller owns the transaction and,
//! for writes, holds the party lock.

use super::domain::{FlagAction, FlagChange, FlagEvent, FlagKind, FlagReason, Insolvency};
use crate::audit::merkle::Hash;
use crate::db::Conn;
use sqlx::any::AnyRow;
use sqlx::Row;

const COLUMNS: &str = "id, tenant_id, party_id, seq, action, flag, reason, reference, admitted_on, \
                       creditor_notified_on, recorded_at, recorded_by, on_behalf_of, sha256";

pub async fn next_seq(conn: &mut Conn, party: &str) -> Result<u64, sqlx::Error> {
    let max: Option<i64> = sqlx::query_scalar("SELECT MAX(seq) FROM party_flag_events WHERE party_id = $1")
        .bind(party)
        .fetch_one(&mut *conn)
        .await?;
    Ok(u64::try_from(max.unwrap_or(0)).unwrap_or(0) + 1)
}

pub async fn insert(conn: &mut Conn, event: &FlagEvent) -> Result<(), sqlx::Error> {
    let c = &event.change;
    let insolvency = c.insolvency.as_ref();
    sqlx::query(&format!(
        "INSERT INTO party_flag_events ({COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14)"
    ))
    .bind(&event.id)
    .bind(&event.tenant)
    .bind(&event.party)
    .bind(i64::try_from(event.seq).unwrap_or(i64::MAX))
    .bind(c.action.as_str())
    .bind(c.flag.as_str())
    .bind(c.reason.as_str())
    .bind(c.reference.as_deref())
    .bind(insolvency.map(|i| i.admitted_on.as_str()))
    .bind(insolvency.and_then(|i| i.creditor_notified_on.as_deref()))
    .bind(&event.recorded_at)
    .bind(event.recorded_by.as_deref())
    .bind(event.on_behalf_of.as_deref())
    .bind(event.sha256().to_vec())
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// Every flag event of the party in `seq` order, each with the hash stored beside it.
pub async fn events(conn: &mut Conn, tenant: &str, party: &str) -> Result<Vec<(FlagEvent, Hash)>, sqlx::Error> {
    let rows = sqlx::query(&format!(
        "SELECT {COLUMNS} FROM party_flag_events WHERE tenant_id = $1 AND party_id = $2 ORDER BY seq"
    ))
    .bind(tenant)
    .bind(party)
    .fetch_all(&mut *conn)
    .await?;
    rows.iter().map(decode).collect()
}

fn corrupt(what: &str) -> sqlx::Error {
    sqlx::Error::Decode(format!("party_flag_events: {what}").into())
}

fn decode(row: &AnyRow) -> Result<(FlagEvent, Hash), sqlx::Error> {
    let action: String = row.try_get("action")?;
    let flag: String = row.try_get("flag")?;
    let reason: String = row.try_get("reason")?;
    let admitted_on: Option<String> = row.try_get("admitted_on")?;
    let notified: Option<String> = row.try_get("creditor_notified_on")?;
    let hash: Vec<u8> = row.try_get("sha256")?;
    let event = FlagEvent {
        id: row.try_get("id")?,
        tenant: row.try_get("tenant_id")?,
        party: row.try_get("party_id")?,
        seq: u64::try_from(row.try_get::<i64, _>("seq")?).map_err(|_| corrupt("negative seq"))?,
        change: FlagChange {
            action: action.parse::<FlagAction>().map_err(|_| corrupt("action"))?,
            flag: flag.parse::<FlagKind>().map_err(|_| corrupt("flag"))?,
            reason: reason.parse::<FlagReason>().map_err(|_| corrupt("reason"))?,
            reference: row.try_get("reference")?,
            insolvency: admitted_on.map(|admitted_on| Insolvency { admitted_on, creditor_notified_on: notified }),
        },
        recorded_at: row.try_get("recorded_at")?,
        recorded_by: row.try_get("recorded_by")?,
        on_behalf_of: row.try_get("on_behalf_of")?,
    };
    Ok((event, hash.try_into().map_err(|_| corrupt("hash is not 32 bytes"))?))
}
