//! SQL for data-subject requests and their events. The caller owns the transaction (and,
//! for writes, holds the party lock). Times are the database's text form, which sorts.

use super::domain::{IdentityMethod, Kind, RegimeCode, State};
use super::event::DsrEvent;
use super::request::{Identity, Request, RevokeScope};
use crate::calendar::DayCount;
use crate::db::{bind_all, Conn, SqlValue};
use sqlx::any::AnyRow;
use sqlx::Row;
use std::collections::BTreeMap;

const COLUMNS: &str = "id, tenant_id, party_id, kind, claim_type, regime, day_count, timezone, channel, requester, \
    received_at, term_start_at, due_at, due_date, due_basis, extended, extension_notified_at, state, state_reason, \
    information_requested_at, withdraw_at, answered_at, execution_due_at, execution_extended, executed_at, \
    revoke_purpose, revoke_channel, revoke_destination, retention_hold_id, flagged, identity_method, \
    identity_verified_by, identity_verified_at, identity_document_sha256, assignee, last_seq, created_at, updated_at, closed_at";

fn corrupt(what: &str) -> sqlx::Error {
    sqlx::Error::Decode(format!("dsr_requests.{what} holds an unknown value").into())
}

fn code<T: std::str::FromStr>(row: &AnyRow, column: &str) -> Result<T, sqlx::Error> {
    row.try_get::<String, _>(column)?.parse().map_err(|_| corrupt(column))
}

fn opt_code<T: std::str::FromStr>(row: &AnyRow, column: &str) -> Result<Option<T>, sqlx::Error> {
    row.try_get::<Option<String>, _>(column)?.map(|v| v.parse().map_err(|_| corrupt(column))).transpose()
}

fn flag(row: &AnyRow, column: &str) -> Result<bool, sqlx::Error> {
    Ok(row.try_get::<i64, _>(column)? != 0)
}

fn revoke_of(row: &AnyRow) -> Result<Option<RevokeScope>, sqlx::Error> {
    let Some(purpose) = row.try_get::<Option<String>, _>("revoke_purpose")? else { return Ok(None) };
    Ok(Some(RevokeScope {
        purpose,
        channel: row.try_get("revoke_channel")?,
        destination: row.try_get("revoke_destination")?,
    }))
}

fn identity_of(row: &AnyRow) -> Result<Option<Identity>, sqlx::Error> {
    let Some(method) = opt_code::<IdentityMethod>(row, "identity_method")? else { return Ok(None) };
    Ok(Some(Identity {
        method,
        verified_by: row.try_get::<Option<String>, _>("identity_verified_by")?.unwrap_or_default(),
        verified_at: row.try_get::<Option<String>, _>("identity_verified_at")?.unwrap_or_default(),
        document_sha256: row.try_get("identity_document_sha256")?,
    }))
}

fn decode(row: &AnyRow) -> Result<Request, sqlx::Error> {
    let day_count = DayCount::parse(&row.try_get::<String, _>("day_count")?).ok_or_else(|| corrupt("day_count"))?;
    Ok(Request {
        id: row.try_get("id")?,
        tenant: row.try_get("tenant_id")?,
        party: row.try_get("party_id")?,
        kind: code(row, "kind")?,
        claim_type: opt_code(row, "claim_type")?,
        regime: code(row, "regime")?,
        day_count,
        timezone: row.try_get("timezone")?,
        channel: code(row, "channel")?,
        requester: code(row, "requester")?,
        received_at: row.try_get("received_at")?,
        term_start_at: row.try_get("term_start_at")?,
        due_at: row.try_get("due_at")?,
        due_date: row.try_get("due_date")?,
        due_basis: row.try_get("due_basis")?,
        extended: flag(row, "extended")?,
        extension_notified_at: row.try_get("extension_notified_at")?,
        state: code(row, "state")?,
        state_reason: row.try_get("state_reason")?,
        information_requested_at: row.try_get("information_requested_at")?,
        withdraw_at: row.try_get("withdraw_at")?,
        answered_at: row.try_get("answered_at")?,
        execution_due_at: row.try_get("execution_due_at")?,
        execution_extended: flag(row, "execution_extended")?,
        executed_at: row.try_get("executed_at")?,
        revoke: revoke_of(row)?,
        retention_hold_id: row.try_get("retention_hold_id")?,
        flagged: flag(row, "flagged")?,
        identity: identity_of(row)?,
        assignee: row.try_get("assignee")?,
        last_seq: u64::try_from(row.try_get::<i64, _>("last_seq")?).map_err(|_| corrupt("last_seq"))?,
        created_at: row.try_get("created_at")?,
        updated_at: row.try_get("updated_at")?,
        closed_at: row.try_get("closed_at")?,
    })
}

fn text(value: &str) -> SqlValue {
    SqlValue::Text(value.to_string())
}

