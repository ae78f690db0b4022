//! The hand-computed deadline table `tests/data/dsr_deadlines.csv` (62 rows: Friday-night
//! receipts, Semana Santa, 24 Dec–2 Jan, the day-after rule, GDPR month ends, extensions
//! notified too late…) checked through the API: each row is registered as a request with
//! its `received_at` in a tenant of the zone the table's conventions name
//! (`src/calendar/tests/dsr_table.rs`), extended when the row says so with the table's
//! `notified_at` convention, and its `due_at` compared by local date (or its error code).
//!
//! The gateway's clock is simulated at 2101-01-01 so every receipt and notice in the table
//! (the latest is in December 2100) is in the past, as the API requires; the sweeper is
//! off so nothing lapses while the rows are checked.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use crate::consent_support::answer;
use crate::dsr_support::*;
use crate::helpers::*;
use chrono::{DateTime, Duration, NaiveDate, NaiveTime, TimeZone, Utc};
use chrono_tz::Tz;
use custodia::access::Role;
use custodia::calendar::DayCount;
use serde_json::{json, Value};
use std::collections::HashMap;

const TABLE: &str = include_str!("../data/dsr_deadlines.csv");

struct Row {
    line: usize,
    regime: String,
    kind: String,
    received_at: String,
    extension: String,
    expected_due_date: String,
    expected_error: String,
}

fn rows() -> Vec<Row> {
    let mut lines = TABLE.lines().enumerate();
    assert_eq!(
        lines.next().map(|(_, l)| l),
        Some("regime,kind,received_at,extension,expected_due_date,expected_error,note")
    );
    lines
        .filter(|(_, l)| !l.trim().is_empty())
        .map(|(i, l)| {
            let f: Vec<&str> = l.split(',').collect();
            assert_eq!(f.len(), 7, "line {}", i + 1);
            Row {
                line: i + 1,
                regime: f[0].into(),
                kind: f[1].into(),
                received_at: f[2].into(),
                extension: f[3].into(),
                expected_due_date: f[4].into(),
                expected_error: f[5].into(),
            }
        })
        .collect()
}

/// The tenant of a regime, its zone, and the regime the API takes (the Mexican day count
/// is the tenant's setting, not a regime of its own).
fn tenant_of(regime: &str) -> (&'static str, Tz, &'static str) {
    match regime {
        "co_1581" | "co_1266" => (TENANT, chrono_tz::America::Bogota, "co"),
        "mx_arco" => ("mx-habiles", chrono_tz::America::Mexico_City, "mx_arco"),
        "mx_arco_calendar_days" => ("mx-naturales", chrono_tz::America::Mexico_City, "mx_arco"),
        "eu_gdpr" => ("eu", chrono_tz::Europe::Madrid, "eu_gdpr"),
        other => panic!("regime {other}"),
    }
}

fn local(date: NaiveDate, hour: u32, zone: Tz) -> String {
    let naive = date.and_time(NaiveTime::from_hms_opt(hour, 0, 0).unwrap());
    zone.from_local_datetime(&naive).earliest().unwrap().with_timezone(&Utc).to_rfc3339()
}

fn local_date(instant: &str, zone: Tz) -> NaiveDate {
    DateTime::parse_from_rfc3339(instant).unwrap().with_timezone(&zone).date_naive()
}

struct Tenant {
    compliance: String,
    party: String,
}

async fn tenant(app: &TestApp, name: &str, tokens: HashMap<Role, String>, party: Value) -> Tenant {
    let response = app
        .with_token(&tokens[&Role::Ingest], "ingest", reqwest::Method::POST, "/v1/parties")
        .json(&party)
        .send()
        .await
        .unwrap();
    let (status, created) = answer(response).await;
    assert_eq!(status, 201, "{name}: {created}");
    Tenant { compliance: tokens[&Role::Compliance].clone(), party: created["id"].as_str().unwrap().to_string() }
}

fn person(jurisdiction: &str, zone: &str, id_type: &str, number: &str) -> Value {
    json!({"external_ref": format!("REF-{jurisdiction}-1"), "jurisdiction": jurisdiction, "timezone": zone,
        "full_name": "Titular de Prueba", "national_id": {"type": id_type, "number": number}})
}

