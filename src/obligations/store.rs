//! SQL for obligations, their parties, payments and promises. The caller owns the
//! transaction. Everything stored here is non-personal (amounts, dates, states, opaque
//! ids), which is what lets segmentation read it at scale without decrypting anything.

use super::domain::{format_amount, NewMovement, NewObligation};
use crate::db::{insert_many, Conn, SqlValue};
use serde::Serialize;
use sqlx::Row;
use std::collections::HashSet;
use utoipa::ToSchema;

/// Rows for multi-row inserts of obligations and what hangs off them.
#[derive(Default)]
pub struct ObligationRows {
    obligations: Vec<Vec<SqlValue>>,
    links: Vec<Vec<SqlValue>>,
    payments: Vec<Vec<SqlValue>>,
    promises: Vec<Vec<SqlValue>>,
}

fn text(value: &str) -> SqlValue {
    SqlValue::Text(value.to_string())
}

impl ObligationRows {
    pub fn obligation(&mut self, id: &str, tenant: &str, o: &NewObligation, now: &str) {
        self.obligations.push(vec![
            text(id),
            text(tenant),
            text(&o.external_ref),
            text(o.product),
            text(o.currency.as_str()),
            SqlValue::Int(o.principal_minor),
            SqlValue::Int(o.balance_minor),
            text(&o.due_date.to_string()),
            text(o.status),
            text(now),
            text(now),
        ]);
    }

    pub fn link(&mut self, obligation: &str, party: &str, tenant: &str, role: &str) {
        self.links.push(vec![text(obligation), text(party), text(tenant), text(role)]);
    }

    pub fn payment(&mut self, obligation: &str, tenant: &str, m: &NewMovement, now: &str) {
        self.payments.push(vec![
            text(&uuid::Uuid::now_v7().to_string()),
            text(obligation),
            text(tenant),
            SqlValue::Int(m.amount_minor),
            text(&m.date.to_string()),
            text(now),
        ]);
    }

    pub fn promise(&mut self, obligation: &str, tenant: &str, m: &NewMovement, now: &str) {
        self.promises.push(vec![
            text(&uuid::Uuid::now_v7().to_string()),
            text(obligation),
            text(tenant),
            SqlValue::Int(m.amount_minor),
            text(&m.date.to_string()),
            text(m.status),
            text(now),
        ]);
    }

    pub async fn insert(&self, conn: &mut Conn) -> Result<(), sqlx::Error> {
        insert_many(
            conn,
            "obligations",
            &[
                "id",
                "tenant_id",
                "external_ref",
                "product",
                "currency",
                "principal_minor",
                "balance_minor",
                "due_date",
                "status",
                "created_at",
                "updated_at",
            ],
            &self.obligations,
        )
        .await?;
        insert_many(conn, "obligation_parties", &["obligation_id", "party_id", "tenant_id", "role"], &self.links)
            .await?;
        insert_many(
            conn,
            "payments",
            &["id", "obligation_id", "tenant_id", "amount_minor", "paid_on", "created_at"],
            &self.payments,
        )
        .await?;
        insert_many(
            conn,
            "promises",
            &["id", "obligation_id", "tenant_id", "amount_minor", "promised_date", "status", "created_at"],
            &self.promises,
        )
        .await
    }
}

/// Which of `refs` are already used by obligations of the tenant.
pub async fn existing_refs(conn: &mut Conn, tenant: &str, refs: &[&str]) -> Result<HashSet<String>, sqlx::Error> {
    let mut found = HashSet::new();
    for chunk in refs.chunks(150) {
        let placeholders: Vec<String> = (0..chunk.len()).map(|i| format!("${}", i + 2)).collect();
        let sql = format!(
            "SELECT external_ref FROM obligations WHERE tenant_id = $1 AND external_ref IN ({})",
            placeholders.join(", ")
        );
        let mut query = sqlx::query_scalar::<_, String>(&sql).bind(tenant);
        for reference in chunk {
            query = query.bind(reference.to_string());
        }
        found.extend(query.fetch_all(&mut *conn).await?);
    }
    Ok(found)
}

#[derive(Serialize, ToSchema, Clone)]
pub struct ObligationParty {
    pub party_id: String,
    /// holder, co_debtor or guarantor
    pub role: String,
}

/// An obligation as the API returns it. Amounts are decimal strings.
#[derive(Serialize, ToSchema)]
pub struct ObligationView {
    pub id: String,
    pub external_ref: String,
    pub product: String,
    pub currency: String,
    pub principal: String,
    pub balance: String,
    pub due_date: String,
    pub status: String,
    pub parties: Vec<ObligationParty>,
    pub created_at: String,
    pub updated_at: String,
}

