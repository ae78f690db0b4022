//! SQL for the consent ledger. Append-only: there is an INSERT and there are SELECTs;
//! database triggers (migration 0005) refuse any UPDATE or DELETE of an event. The
//! caller owns the transaction and, for writes, holds the party lock.

use super::domain::{ArtefactTerms, Channel, ConsentAction, ConsentKind, ConsentPurpose, ConsentScope, Hours, Method};
use super::event::ConsentEvent;
use crate::audit::merkle::Hash;
use crate::db::Conn;
use sqlx::any::AnyRow;
use sqlx::Row;

const COLUMNS: &str = "id, tenant_id, party_id, seq, action, kind, purpose, channel, destination, obligation_id, \
                       contract_date, hours, method, notice_hash, captured_at, captured_by, source_reference, \
                       document_sha256, recorded_at, recorded_by, sha256";

fn to_i64(value: u64) -> i64 {
    i64::try_from(value).unwrap_or(i64::MAX)
}

pub async fn insert(conn: &mut Conn, event: &ConsentEvent) -> Result<(), sqlx::Error> {
    let s = &event.scope;
    sqlx::query(&format!(
        "INSERT INTO consent_events ({COLUMNS}) VALUES \
         ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19, $20, $21)"
    ))
    .bind(&event.id)
    .bind(&event.tenant)
    .bind(&event.party)
    .bind(to_i64(event.seq))
    .bind(event.action.as_str())
    .bind(s.kind.as_str())
    .bind(s.purpose.as_str())
    .bind(s.channel.map(Channel::as_str))
    .bind(s.destination.as_deref())
    .bind(s.obligation_id.as_deref())
    .bind(event.terms.contract_date.map(|d| d.to_string()))
    .bind(event.terms.hours.as_ref().map(Hours::to_text))
    .bind(event.method.as_str())
    .bind(event.notice_hash.map(|h| h.to_vec()))
    .bind(&event.captured_at)
    .bind(&event.captured_by)
    .bind(&event.source_reference)
    .bind(event.document_sha256.map(|h| h.to_vec()))
    .bind(&event.recorded_at)
    .bind(event.recorded_by.as_deref())
    .bind(event.sha256().to_vec())
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// The next event number of a party (the caller holds the party lock).
pub async fn next_seq(conn: &mut Conn, party: &str) -> Result<u64, sqlx::Error> {
    let max: Option<i64> = sqlx::query_scalar("SELECT MAX(seq) FROM consent_events WHERE party_id = $1")
        .bind(party)
        .fetch_one(&mut *conn)
        .await?;
    Ok(u64::try_from(max.unwrap_or(0)).unwrap_or(0) + 1)
}

/// An event as stored, with the hash stored beside it when it was recorded (a row edited
/// afterwards re-encodes to another hash).
pub type StoredEvent = (ConsentEvent, Hash);

/// Every event of the party, in `seq` order.
pub async fn events(conn: &mut Conn, tenant: &str, party: &str) -> Result<Vec<StoredEvent>, sqlx::Error> {
    let rows = sqlx::query(&format!(
        "SELECT {COLUMNS} FROM consent_events WHERE tenant_id = $1 AND party_id = $2 ORDER BY seq"
    ))
    .bind(tenant)
    .bind(party)
    .fetch_all(&mut *conn)
    .await?;
    rows.iter().map(decode).collect()
}

/// The latest event of one scope of the party, if any.
pub async fn latest_in_scope(
    conn: &mut Conn,
    party: &str,
    scope: &ConsentScope,
) -> Result<Option<StoredEvent>, sqlx::Error> {
    // COALESCE keeps NULL parameters out of the SQL (PostgreSQL cannot type `$n IS NULL`).
    let row = sqlx::query(&format!(
        "SELECT {COLUMNS} FROM consent_events WHERE party_id = $1 AND kind = $2 AND purpose = $3 \
         AND COALESCE(channel, '') = $4 AND COALESCE(destination, '') = $5 AND COALESCE(obligation_id, '') = $6 \
         ORDER BY seq DESC LIMIT 1"
    ))
    .bind(party)
    .bind(scope.kind.as_str())
    .bind(scope.purpose.as_str())
    .bind(scope.channel.map(Channel::as_str).unwrap_or_default())
    .bind(scope.destination.as_deref().unwrap_or_default())
    .bind(scope.obligation_id.as_deref().unwrap_or_default())
    .fetch_optional(&mut *conn)
    .await?;
    row.as_ref().map(decode).transpose()
}

fn corrupt(what: &str) -> sqlx::Error {
    sqlx::Error::Decode(format!("consent_events: {what}").into())
}

fn parse<T: std::str::FromStr>(text: String, what: &str) -> Result<T, sqlx::Error> {
    text.parse::<T>().map_err(|_| corrupt(what))
}

fn hash_of(bytes: Vec<u8>) -> Result<Hash, sqlx::Error> {
    bytes.try_into().map_err(|_| corrupt("a hash is not 32 bytes"))
}

fn decode(row: &AnyRow) -> Result<StoredEvent, sqlx::Error> {
    let channel: Option<String> = row.try_get("channel")?;
    let contract: Option<String> = row.try_get("contract_date")?;
    let hours: Option<String> = row.try_get("hours")?;
    let notice: Option<Vec<u8>> = row.try_get("notice_hash")?;
    let document: Option<Vec<u8>> = row.try_get("document_sha256")?;
    let event = ConsentEvent {
        id: row.try_get("id")?,
        tenant: row.try_get("tenant_id")?,
        party: row.try_get("party_id")?,
        seq: u64::try_from(row.try_get::<i64, _>("seq")?).map_err(|_| corrupt("negative seq"))?,
        action: parse::<ConsentAction>(row.try_get("action")?, "action")?,
        scope: ConsentScope {
            kind: parse::<ConsentKind>(row.try_get("kind")?, "kind")?,
            purpose: parse::<ConsentPurpose>(row.try_get("purpose")?, "purpose")?,
            channel: channel.map(|c| parse::<Channel>(c, "channel")).transpose()?,
            destination: row.try_get("destination")?,
            obligation_id: row.try_get("obligation_id")?,
        },
        terms: ArtefactTerms {
            contract_date: contract
                .map(|d| chrono::NaiveDate::parse_from_str(&d, "%Y-%m-%d").map_err(|_| corrupt("contract_date")))
                .transpose()?,
            hours: hours.map(|h| Hours::from_text(&h).ok_or_else(|| corrupt("hours"))).transpose()?,
        },
        method: parse::<Method>(row.try_get("method")?, "method")?,
        notice_hash: notice.map(hash_of).transpose()?,
        captured_at: row.try_get("captured_at")?,
        captured_by: row.try_get("captured_by")?,
        source_reference: row.try_get("source_reference")?,
        document_sha256: document.map(hash_of).transpose()?,
        recorded_at: row.try_get("recorded_at")?,
        recorded_by: row.try_get("recorded_by")?,
    };
    Ok((event, hash_of(row.try_get("sha256")?)?))
}