async fn tenants(app: &TestApp) -> HashMap<&'static str, Tenant> {
    let mut out = HashMap::new();
    out.insert(TENANT, tenant(app, TENANT, app.tokens.clone(), party(1)).await);
    for (name, zone, days, party) in [
        (
            "mx-habiles",
            "America/Mexico_City",
            DayCount::Business,
            person("MX", "America/Mexico_City", "PASSPORT", "G12345678"),
        ),
        (
            "mx-naturales",
            "America/Mexico_City",
            DayCount::Calendar,
            person("MX", "America/Mexico_City", "PASSPORT", "G12345679"),
        ),
        ("eu", "Europe/Madrid", DayCount::Business, person("EU", "Europe/Madrid", "NATIONAL_ID", "X1234567L")),
    ] {
        let tokens = app.add_tenant(name).await;
        set_tenant(app, name, zone, days).await;
        out.insert(name, tenant(app, name, tokens, party).await);
    }
    out
}

async fn post(app: &TestApp, token: &str, path: &str, body: &Value) -> (u16, Value) {
    answer(app.with_token(token, "dsr", reqwest::Method::POST, path).json(body).send().await.unwrap()).await
}

/// Runs one row through the API; the due date it ends with, or the error code.
async fn run(app: &TestApp, tenants: &HashMap<&'static str, Tenant>, row: &Row) -> Result<String, String> {
    let (name, zone, regime) = tenant_of(&row.regime);
    let regime = if regime == "co" { row.regime.as_str() } else { regime };
    let t = &tenants[name];
    let mut body = request(&t.party, &row.kind, regime);
    body["received_at"] = json!(row.received_at);
    let (status, view) = post(app, &t.compliance, "/v1/dsr", &body).await;
    if status != 201 {
        assert_eq!(status, 422, "line {}: {view}", row.line);
        return Err(view["error"]["code"].as_str().unwrap().to_string());
    }
    let first = view["due_date"].as_str().unwrap().to_string();
    assert_eq!(
        local_date(view["due_at"].as_str().unwrap(), zone).to_string(),
        first,
        "line {}: due_at is the end of the local due day",
        row.line
    );
    assert_eq!(view["timezone"], zone.name(), "line {}", row.line);
    let first = NaiveDate::parse_from_str(&first, "%Y-%m-%d").unwrap();
    let notified_at = match row.extension.as_str() {
        "none" => return Ok(first.to_string()),
        "on-time" => local(first, 12, zone),
        "late" => local(first + Duration::days(1), 8, zone),
        other => panic!("line {}: extension {other}", row.line),
    };
    let id = view["id"].as_str().unwrap();
    let step = json!({"action": "extend", "reason": "complexity", "notified_at": notified_at});
    let (status, stepped) = post(app, &t.compliance, &format!("/v1/dsr/{id}/actions"), &step).await;
    match status {
        200 => {
            let request = &stepped["request"];
            assert_eq!(request["state"], "extended", "line {}", row.line);
            let due = request["due_date"].as_str().unwrap().to_string();
            assert_eq!(local_date(request["due_at"].as_str().unwrap(), zone).to_string(), due, "line {}", row.line);
            Ok(due)
        }
        422 => Err(stepped["error"]["code"].as_str().unwrap().to_string()),
        other => panic!("line {}: {other} {stepped}", row.line),
    }
}

#[tokio::test]
async fn every_row_of_the_hand_computed_deadline_table_holds_through_the_api() {
    let app =
        spawn_app_with(AppOptions { clock: Some("2101-01-01T00:00:00Z"), dsr_sweeper: false, ..AppOptions::default() })
            .await;
    let tenants = tenants(&app).await;
    let rows = rows();
    assert!(rows.len() >= 50, "{} rows", rows.len());
    let mut failures = Vec::new();
    for row in &rows {
        let expected = if row.expected_error.is_empty() {
            Ok(row.expected_due_date.clone())
        } else {
            Err(row.expected_error.clone())
        };
        let actual = run(&app, &tenants, row).await;
        if actual != expected {
            failures.push(format!(
                "line {} ({} {} {} {}): expected {expected:?}, got {actual:?}",
                row.line, row.regime, row.kind, row.received_at, row.extension
            ));
        }
    }
    assert!(failures.is_empty(), "{} of {} rows differ:\n{}", failures.len(), rows.len(), failures.join("\n"));
    // Every kind and regime was exercised, and every late extension wrote nothing.
    let extended: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM dsr_requests WHERE extended = 1")
        .fetch_one(app.db.reader())
        .await
        .unwrap();
    let on_time = rows.iter().filter(|r| r.extension == "on-time").count() as i64;
    assert_eq!(extended, on_time);
    app.stop().await;
}