const COLUMNS: &str = "o.id, o.external_ref, o.product, o.currency, o.principal_minor, o.balance_minor, o.due_date, o.status, o.created_at, o.updated_at";

fn view(row: &sqlx::any::AnyRow) -> Result<ObligationView, sqlx::Error> {
    Ok(ObligationView {
        id: row.try_get("id")?,
        external_ref: row.try_get("external_ref")?,
        product: row.try_get("product")?,
        currency: row.try_get("currency")?,
        principal: format_amount(row.try_get("principal_minor")?),
        balance: format_amount(row.try_get("balance_minor")?),
        due_date: row.try_get("due_date")?,
        status: row.try_get("status")?,
        parties: Vec::new(),
        created_at: row.try_get("created_at")?,
        updated_at: row.try_get("updated_at")?,
    })
}

pub async fn parties_of(conn: &mut Conn, obligation: &str) -> Result<Vec<ObligationParty>, sqlx::Error> {
    let rows = sqlx::query(
        "SELECT party_id, role FROM obligation_parties WHERE obligation_id = $1 ORDER BY role DESC, party_id",
    )
    .bind(obligation)
    .fetch_all(&mut *conn)
    .await?;
    rows.iter().map(|r| Ok(ObligationParty { party_id: r.try_get("party_id")?, role: r.try_get("role")? })).collect()
}

pub async fn load(conn: &mut Conn, tenant: &str, id: &str) -> Result<Option<ObligationView>, sqlx::Error> {
    let sql = format!("SELECT {COLUMNS} FROM obligations o WHERE o.id = $1 AND o.tenant_id = $2");
    let Some(row) = sqlx::query(&sql).bind(id).bind(tenant).fetch_optional(&mut *conn).await? else { return Ok(None) };
    let mut obligation = view(&row)?;
    obligation.parties = parties_of(conn, id).await?;
    Ok(Some(obligation))
}

pub async fn for_party(conn: &mut Conn, tenant: &str, party: &str) -> Result<Vec<ObligationView>, sqlx::Error> {
    let sql = format!("SELECT {COLUMNS} FROM obligations o JOIN obligation_parties l ON l.obligation_id = o.id WHERE l.party_id = $1 AND o.tenant_id = $2 ORDER BY o.due_date, o.id");
    let rows = sqlx::query(&sql).bind(party).bind(tenant).fetch_all(&mut *conn).await?;
    let mut out = Vec::with_capacity(rows.len());
    for row in &rows {
        let mut obligation = view(row)?;
        obligation.parties = parties_of(conn, &obligation.id).await?;
        out.push(obligation);
    }
    Ok(out)
}

/// Party ids linked to an obligation: its audit records are about each of them.
pub fn party_ids(obligation: &ObligationView) -> Vec<String> {
    obligation.parties.iter().map(|p| p.party_id.clone()).collect()
}

/// Applies a validated change; only the given columns move.
pub async fn update(
    conn: &mut Conn,
    id: &str,
    balance_minor: Option<i64>,
    status: Option<&str>,
    due_date: Option<String>,
    now: &str,
) -> Result<(), sqlx::Error> {
    sqlx::query("UPDATE obligations SET balance_minor = COALESCE($1, balance_minor), status = COALESCE($2, status), due_date = COALESCE($3, due_date), updated_at = $4 WHERE id = $5")
        .bind(balance_minor)
        .bind(status)
        .bind(due_date)
        .bind(now)
        .bind(id)
        .execute(&mut *conn)
        .await?;
    Ok(())
}

#[derive(Serialize, ToSchema)]
pub struct MovementView {
    pub id: String,
    pub amount: String,
    /// paid_on for payments, promised_date for promises
    pub date: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub status: Option<String>,
    pub created_at: String,
}

/// Payments (`promises = false`) or promises of an obligation, oldest first.
pub async fn movements(conn: &mut Conn, obligation: &str, promises: bool) -> Result<Vec<MovementView>, sqlx::Error> {
    let sql = if promises {
        "SELECT id, amount_minor, promised_date AS date, status, created_at FROM promises WHERE obligation_id = $1 ORDER BY promised_date, id"
    } else {
        "SELECT id, amount_minor, paid_on AS date, NULL AS status, created_at FROM payments WHERE obligation_id = $1 ORDER BY paid_on, id"
    };
    let rows = sqlx::query(sql).bind(obligation).fetch_all(&mut *conn).await?;
    rows.iter()
        .map(|r| {
            Ok(MovementView {
                id: r.try_get("id")?,
                amount: format_amount(r.try_get("amount_minor")?),
                date: r.try_get("date")?,
                status: if promises { r.try_get("status")? } else { None },
                created_at: r.try_get("created_at")?,
            })
        })
        .collect()
}
