//! Audit search for compliance officers and regulators: filter one tenant's log by
//! party, actor, on-behalf-of, action, purpose, outcome and time, newest first, with an
//! opaque cursor. Every filter walks an index (`audit_record_parties` for parties,
//! `(log_id, client_id|action, record_id)` otherwise), so a filtered page stays fast
//! on a log of millions of records. Records carry names and opaque ids, never PII.

use super::rows::{self, StoredRecord};
use crate::db::{bind_all, Conn, SqlValue};

/// What to look for. Values are validated by the HTTP layer before they get here.
#[derive(Clone, Debug, Default)]
pub struct SearchFilter {
    pub party: Option<String>,
    pub actor: Option<String>,
    pub on_behalf_of: Option<String>,
    pub action: Option<String>,
    pub purpose: Option<String>,
    pub outcome: Option<String>,
    /// Inclusive lower bound, database time text.
    pub from: Option<String>,
    /// Inclusive upper bound, database time text.
    pub to: Option<String>,
    /// Only records older than this record id (the previous page's last).
    pub before: Option<Vec<u8>>,
    pub limit: u32,
}

/// One page of `log` matching `filter`, newest first.
pub async fn search(conn: &mut Conn, log: &str, filter: &SearchFilter) -> Result<Vec<StoredRecord>, rows::RowError> {
    let mut binds = vec![SqlValue::Text(log.to_string())];
    let mut conditions = vec!["r.log_id = $1".to_string()];
    if filter.party.is_some() {
        conditions.push("r.record_id = p.record_id".into());
    }
    let mut add = |column: &str, op: &str, value: SqlValue, binds: &mut Vec<SqlValue>| {
        binds.push(value);
        conditions.push(format!("{column} {op} ${}", binds.len()));
    };
    let from = match &filter.party {
        Some(party) => {
            add("p.log_id", "=", SqlValue::Text(log.to_string()), &mut binds);
            add("p.party_id", "=", SqlValue::Text(party.clone()), &mut binds);
            // CROSS JOIN keeps the party index as the outer loop on SQLite, whose planner
            // otherwise may walk the whole log and look each record's parties up.
            "audit_record_parties p CROSS JOIN audit_records r"
        }
        None => "audit_records r",
    };
    let order_key = if filter.party.is_some() { "p.record_id" } else { "r.record_id" };
    let text_filters = [
        ("r.client_id", &filter.actor),
        ("r.on_behalf_of", &filter.on_behalf_of),
        ("r.action", &filter.action),
        ("r.purpose", &filter.purpose),
        ("r.outcome", &filter.outcome),
    ];
    for (column, value) in text_filters {
        if let Some(value) = value {
            add(column, "=", SqlValue::Text(value.clone()), &mut binds);
        }
    }
    if let Some(from) = &filter.from {
        add("r.recorded_at", ">=", SqlValue::Text(from.clone()), &mut binds);
    }
    if let Some(to) = &filter.to {
        add("r.recorded_at", "<=", SqlValue::Text(to.clone()), &mut binds);
    }
    if let Some(before) = &filter.before {
        add(order_key, "<", SqlValue::Blob(before.clone()), &mut binds);
    }
    let columns: Vec<String> = rows::COLUMNS.split(", ").map(|c| format!("r.{}", c.trim())).collect();
    let sql = format!(
        "SELECT {} FROM {from} WHERE {} ORDER BY {order_key} DESC LIMIT {}",
        columns.join(", "),
        conditions.join(" AND "),
        filter.limit
    );
    let found = bind_all(sqlx::query(&sql), &binds).fetch_all(&mut *conn).await?;
    found.iter().map(rows::decode).collect()
}
