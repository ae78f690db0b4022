//! Bulk import benchmark (`cargo bench --bench import`).
//!
//! Imports N generated debtors (default 100,000; `BENCH_DEBTORS`) on the real path —
//! validation, encryption, blind indexes, constraints, one audit record per party — into
//! a fresh SQLite file, and into a fresh PostgreSQL database when `BENCH_POSTGRES_URL`
//! names a server. Then, as the same-run baseline, it copies exactly the rows the real
//! path wrote into another fresh database of the same schema as bare multi-row INSERTs,
//! and prints both rates and their ratio. `BENCH_SKIP_SQLITE=1` runs PostgreSQL only.

use custodia::audit::Actor;
use custodia::db::{insert_many, Db, SqlValue};
use custodia::demo::generator::{portfolio, PortfolioSpec};
use custodia::ids::TenantId;
use custodia::import::{Importer, RejectFile};
use custodia::keys::keyring::Keyring;
use custodia::keys::KeyService;
use custodia::vault::domain::{Invalid, PartyInput};
use sqlx::{Column, Row, TypeInfo, ValueRef};
use std::time::Instant;

const TABLES: &[&str] = &[
    "tenants",
    "tenant_keys",
    "parties",
    "party_keys",
    "party_fields",
    "blind_indexes",
    "obligations",
    "obligation_parties",
    "payments",
    "promises",
    "audit_records",
    "audit_record_parties",
    "audit_party_heads",
];

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let debtors: usize = std::env::var("BENCH_DEBTORS").ok().and_then(|v| v.parse().ok()).unwrap_or(100_000);
    let dir = tempfile::tempdir()?;
    let sqlite = |name: &str| format!("sqlite://{}", dir.path().join(name).display());
    if std::env::var("BENCH_SKIP_SQLITE").is_err() {
        run("SQLite", &sqlite("real.db"), &sqlite("baseline.db"), debtors).await?;
    }
    if let Ok(admin) = std::env::var("BENCH_POSTGRES_URL") {
        let (real, baseline) = (fresh_pg(&admin).await?, fresh_pg(&admin).await?);
        run("PostgreSQL", &real, &baseline, debtors).await?;
        drop_pg(&admin, &[real, baseline]).await?;
    }
    Ok(())
}

async fn run(label: &str, real_url: &str, baseline_url: &str, debtors: usize) -> anyhow::Result<()> {
    let real = Db::connect(real_url, 4).await?;
    real.migrate().await?;
    let keys = KeyService::new(Keyring::generate(false)?, None, real.backend());
    let tenant = TenantId::parse("bench")?;
    let mut tx = real.begin_write().await?;
    custodia::clients::create_tenant(&mut tx, &keys, &tenant, "bench", "2026-11-23T00:00:00.000000Z").await?;
    tx.commit().await?;
    let today = chrono::NaiveDate::from_ymd_opt(2026, 11, 23).unwrap_or_default();
    let lines = portfolio(&PortfolioSpec { debtors, seed: 7, today }).enumerate().map(|(i, value)| {
        (
            i as u64 + 1,
            serde_json::from_value::<PartyInput>(value)
                .map_err(|_| Invalid::new("invalid_body", "", "bad generated record")),
        )
    });
    let importer = Importer {
        db: &real,
        keys: &keys,
        tenant: tenant.clone(),
        today,
        now: "2026-11-23T00:00:00.000000Z".into(),
        batch: custodia::import::DEFAULT_BATCH,
        actor: Actor { tenant: Some(tenant), ..Actor::default() },
        request_id: "bench".into(),
    };
    let started = Instant::now();
    let summary = importer.run(lines, &mut RejectFile::new(std::io::sink())?, |_| {}).await?;
    let real_seconds = started.elapsed().as_secs_f64();
    let rows = dump(&real).await?;
    let total_rows: usize = rows.iter().map(|(_, _, r)| r.len()).sum();
    let baseline = Db::connect(baseline_url, 4).await?;
    baseline.migrate().await?;
    let started = Instant::now();
    for (table, columns, table_rows) in &rows {
        let columns: Vec<&str> = columns.iter().map(String::as_str).collect();
        for chunk in table_rows.chunks(custodia::import::DEFAULT_BATCH * 10) {
            let mut tx = baseline.begin_write().await?;
            insert_many(&mut tx, table, &columns, chunk).await?;
            tx.commit().await?;
        }
    }
    let baseline_seconds = started.elapsed().as_secs_f64();
    println!("{label}: {} debtors imported ({} rejected), {total_rows} rows", summary.created, summary.rejected);
    println!(
        "{label}: real path      {real_seconds:>7.2} s  {:>9.0} debtors/s  {:>9.0} rows/s",
        summary.created as f64 / real_seconds,
        total_rows as f64 / real_seconds
    );
    println!(
        "{label}: bare baseline  {baseline_seconds:>7.2} s  {:>9.0} rows/s (same rows, multi-row INSERTs)",
        total_rows as f64 / baseline_seconds
    );
    println!("{label}: ratio real/baseline = {:.2}", baseline_seconds / real_seconds);
    real.close().await;
    baseline.close().await;
    Ok(())
}

