//! Party flags over HTTP: set and clear events with who, when and why, the current flags
//! derived from the last event of each, insolvency dates, evidence hashes in the audit
//! log, and the append-only table.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use crate::consent_support::*;
use crate::helpers::*;
use custodia::access::Role;
use serde_json::{json, Value};

async fn post_flag(app: &TestApp, party: &str, body: &Value) -> (u16, Value) {
    let path = format!("/v1/parties/{party}/flags");
    let request = app.as_role(Role::Compliance, "compliance_review", reqwest::Method::POST, &path);
    answer(request.header("X-On-Behalf-Of", "oficial-3").json(body).send().await.unwrap()).await
}

#[tokio::test]
async fn flags_are_set_and_cleared_with_who_when_and_why_and_the_current_flags_follow_the_last_event() {
    let app = spawn_app().await;
    let party = app.create_party(&party(91)).await;
    let insolvency = json!({"action": "set", "flag": "insolvency", "reason": "insolvency_admitted", "reference": "RAD-2026-0001",
        "insolvency": {"admitted_on": "2026-01-20"}});
    let (status, body) = post_flag(&app, &party, &insolvency).await;
    assert_eq!(status, 201, "{body}");
    let event = &body["event"];
    assert_eq!((event["seq"].as_u64(), event["on_behalf_of"].as_str()), (Some(1), Some("oficial-3")));
    assert!(event["recorded_by"].is_string() && event["recorded_at"].is_string());
    assert_eq!(body["current"][0]["flag"], "insolvency");
    // The creditor is notified later: setting again replaces the details.
    let mut notified = insolvency.clone();
    notified["reason"] = json!("insolvency_updated");
    notified["insolvency"]["creditor_notified_on"] = json!("2026-01-22");
    assert_eq!(post_flag(&app, &party, &notified).await.0, 201);
    for body in [
        json!({"action": "set", "flag": "reclamo_en_tramite", "reason": "claim_received", "reference": "DSR-2026-17"}),
        json!({"action": "set", "flag": "attorney_represented", "reason": "attorney_notice"}),
        json!({"action": "clear", "flag": "reclamo_en_tramite", "reason": "claim_decided", "reference": "DSR-2026-17"}),
    ] {
        assert_eq!(post_flag(&app, &party, &body).await.0, 201, "{body}");
    }
    let (status, flags) = answer(app.get(Role::Agent, "collection", &format!("/v1/parties/{party}/flags")).await).await;
    assert_eq!(status, 200, "{flags}");
    let current: Vec<&str> = flags["current"].as_array().unwrap().iter().map(|f| f["flag"].as_str().unwrap()).collect();
    assert_eq!(current, vec!["insolvency", "attorney_represented"]);
    let insolvent = &flags["current"][0];
    assert_eq!(insolvent["insolvency"]["creditor_notified_on"], "2026-01-22");
    assert_eq!(insolvent["seq"], 2);
    assert_eq!(flags["history"].as_array().unwrap().len(), 5);
    // Each event's hash is the evidence of its audit record.
    let attested: Vec<String> = sqlx::query_scalar::<_, Vec<u8>>(
        "SELECT evidence FROM audit_records WHERE resource_id = $1 AND action IN ('flag.set', 'flag.clear') ORDER BY seq",
    )
    .bind(&party)
    .fetch_all(app.db.reader())
    .await
    .unwrap()
    .into_iter()
    .map(hex::encode)
    .collect();
    let hashes: Vec<String> =
        flags["history"].as_array().unwrap().iter().map(|e| e["sha256"].as_str().unwrap().to_string()).collect();
    assert_eq!(attested, hashes);
    let mut tx = app.db.begin_write().await.unwrap();
    assert!(sqlx::query("DELETE FROM party_flag_events").execute(&mut *tx).await.is_err(), "append-only");
    drop(tx);
    app.stop().await;
}

#[tokio::test]
async fn a_flag_dated_in_the_future_or_with_notification_before_admission_is_refused_and_writes_nothing() {
    let app = spawn_app().await;
    let party = app.create_party(&party(92)).await;
    let tomorrow = (chrono::Utc::now() + chrono::Duration::days(2)).date_naive().to_string();
    let before = ledger_counts(&app).await;
    for (insolvency, code) in [
        (json!({"admitted_on": tomorrow}), "date_in_future"),
        (json!({"admitted_on": "2026-01-20", "creditor_notified_on": "2026-01-19"}), "invalid_date"),
        (json!({"admitted_on": "20-01-2026"}), "invalid_date"),
    ] {
        let body =
            json!({"action": "set", "flag": "insolvency", "reason": "insolvency_admitted", "insolvency": insolvency});
        let (status, answer) = post_flag(&app, &party, &body).await;
        assert_eq!((status, answer["error"]["code"].as_str()), (422, Some(code)), "{answer}");
    }
    assert_eq!(ledger_counts(&app).await, before);
    app.stop().await;
}
