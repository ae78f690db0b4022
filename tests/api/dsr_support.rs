//! Shared steps for the data-subject request tests: register a request, take a step,
//! verify the requester, read a request, set a tenant's zone, run the sweeper at `now`.

#![allow(dead_code, clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use crate::consent_support::answer;
use crate::helpers::*;
use chrono::{DateTime, Utc};
use custodia::access::Role;
use custodia::calendar::DayCount;
use custodia::clock::Clock;
use custodia::dsr::{SweepReport, Sweeper};
use custodia::ids::TenantId;
use custodia::keys::keyring::Keyring;
use custodia::keys::KeyService;
use serde_json::{json, Value};

/// A request body: `kind` under `regime` for `party`, received now unless given.
pub fn request(party: &str, kind: &str, regime: &str) -> Value {
    let mut body = json!({"party_id": party, "kind": kind, "regime": regime, "channel": "email"});
    match kind {
        "reclamo" => body["claim_type"] = json!("rectify"),
        "revocacion" => body["revoke"] = json!({"purpose": "marketing"}),
        _ => {}
    }
    body
}

/// POST /v1/dsr as compliance (purpose dsr).
pub async fn create(app: &TestApp, body: &Value) -> (u16, Value) {
    answer(app.post_json(Role::Compliance, "dsr", "/v1/dsr", body).await).await
}

/// Registers a request and returns its view (asserting 201).
pub async fn created(app: &TestApp, body: &Value) -> Value {
    let (status, view) = create(app, body).await;
    assert_eq!(status, 201, "{view}");
    view
}

/// POST /v1/dsr/{id}/actions as compliance.
pub async fn step(app: &TestApp, id: &str, body: &Value) -> (u16, Value) {
    let path = format!("/v1/dsr/{id}/actions");
    let request =
        app.as_role(Role::Compliance, "dsr", reqwest::Method::POST, &path).header("X-On-Behalf-Of", "oficial-3");
    answer(request.json(body).send().await.unwrap()).await
}

/// Takes a step that must succeed; returns the request view after it.
pub async fn stepped(app: &TestApp, id: &str, body: &Value) -> Value {
    let (status, answer) = step(app, id, body).await;
    assert_eq!(status, 200, "{body} → {answer}");
    answer["request"].clone()
}

/// Records a document check of the requester's identity.
pub async fn verify(app: &TestApp, id: &str) -> Value {
    let path = format!("/v1/dsr/{id}/identity");
    let body = json!({"method": "document_check", "document_sha256": "ab".repeat(32)});
    let request =
        app.as_role(Role::Compliance, "dsr", reqwest::Method::POST, &path).header("X-On-Behalf-Of", "oficial-3");
    let (status, view) = answer(request.json(&body).send().await.unwrap()).await;
    assert_eq!(status, 200, "{view}");
    view
}

/// GET /v1/dsr/{id} as compliance: the request and its events.
pub async fn read(app: &TestApp, id: &str) -> Value {
    let (status, detail) = answer(app.get(Role::Compliance, "dsr", &format!("/v1/dsr/{id}")).await).await;
    assert_eq!(status, 200, "{detail}");
    detail
}

/// The state of a request now.
pub async fn state_of(app: &TestApp, id: &str) -> String {
    read(app, id).await["request"]["state"].as_str().unwrap().to_string()
}

/// Sets a tenant's zone and Mexican day count directly in the database.
pub async fn set_tenant(app: &TestApp, tenant: &str, zone: &str, days: DayCount) {
    let mut tx = app.db.begin_write().await.unwrap();
    let zone = custodia::clients::settings::parse_timezone(zone).unwrap();
    custodia::clients::settings::update(&mut tx, &TenantId::parse(tenant).unwrap(), Some(zone), Some(days))
        .await
        .unwrap();
    tx.commit().await.unwrap();
}

/// A sweeper on this app's database, as another gateway would run it.
pub fn sweeper(app: &TestApp) -> Sweeper {
    let keyring = Keyring::load_file(&app.key_file).unwrap();
    Sweeper {
        db: app.db.clone(),
        keys: KeyService::new(keyring, Some(app.key_file.clone()), app.backend()),
        clock: Clock::system(),
        every: std::time::Duration::from_secs(60),
        batch: 500,
        jobs: None,
        parties: None,
    }
}

/// One sweeper pass at `now`.
pub async fn sweep_at(app: &TestApp, now: &str) -> SweepReport {
    let now: DateTime<Utc> = DateTime::parse_from_rfc3339(now).unwrap().with_timezone(&Utc);
    sweeper(app).sweep(now).await.unwrap()
}

/// The "reclamo en trámite" flag of a party, if set: (reason, reference).
pub async fn claim_flag(app: &TestApp, party: &str) -> Option<(String, String)> {
    let (status, flags) =
        answer(app.get(Role::Compliance, "compliance_review", &format!("/v1/parties/{party}/flags")).await).await;
    assert_eq!(status, 200, "{flags}");
    flags["current"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["flag"] == "reclamo_en_tramite")
        .map(|f| (f["reason"].as_str().unwrap().to_string(), f["reference"].as_str().unwrap_or_default().to_string()))
}

/// How many audit records of `action` are about `party`.
pub async fn records_about(app: &TestApp, party: &str, action: &str) -> i64 {
    sqlx::query_scalar(
        "SELECT COUNT(*) FROM audit_records r JOIN audit_record_parties p ON p.record_id = r.record_id \
         WHERE p.party_id = $1 AND r.action = $2",
    )
    .bind(party)
    .bind(action)
    .fetch_one(app.db.reader())
    .await
    .unwrap()
}