fn opt(value: &Option<String>) -> SqlValue {
    SqlValue::OptText(value.clone())
}

/// The mutable columns, in the order of [`MUTABLE`].
fn mutable_values(r: &Request) -> Vec<SqlValue> {
    let identity = r.identity.as_ref();
    vec![
        text(&r.term_start_at),
        opt(&r.due_at),
        opt(&r.due_date),
        opt(&r.due_basis),
        SqlValue::Int(i64::from(r.extended)),
        opt(&r.extension_notified_at),
        text(r.state.as_str()),
        opt(&r.state_reason),
        opt(&r.information_requested_at),
        opt(&r.withdraw_at),
        opt(&r.answered_at),
        opt(&r.execution_due_at),
        SqlValue::Int(i64::from(r.execution_extended)),
        opt(&r.executed_at),
        opt(&r.retention_hold_id),
        SqlValue::Int(i64::from(r.flagged)),
        SqlValue::OptText(identity.map(|i| i.method.as_str().to_string())),
        SqlValue::OptText(identity.map(|i| i.verified_by.clone())),
        SqlValue::OptText(identity.map(|i| i.verified_at.clone())),
        SqlValue::OptBlob(identity.and_then(|i| i.document_sha256.clone())),
        opt(&r.assignee),
        SqlValue::Int(i64::try_from(r.last_seq).unwrap_or(i64::MAX)),
        text(&r.updated_at),
        opt(&r.closed_at),
    ]
}

const MUTABLE: [&str; 24] = [
    "term_start_at",
    "due_at",
    "due_date",
    "due_basis",
    "extended",
    "extension_notified_at",
    "state",
    "state_reason",
    "information_requested_at",
    "withdraw_at",
    "answered_at",
    "execution_due_at",
    "execution_extended",
    "executed_at",
    "retention_hold_id",
    "flagged",
    "identity_method",
    "identity_verified_by",
    "identity_verified_at",
    "identity_document_sha256",
    "assignee",
    "last_seq",
    "updated_at",
    "closed_at",
];

pub async fn insert(conn: &mut Conn, r: &Request) -> Result<(), sqlx::Error> {
    let revoke = r.revoke.as_ref();
    let mut values = vec![
        text(&r.id),
        text(&r.tenant),
        text(&r.party),
        text(r.kind.as_str()),
        SqlValue::OptText(r.claim_type.map(|c| c.as_str().to_string())),
        text(r.regime.as_str()),
        text(r.day_count.as_str()),
        text(&r.timezone),
        text(r.channel.as_str()),
        text(r.requester.as_str()),
        text(&r.received_at),
        SqlValue::OptText(revoke.map(|s| s.purpose.clone())),
        SqlValue::OptText(revoke.and_then(|s| s.channel.clone())),
        SqlValue::OptText(revoke.and_then(|s| s.destination.clone())),
        text(&r.created_at),
    ];
    values.extend(mutable_values(r));
    let fixed = [
        "id",
        "tenant_id",
        "party_id",
        "kind",
        "claim_type",
        "regime",
        "day_count",
        "timezone",
        "channel",
        "requester",
        "received_at",
        "revoke_purpose",
        "revoke_channel",
        "revoke_destination",
        "created_at",
    ];
    let columns: Vec<&str> = fixed.iter().chain(MUTABLE.iter()).copied().collect();
    let placeholders: Vec<String> = (1..=columns.len()).map(|i| format!("${i}")).collect();
    let sql = format!("INSERT INTO dsr_requests ({}) VALUES ({})", columns.join(", "), placeholders.join(", "));
    bind_all(sqlx::query(&sql), &values).execute(&mut *conn).await?;
    Ok(())
}

/// Writes the request's new state, only if its latest event is still `expected_seq`
/// (false: another writer moved it first, and nothing was written).
pub async fn update(conn: &mut Conn, r: &Request, expected_seq: u64) -> Result<bool, sqlx::Error> {
    let sets: Vec<String> = MUTABLE.iter().enumerate().map(|(i, c)| format!("{c} = ${}", i + 1)).collect();
    let n = MUTABLE.len();
    let sql = format!(
        "UPDATE dsr_requests SET {} WHERE id = ${} AND tenant_id = ${} AND last_seq = ${}",
        sets.join(", "),
        n + 1,
        n + 2,
        n + 3
    );
    let mut values = mutable_values(r);
    values.push(text(&r.id));
    values.push(text(&r.tenant));
    values.push(SqlValue::Int(i64::try_from(expected_seq).unwrap_or(i64::MAX)));
    let done = bind_all(sqlx::query(&sql), &values).execute(&mut *conn).await?;
    Ok(done.rows_affected() == 1)
}

