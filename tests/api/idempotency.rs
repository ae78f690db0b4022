//! `Idempotency-Key` on POSTs: a retry gets the first answer back and writes nothing
//! more (no second row, no second audit record), even when the retries race; a key
//! names one request of one client.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use crate::helpers::*;
use custodia::access::Role;
use reqwest::Method;
use serde_json::{json, Value};

/// Status, raw body and whether the answer says it is a replay.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Answer {
    status: u16,
    body: String,
    replayed: bool,
}

async fn post_with_key(app: &TestApp, (role, purpose): (Role, &str), path: &str, key: &str, body: &Value) -> Answer {
    let response =
        app.as_role(role, purpose, Method::POST, path).header("Idempotency-Key", key).json(body).send().await.unwrap();
    let status = response.status().as_u16();
    let replayed = match response.headers().get("idempotent-replayed") {
        None => false,
        Some(value) => {
            assert_eq!(value, "true");
            true
        }
    };
    Answer { status, body: response.text().await.unwrap(), replayed }
}

const INGEST: (Role, &str) = (Role::Ingest, "ingest");
const ADMIN: (Role, &str) = (Role::Admin, "support");
const AGENT: (Role, &str) = (Role::Agent, "collection");

#[tokio::test]
async fn a_party_create_retried_with_the_same_key_is_answered_the_same_and_written_once() {
    let app = spawn_app().await;
    let audits = app.audit_count().await;
    let first = post_with_key(&app, INGEST, "/v1/parties", "create-1", &party(1)).await;
    assert_eq!(first.status, 201, "{}", first.body);
    assert!(!first.replayed);
    let retry = post_with_key(&app, INGEST, "/v1/parties", "create-1", &party(1)).await;
    assert_eq!(retry, Answer { replayed: true, ..first.clone() });
    assert_eq!(app.count("parties").await, 1);
    assert_eq!(app.audit_count().await, audits + 1, "the replay is not a second create");
    let id: Value = serde_json::from_str(&first.body).unwrap();
    let (status, body) = app.read_party(Role::Compliance, "compliance_review", id["id"].as_str().unwrap()).await;
    assert_eq!((status, &body["national_id"]["number"]), (200, &json!("739100001")), "{body}");
    app.stop().await;
}

#[tokio::test]
async fn a_key_reused_with_another_party_is_refused_and_writes_nothing() {
    let app = spawn_app().await;
    let first = post_with_key(&app, INGEST, "/v1/parties", "create-1", &party(1)).await;
    assert_eq!(first.status, 201, "{}", first.body);
    let (counts, audits) = (app.row_counts().await, app.audit_count().await);
    let reused = post_with_key(&app, INGEST, "/v1/parties", "create-1", &party(2)).await;
    assert_eq!(reused.status, 422, "{}", reused.body);
    assert!(!reused.replayed);
    let body: Value = serde_json::from_str(&reused.body).unwrap();
    assert_eq!(body["error"]["code"], "idempotency_key_reused");
    for secret in party_secrets(2) {
        assert!(!reused.body.contains(&secret), "the refusal echoes {secret}");
    }
    assert_eq!(app.row_counts().await, counts);
    assert_eq!(app.audit_count().await, audits);
    // The key still answers for its own request.
    let retry = post_with_key(&app, INGEST, "/v1/parties", "create-1", &party(1)).await;
    assert_eq!(retry, Answer { replayed: true, ..first });
    app.stop().await;
}

#[tokio::test]
async fn the_same_key_from_another_client_is_a_request_of_its_own() {
    let app = spawn_app().await;
    let ingest = post_with_key(&app, INGEST, "/v1/parties", "shared-key", &party(1)).await;
    assert_eq!(ingest.status, 201, "{}", ingest.body);
    let admin = post_with_key(&app, ADMIN, "/v1/parties", "shared-key", &party(2)).await;
    assert_eq!(admin.status, 201, "{}", admin.body);
    assert!(!admin.replayed, "another client's key is not a replay");
    assert_ne!(admin.body, ingest.body);
    assert_eq!(app.count("parties").await, 2);
    // Each client's retry gets its own answer back.
    assert_eq!(
        post_with_key(&app, ADMIN, "/v1/parties", "shared-key", &party(2)).await,
        Answer { replayed: true, ..admin }
    );
    assert_eq!(
        post_with_key(&app, INGEST, "/v1/parties", "shared-key", &party(1)).await,
        Answer { replayed: true, ..ingest }
    );
    assert_eq!(app.count("parties").await, 2);
    app.stop().await;
}