type TableRows = (String, Vec<String>, Vec<Vec<SqlValue>>);

/// Every row of every data table, as portable values, in insertion order.
async fn dump(db: &Db) -> anyhow::Result<Vec<TableRows>> {
    let mut out = Vec::new();
    for table in TABLES {
        let rows = sqlx::query(&format!("SELECT * FROM {table}")).fetch_all(db.reader()).await?;
        let Some(first) = rows.first() else { continue };
        let columns: Vec<String> = first
            .columns()
            .iter()
            .map(|c| c.name().to_string())
            .filter(|c| !(*table == "audit_records" && c == "seq"))
            .collect();
        let mut values = Vec::with_capacity(rows.len());
        for row in &rows {
            values.push(columns.iter().map(|c| value(row, c)).collect::<anyhow::Result<Vec<_>>>()?);
        }
        out.push((table.to_string(), columns, values));
    }
    Ok(out)
}

fn value(row: &sqlx::any::AnyRow, column: &str) -> anyhow::Result<SqlValue> {
    let raw = row.try_get_raw(column)?;
    if raw.is_null() {
        // A NULL keeps its column's type: PostgreSQL refuses a text NULL for a bytea column.
        let declared =
            row.columns().iter().find(|c| c.name() == column).map(|c| c.type_info().name().to_ascii_uppercase());
        return Ok(match declared.unwrap_or_default() {
            kind if kind.contains("INT") => SqlValue::OptInt(None),
            kind if kind.contains("BLOB") || kind.contains("BYTEA") => SqlValue::OptBlob(None),
            _ => SqlValue::OptText(None),
        });
    }
    let kind = raw.type_info().name().to_ascii_uppercase();
    Ok(if kind.contains("INT") {
        SqlValue::Int(row.try_get(column)?)
    } else if kind.contains("BLOB") || kind.contains("BYTEA") {
        SqlValue::Blob(row.try_get(column)?)
    } else {
        SqlValue::Text(row.try_get(column)?)
    })
}

async fn drop_pg(admin: &str, urls: &[String]) -> anyhow::Result<()> {
    let pool = sqlx::AnyPool::connect(admin).await?;
    for url in urls {
        if let Some((_, name)) = url.rsplit_once('/') {
            sqlx::query(&format!("DROP DATABASE IF EXISTS {name}")).execute(&pool).await?;
        }
    }
    pool.close().await;
    Ok(())
}

async fn fresh_pg(admin: &str) -> anyhow::Result<String> {
    sqlx::any::install_default_drivers();
    let name = format!("custodia_bench_{}", uuid::Uuid::new_v4().simple());
    let pool = sqlx::AnyPool::connect(admin).await?;
    sqlx::query(&format!("CREATE DATABASE {name}")).execute(&pool).await?;
    pool.close().await;
    let base = admin.rsplit_once('/').map(|(b, _)| b.to_string()).unwrap_or_else(|| admin.to_string());
    Ok(format!("{base}/{name}"))
}
