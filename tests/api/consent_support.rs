//! Shared steps for the consent, notice and flag tests: publish a notice, build grant and
//! revocation bodies, create a party with an obligation, read the ledger.

#![allow(dead_code, clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use crate::helpers::*;
use custodia::access::Role;
use serde_json::{json, Value};

/// Now, as RFC 3339 (the test machine's clock is the gateway's clock).
pub fn now() -> String {
    chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Micros, true)
}

/// `seconds` ago, as RFC 3339.
pub fn ago(seconds: i64) -> String {
    (chrono::Utc::now() - chrono::Duration::seconds(seconds)).to_rfc3339_opts(chrono::SecondsFormat::Micros, true)
}

/// An answer: status and JSON body.
pub async fn answer(response: reqwest::Response) -> (u16, Value) {
    let status = response.status().as_u16();
    (status, response.json().await.unwrap_or(Value::Null))
}

/// Creates a draft notice as compliance; returns its JSON.
pub async fn draft_notice(app: &TestApp, name: &str, purposes: &[&str], channels: &[&str]) -> Value {
    let body = json!({
        "name": name, "language": "es-CO", "title": "Autorización de tratamiento de datos",
        "text": "Autorizo a ACME S.A.S. a tratar mis datos personales para la gestión de cobranza\npor los canales indicados.",
        "purposes": purposes, "channels": channels,
    });
    let (status, notice) =
        answer(app.post_json(Role::Compliance, "compliance_review", "/v1/notices", &body).await).await;
    assert_eq!(status, 201, "{notice}");
    notice
}

/// Publishes a notice; returns its JSON.
pub async fn publish(app: &TestApp, id: &str) -> Value {
    let response = app
        .as_role(Role::Compliance, "compliance_review", reqwest::Method::POST, &format!("/v1/notices/{id}/publish"))
        .send()
        .await
        .unwrap();
    let (status, notice) = answer(response).await;
    assert_eq!(status, 200, "{notice}");
    notice
}

/// A published notice covering `purposes` and `channels`; returns its content hash.
pub async fn published_notice(app: &TestApp, purposes: &[&str], channels: &[&str]) -> String {
    let draft = draft_notice(app, "autorizacion-cobranza", purposes, channels).await;
    let notice = publish(app, draft["id"].as_str().unwrap()).await;
    notice["content_hash"].as_str().unwrap().to_string()
}

/// The usual notice: data processing, collection and marketing over every channel.
pub async fn standard_notice(app: &TestApp) -> String {
    published_notice(
        app,
        &["data_processing", "collection", "marketing"],
        &["sms", "email", "whatsapp", "voice_call", "letter", "app_push", "visit"],
    )
    .await
}

pub fn evidence(notice: Option<&str>, captured_at: &str) -> Value {
    json!({
        "method": "recorded_call", "notice_hash": notice, "captured_at": captured_at,
        "captured_by": "agent-17", "source_reference": "CALL-2026-000123",
    })
}

/// A grant of `purpose` (and `channel`), captured now.
pub fn grant(purpose: &str, channel: Option<&str>, notice: &str) -> Value {
    json!({"action": "grant", "purpose": purpose, "channel": channel, "evidence": evidence(Some(notice), &now())})
}

/// A revocation of `purpose` (and `channel`), captured now, citing no notice.
pub fn revoke(purpose: &str, channel: Option<&str>) -> Value {
    json!({"action": "revoke", "purpose": purpose, "channel": channel, "evidence": evidence(None, &now())})
}

/// Posts a consent event as an agent on a call.
pub async fn post_consent(app: &TestApp, party: &str, body: &Value) -> (u16, Value) {
    answer(app.post_json(Role::Agent, "collection", &format!("/v1/parties/{party}/consents"), body).await).await
}

/// The ledger as compliance sees it.
pub async fn consents(app: &TestApp, party: &str) -> (u16, Value) {
    answer(app.get(Role::Compliance, "compliance_review", &format!("/v1/parties/{party}/consents")).await).await
}

/// Current status of a scope in a ledger answer, if it has one.
pub fn status_of(ledger: &Value, kind: &str, purpose: &str, channel: Option<&str>) -> Option<String> {
    ledger["current"].as_array().unwrap().iter().find_map(|s| {
        let scope = &s["scope"];
        let matches = scope["kind"] == kind
            && scope["purpose"] == purpose
            && scope["channel"].as_str() == channel
            && scope["destination"].is_null()
            && scope["obligation_id"].is_null();
        matches.then(|| s["status"].as_str().unwrap().to_string())
    })
}

/// `party(n)` with one obligation of `product` in `status`; returns (party, obligation).
pub async fn party_with_obligation(app: &TestApp, n: u32, product: &str, status: &str) -> (String, String) {
    let mut body = party(n);
    body["obligations"] = json!([{
        "external_ref": format!("OBL-{n:06}"), "product": product, "currency": "COP", "principal": "1000000.00",
        "balance": "800000.00", "due_date": "2026-01-15", "status": status
    }]);
    let response = app.post_json(Role::Ingest, "ingest", "/v1/parties", &body).await;
    let (code, created) = answer(response).await;
    assert_eq!(code, 201, "{created}");
    (created["id"].as_str().unwrap().to_string(), created["obligation_ids"][0].as_str().unwrap().to_string())
}

/// Runs statements that bypass the gateway (tampering, or marking a party erased).
pub async fn sql(app: &TestApp, statements: &[&str]) {
    let mut tx = app.db.begin_write().await.unwrap();
    for statement in statements {
        sqlx::query(statement).execute(&mut *tx).await.unwrap();
    }
    tx.commit().await.unwrap();
}

/// Row counts of the tables this part writes.
pub async fn ledger_counts(app: &TestApp) -> Vec<i64> {
    let mut out = Vec::new();
    for table in ["privacy_notices", "consent_events", "notice_served_events", "party_flag_events"] {
        out.push(app.count(table).await);
    }
    out
}