pub async fn load(conn: &mut Conn, tenant: &str, id: &str) -> Result<Option<Request>, sqlx::Error> {
    let sql = format!("SELECT {COLUMNS} FROM dsr_requests WHERE id = $1 AND tenant_id = $2");
    sqlx::query(&sql).bind(id).bind(tenant).fetch_optional(&mut *conn).await?.as_ref().map(decode).transpose()
}

/// Every request about `party`, oldest first.
pub async fn of_party(conn: &mut Conn, tenant: &str, party: &str) -> Result<Vec<Request>, sqlx::Error> {
    let sql =
        format!("SELECT {COLUMNS} FROM dsr_requests WHERE tenant_id = $1 AND party_id = $2 ORDER BY received_at, id");
    let rows = sqlx::query(&sql).bind(tenant).bind(party).fetch_all(&mut *conn).await?;
    rows.iter().map(decode).collect()
}

/// What `GET /v1/dsr` and `custodia dsr list` filter on.
#[derive(Clone, Debug, Default)]
pub struct ListFilter {
    /// None: every tenant (the CLI only).
    pub tenant: Option<String>,
    /// Only requests late now: a running response term past its due second, or a
    /// Mexican execution term past its due second. The value is the cut-off (now − 1 s).
    pub overdue_before: Option<String>,
    pub state: Option<State>,
    pub kind: Option<Kind>,
    pub regime: Option<RegimeCode>,
    pub party: Option<String>,
    pub assignee: Option<String>,
    /// Keyset cursor: (due_at or "", id) of the previous page's last request.
    pub after: Option<(String, String)>,
    pub limit: u32,
}

/// Requests matching `filter`, soonest due first (those with no running term last).
pub async fn list(conn: &mut Conn, filter: &ListFilter) -> Result<Vec<Request>, sqlx::Error> {
    let mut binds: Vec<SqlValue> = Vec::new();
    let mut conditions: Vec<String> = Vec::new();
    let mut add = |condition: &str, value: SqlValue, binds: &mut Vec<SqlValue>| {
        binds.push(value);
        conditions.push(condition.replace('?', &format!("${}", binds.len())));
    };
    let equal = [
        ("tenant_id = ?", filter.tenant.clone()),
        ("state = ?", filter.state.map(|s| s.as_str().to_string())),
        ("kind = ?", filter.kind.map(|k| k.as_str().to_string())),
        ("regime = ?", filter.regime.map(|r| r.as_str().to_string())),
        ("party_id = ?", filter.party.clone()),
        ("assignee = ?", filter.assignee.clone()),
    ];
    for (condition, value) in equal {
        if let Some(value) = value {
            add(condition, SqlValue::Text(value), &mut binds);
        }
    }
    if let Some(cutoff) = &filter.overdue_before {
        binds.push(SqlValue::Text(cutoff.clone()));
        let n = binds.len();
        conditions.push(format!(
            "((state IN ('received', 'in_progress', 'extended') AND due_at < ${n}) \
             OR (state = 'answered' AND executed_at IS NULL AND execution_due_at < ${n}))"
        ));
    }
    // Requests with no running term sort last (their key is a time after any real one).
    let key = "COALESCE(due_at, '9999-12-31T23:59:59.999999Z')";
    if let Some((due, id)) = &filter.after {
        binds.push(SqlValue::Text(due.clone()));
        binds.push(SqlValue::Text(id.clone()));
        let (a, b) = (binds.len() - 1, binds.len());
        conditions.push(format!("({key} > ${a} OR ({key} = ${a} AND id > ${b}))"));
    }
    let filter_sql = if conditions.is_empty() { String::new() } else { format!("WHERE {}", conditions.join(" AND ")) };
    let sql = format!("SELECT {COLUMNS} FROM dsr_requests {filter_sql} ORDER BY {key}, id LIMIT {}", filter.limit);
    let rows = bind_all(sqlx::query(&sql), &binds).fetch_all(&mut *conn).await?;
    rows.iter().map(decode).collect()
}

/// Whether another open request of `party` (not `except`) needs the claim flag.
pub async fn other_flagged_open(conn: &mut Conn, tenant: &str, party: &str, except: &str) -> Result<bool, sqlx::Error> {
    let found: Option<String> = sqlx::query_scalar(
        "SELECT id FROM dsr_requests WHERE tenant_id = $1 AND party_id = $2 AND id <> $3 AND flagged = 1 \
         AND state IN ('received', 'awaiting_titular', 'in_progress', 'extended') LIMIT 1",
    )
    .bind(tenant)
    .bind(party)
    .bind(except)
    .fetch_optional(&mut *conn)
    .await?;
    Ok(found.is_some())
}