/// Sends `attempts` copies of one request at once.
async fn race(
    app: &TestApp,
    who: (Role, &'static str),
    path: &str,
    key: &str,
    body: &Value,
    attempts: usize,
) -> Vec<Answer> {
    let requests = (0..attempts).map(|_| post_with_key(app, who, path, key, body));
    futures::future::join_all(requests).await
}

/// One fresh answer and the rest replays of it.
fn assert_one_fresh_and_replays(answers: &[Answer], status: u16) {
    let fresh: Vec<&Answer> = answers.iter().filter(|a| !a.replayed).collect();
    assert_eq!(fresh.len(), 1, "exactly one attempt does the work: {answers:?}");
    for answer in answers {
        assert_eq!((answer.status, &answer.body), (status, &fresh[0].body), "{answers:?}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn ten_concurrent_retries_of_a_party_create_write_one_party() {
    let app = spawn_app().await;
    let audits = app.audit_count().await;
    let answers = race(&app, INGEST, "/v1/parties", "racing", &party(1), 10).await;
    assert_one_fresh_and_replays(&answers, 201);
    assert_eq!(app.count("parties").await, 1);
    assert_eq!(app.count("idempotency_keys").await, 1);
    assert_eq!(app.audit_count().await, audits + 1);
    app.stop().await;
}

/// A party with one obligation; returns the obligation's payments path.
async fn obligation(app: &TestApp) -> String {
    let id = app.create_party(&party(1)).await;
    let body = json!({
        "external_ref": "OBL-0001", "product": "credit_card", "currency": "COP",
        "principal": "1000.00", "balance": "500.00", "due_date": "2026-01-15", "status": "delinquent",
        "parties": [{"party_id": id, "role": "holder"}]
    });
    let response = app.post_json(Role::Ingest, "ingest", "/v1/obligations", &body).await;
    assert_eq!(response.status(), 201);
    let created: Value = response.json().await.unwrap();
    format!("/v1/obligations/{}/payments", created["id"].as_str().unwrap())
}

fn payment(amount: &str) -> Value {
    json!({"amount": amount, "paid_on": "2026-01-10"})
}

#[tokio::test]
async fn a_payment_retried_with_the_same_key_is_recorded_once() {
    let app = spawn_app().await;
    let payments = obligation(&app).await;
    let audits = app.audit_count().await;
    let first = post_with_key(&app, AGENT, &payments, "pay-1", &payment("100.00")).await;
    assert_eq!(first.status, 201, "{}", first.body);
    assert!(!first.replayed);
    let retry = post_with_key(&app, AGENT, &payments, "pay-1", &payment("100.00")).await;
    assert_eq!(retry, Answer { replayed: true, ..first });
    assert_eq!(app.count("payments").await, 1);
    assert_eq!(app.audit_count().await, audits + 1);
    app.stop().await;
}

#[tokio::test]
async fn a_payment_key_reused_with_another_amount_or_obligation_is_refused_and_writes_nothing() {
    let app = spawn_app().await;
    let payments = obligation(&app).await;
    let first = post_with_key(&app, AGENT, &payments, "pay-1", &payment("100.00")).await;
    assert_eq!(first.status, 201, "{}", first.body);
    // A second obligation of the same party, paid with the same key and body.
    let holder: Value = app
        .get(Role::Compliance, "compliance_review", payments.trim_end_matches("/payments"))
        .await
        .json()
        .await
        .unwrap();
    let mut body = json!({
        "external_ref": "OBL-0002", "product": "credit_card", "currency": "COP",
        "principal": "1000.00", "balance": "500.00", "due_date": "2026-01-15", "status": "delinquent",
    });
    body["parties"] = json!([{"party_id": holder["parties"][0]["party_id"], "role": "holder"}]);
    let response = app.post_json(Role::Ingest, "ingest", "/v1/obligations", &body).await;
    assert_eq!(response.status(), 201);
    let other = format!("/v1/obligations/{}/payments", response.json::<Value>().await.unwrap()["id"].as_str().unwrap());

    let (counts, audits) = (app.row_counts().await, app.audit_count().await);
    for (path, body) in [(&payments, payment("999.00")), (&other, payment("100.00"))] {
        let reused = post_with_key(&app, AGENT, path, "pay-1", &body).await;
        assert_eq!(reused.status, 422, "{path}: {}", reused.body);
        let error: Value = serde_json::from_str(&reused.body).unwrap();
        assert_eq!(error["error"]["code"], "idempotency_key_reused", "{path}");
        assert_eq!(app.row_counts().await, counts, "{path}");
        assert_eq!(app.audit_count().await, audits, "{path}");
    }
    app.stop().await;
}

#[tokio::test]
async fn the_same_payment_key_from_another_client_records_another_payment() {
    let app = spawn_app().await;
    let payments = obligation(&app).await;
    let agent = post_with_key(&app, AGENT, &payments, "pay-1", &payment("100.00")).await;
    let ingest = post_with_key(&app, INGEST, &payments, "pay-1", &payment("100.00")).await;
    assert_eq!((agent.status, ingest.status), (201, 201), "{} {}", agent.body, ingest.body);
    assert!(!agent.replayed && !ingest.replayed, "each client's first use of its key is fresh");
    assert_eq!(app.count("payments").await, 2);
    assert!(post_with_key(&app, INGEST, &payments, "pay-1", &payment("100.00")).await.replayed);
    assert_eq!(app.count("payments").await, 2);
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn ten_concurrent_retries_of_a_payment_record_one_payment() {
    let app = spawn_app().await;
    let payments = obligation(&app).await;
    let audits = app.audit_count().await;
    let answers = race(&app, AGENT, &payments, "racing", &payment("100.00"), 10).await;
    assert_one_fresh_and_replays(&answers, 201);
    assert_eq!(app.count("payments").await, 1);
    assert_eq!(app.audit_count().await, audits + 1);
    app.stop().await;
}