/// (tenant, request id, party) of requests the sweeper should act on at `cutoff`: an
/// incomplete claim past its withdrawal instant, or a Ley 1266 claim past its term.
pub async fn due_for_sweep(
    conn: &mut Conn,
    cutoff: &str,
    limit: i64,
) -> Result<Vec<(String, String, String)>, sqlx::Error> {
    let rows = sqlx::query(
        "SELECT tenant_id, id, party_id FROM dsr_requests WHERE \
         (state = 'awaiting_titular' AND withdraw_at < $1) \
         OR (state IN ('received', 'in_progress', 'extended') AND due_at < $1 AND regime = 'co_1266' \
             AND kind IN ('reclamo', 'supresion', 'revocacion')) \
         ORDER BY id LIMIT $2",
    )
    .bind(cutoff)
    .bind(limit)
    .fetch_all(&mut *conn)
    .await?;
    rows.iter().map(|r| Ok((r.try_get("tenant_id")?, r.try_get("id")?, r.try_get("party_id")?))).collect()
}

/// The party's blocked cancellations.
pub async fn blocked_of_party(conn: &mut Conn, tenant: &str, party: &str) -> Result<Vec<Request>, sqlx::Error> {
    let sql = format!(
        "SELECT {COLUMNS} FROM dsr_requests WHERE tenant_id = $1 AND party_id = $2 AND state = 'blocked' ORDER BY id"
    );
    let rows = sqlx::query(&sql).bind(tenant).bind(party).fetch_all(&mut *conn).await?;
    rows.iter().map(decode).collect()
}

pub async fn insert_event(conn: &mut Conn, event: &DsrEvent) -> Result<(), sqlx::Error> {
    let details = serde_json::to_string(&event.details).map_err(|e| sqlx::Error::Encode(Box::new(e)))?;
    sqlx::query(
        "INSERT INTO dsr_events (id, tenant_id, request_id, party_id, seq, action, from_state, to_state, reason, \
         reference, details, recorded_at, recorded_by, on_behalf_of, sha256) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15)",
    )
    .bind(&event.id)
    .bind(&event.tenant)
    .bind(&event.request_id)
    .bind(&event.party)
    .bind(i64::try_from(event.seq).unwrap_or(i64::MAX))
    .bind(&event.action)
    .bind(event.from_state.as_deref())
    .bind(&event.to_state)
    .bind(event.reason.as_deref())
    .bind(event.reference.as_deref())
    .bind(details)
    .bind(&event.recorded_at)
    .bind(event.recorded_by.as_deref())
    .bind(event.on_behalf_of.as_deref())
    .bind(event.sha256().to_vec())
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// The request's events in order, each with the hash stored when it was written.
pub async fn events(conn: &mut Conn, tenant: &str, request: &str) -> Result<Vec<(DsrEvent, Vec<u8>)>, sqlx::Error> {
    let rows = sqlx::query(
        "SELECT id, tenant_id, request_id, party_id, seq, action, from_state, to_state, reason, reference, details, \
         recorded_at, recorded_by, on_behalf_of, sha256 FROM dsr_events WHERE tenant_id = $1 AND request_id = $2 ORDER BY seq",
    )
    .bind(tenant)
    .bind(request)
    .fetch_all(&mut *conn)
    .await?;
    rows.iter()
        .map(|r| {
            let details: BTreeMap<String, String> = serde_json::from_str(&r.try_get::<String, _>("details")?)
                .map_err(|e| sqlx::Error::Decode(Box::new(e)))?;
            let event = DsrEvent {
                id: r.try_get("id")?,
                tenant: r.try_get("tenant_id")?,
                request_id: r.try_get("request_id")?,
                party: r.try_get("party_id")?,
                seq: u64::try_from(r.try_get::<i64, _>("seq")?).map_err(|_| corrupt("seq"))?,
                action: r.try_get("action")?,
                from_state: r.try_get("from_state")?,
                to_state: r.try_get("to_state")?,
                reason: r.try_get("reason")?,
                reference: r.try_get("reference")?,
                details,
                recorded_at: r.try_get("recorded_at")?,
                recorded_by: r.try_get("recorded_by")?,
                on_behalf_of: r.try_get("on_behalf_of")?,
            };
            Ok((event, r.try_get("sha256")?))
        })
        .collect()
}

/// Whether an allowed audit record of `action` about request `request` attests `hash`:
/// the document (dossier, proof package) an answer names was really generated and given.
pub async fn attested(
    conn: &mut Conn,
    tenant: &str,
    action: &str,
    request: &str,
    hash: &[u8],
) -> Result<bool, sqlx::Error> {
    let found: Option<i64> = sqlx::query_scalar(
        "SELECT 1 FROM audit_records WHERE log_id = $1 AND action = $2 AND resource_id = $3 AND evidence = $4 \
         AND outcome = 'allowed' LIMIT 1",
    )
    .bind(tenant)
    .bind(action)
    .bind(request)
    .bind(hash.to_vec())
    .fetch_optional(&mut *conn)
    .await?;
    Ok(found.is_some())
}
