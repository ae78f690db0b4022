//! DESIGN invariant 3: every access is audited before it is answered. Each read, search
//! and write leaves exactly one audit record naming who, what, why and which fields —
//! never a value — and when the audit log cannot be written, reads release nothing and
//! writes change nothing (503 `audit_unavailable`).

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use crate::helpers::*;
use custodia::access::Role;
use custodia::db::Backend;
use reqwest::Method;
use serde_json::{json, Value};
use sqlx::Row;

const AGENT: &str = "agent-17";

/// One HTTP exchange: status, JSON body (Null when none) and the response's request id.
struct Answer {
    status: u16,
    body: Value,
    request_id: String,
}

async fn send(
    app: &TestApp,
    role: Role,
    purpose: &str,
    method: Method,
    path: &str,
    body: Option<&Value>,
    on_behalf_of: Option<&str>,
) -> Answer {
    let mut request = app.as_role(role, purpose, method, path);
    if let Some(body) = body {
        request = request.json(body);
    }
    if let Some(agent) = on_behalf_of {
        request = request.header("X-On-Behalf-Of", agent);
    }
    let response = request.send().await.unwrap();
    let status = response.status().as_u16();
    let request_id = response.headers()["x-request-id"].to_str().unwrap().to_string();
    let body = response.json().await.unwrap_or(Value::Null);
    Answer { status, body, request_id }
}

/// What the newest audit record must say.
struct Expected<'a> {
    action: &'a str,
    role: Role,
    purpose: &'a str,
    on_behalf_of: Option<&'a str>,
    resource_id: Option<&'a str>,
    /// The party the record is about (its per-party chain runs through it).
    party: &'a str,
    fields: &'a str,
    status: i64,
}

async fn client_id(app: &TestApp, role: Role) -> String {
    sqlx::query_scalar("SELECT id FROM api_clients WHERE tenant_id = $1 AND role = $2")
        .bind(TENANT)
        .bind(role.as_str())
        .fetch_one(app.db.reader())
        .await
        .unwrap()
}

const TEXT_COLUMNS: &[&str] = &[
    "tenant_id",
    "recorded_at",
    "client_id",
    "role",
    "on_behalf_of",
    "action",
    "resource_id",
    "purpose",
    "fields",
    "outcome",
    "error_code",
    "request_id",
];

/// Checks the newest audit record against `expected`, the request id of `answer`, and
/// that none of its text columns holds any of `secrets`.
async fn check_newest_record(app: &TestApp, answer: &Answer, expected: &Expected<'_>, secrets: &[String]) {
    let at = expected.action;
    let row = sqlx::query(&format!(
        "SELECT {}, status, record_id FROM audit_records ORDER BY seq DESC LIMIT 1",
        TEXT_COLUMNS.join(", ")
    ))
    .fetch_one(app.db.reader())
    .await
    .unwrap();
    let text = |column: &str| row.get::<Option<String>, _>(column);
    assert_eq!(text("action").as_deref(), Some(expected.action), "{at}");
    assert_eq!(text("tenant_id").as_deref(), Some(TENANT), "{at}");
    assert_eq!(text("client_id"), Some(client_id(app, expected.role).await), "{at}");
    assert_eq!(text("role").as_deref(), Some(expected.role.as_str()), "{at}");
    assert_eq!(text("purpose").as_deref(), Some(expected.purpose), "{at}");
    assert_eq!(text("on_behalf_of").as_deref(), expected.on_behalf_of, "{at}");
    assert_eq!(text("resource_id").as_deref(), expected.resource_id, "{at}");
    let parties: Vec<String> = sqlx::query_scalar("SELECT party_id FROM audit_record_parties WHERE record_id = $1")
        .bind(row.get::<Vec<u8>, _>("record_id"))
        .fetch_all(app.db.reader())
        .await
        .unwrap();
    assert_eq!(parties, vec![expected.party.to_string()], "{at}: the record is about the party");
    assert_eq!(text("fields").as_deref(), Some(expected.fields), "{at}");
    assert_eq!(text("outcome").as_deref(), Some("allowed"), "{at}");
    assert_eq!(text("error_code"), None, "{at}");
    assert_eq!(row.get::<i64, _>("status"), expected.status, "{at}");
    assert_eq!(i64::from(answer.status), expected.status, "{at}: {}", answer.body);
    assert_eq!(text("request_id").as_deref(), Some(answer.request_id.as_str()), "{at}");
    for column in TEXT_COLUMNS {
        let value = text(column).unwrap_or_default();
        for secret in secrets {
            assert!(!value.contains(secret.as_str()), "{at}: audit column {column} holds {secret}: {value}");
        }
    }
}

/// Sends one request as `expected` says and checks it added exactly one audit record.
async fn send_counted(
    app: &TestApp,
    (method, path, body): (Method, &str, Option<&Value>),
    expected: &Expected<'_>,
) -> Answer {
    let before = app.audit_count().await;
    let answer = send(app, expected.role, expected.purpose, method, path, body, expected.on_behalf_of).await;
    assert_eq!(app.audit_count().await, before + 1, "{}: exactly one audit record ({})", expected.action, answer.body);
    answer
}

/// [`send_counted`], then the record's content.
async fn audited(
    app: &TestApp,
    request: (Method, &str, Option<&Value>),
    expected: Expected<'_>,
    secrets: &[String],
) -> Answer {
    let answer = send_counted(app, request, &expected).await;
    check_newest_record(app, &answer, &expected, secrets).await;
    answer
}

fn obligation_body(party_id: &str) -> Value {
    json!({
        "external_ref": "OBL-0001", "product": "credit_card", "currency": "COP",
        "principal": "1000.00", "balance": "500.00", "due_date": "2026-01-15", "status": "delinquent",
        "parties": [{"party_id": party_id, "role": "holder"}]
    })
}

/// Phones of `party(99)`, used to rectify party 1.
fn new_phones() -> Value {
    json!({"phones": [{"id": "mobile", "number": "+573157300099"}, {"id": "home", "number": "+576014400099"}]})
}

const ALL_CLEAR: &str =
    "external_ref:clear,full_name:clear,national_id:clear,phones:clear,emails:clear,address:clear,date_of_birth:clear";

#[tokio::test]
async fn every_read_search_and_write_leaves_exactly_one_audit_record_with_names_but_no_values() {
    let app = spawn_app().await;
    let secrets: Vec<String> =
        party_secrets(1).into_iter().chain(party_secrets(99)).chain(["Zebulón".to_string()]).collect();
    let expect = |action, role, purpose, on_behalf_of, resource_id, fields, status| Expected {
        action,
        role,
        purpose,
        on_behalf_of,
        resource_id,
        party: "",
        fields,
        status,
    };

    // POST /v1/parties: the id is only known from the answer.
    let create = expect("party.create", Role::Ingest, "ingest", None, None, "", 201);
    let answer = send_counted(&app, (Method::POST, "/v1/parties", Some(&party(1))), &create).await;
    let id = answer.body["id"].as_str().unwrap_or_else(|| panic!("{}", answer.body)).to_string();
    let written = "external_ref,full_name,national_id,phones,emails,address,date_of_birth";
    check_newest_record(
        &app,
        &answer,
        &Expected { resource_id: Some(&id), party: &id, fields: written, ..create },
        &secrets,
    )
    .await;

    let party_path = format!("/v1/parties/{id}");
    let read = expect("party.read", Role::Compliance, "compliance_review", Some(AGENT), Some(&id), ALL_CLEAR, 200);
    let read = Expected { party: &id, ..read };
    let answer = audited(&app, (Method::GET, &party_path, None), read, &secrets).await;
    assert_eq!(answer.body["national_id"]["number"], "739100001", "the read served data");

    let by_phone = json!({"phone": "+573157300001"});
    let agent_view =
        "by:phone,external_ref:clear,full_name:clear,national_id:masked,phones:masked,emails:masked,address:masked";
    let search = expect("party.search", Role::Agent, "collection", Some(AGENT), None, agent_view, 200);
    let search = Expected { party: &id, ..search };
    let answer = audited(&app, (Method::POST, "/v1/parties:search", Some(&by_phone)), search, &secrets).await;
    assert_eq!(answer.body["results"][0]["id"], id.as_str());

    let patch = expect("party.update", Role::Agent, "collection", Some(AGENT), Some(&id), "phones", 200);
    let patch = Expected { party: &id, ..patch };
    audited(&app, (Method::PATCH, &party_path, Some(&new_phones())), patch, &secrets).await;

    let create = expect("obligation.create", Role::Ingest, "ingest", None, None, "obligation", 201);
    let create = Expected { party: &id, ..create };
    let answer = send_counted(&app, (Method::POST, "/v1/obligations", Some(&obligation_body(&id))), &create).await;
    let obligation = answer.body["id"].as_str().unwrap().to_string();
    let create = Expected { resource_id: Some(&obligation), ..create };
    check_newest_record(&app, &answer, &create, &secrets).await;

    let obligation_path = format!("/v1/obligations/{obligation}");
    let read = Expected {
        party: &id,
        ..expect("obligation.read", Role::Agent, "collection", Some(AGENT), Some(&obligation), "obligation", 200)
    };
    audited(&app, (Method::GET, &obligation_path, None), read, &secrets).await;

    let payments = format!("{obligation_path}/payments");
    let payment = json!({"amount": "100.00", "paid_on": "2026-01-10"});
    let pay = Expected {
        party: &id,
        ..expect("payment.create", Role::Agent, "collection", Some(AGENT), Some(&obligation), "payment", 201)
    };
    audited(&app, (Method::POST, &payments, Some(&payment)), pay, &secrets).await;

    let promise = json!({"amount": "50.00", "promised_date": "2026-02-01"});
    let promises = format!("{obligation_path}/promises");
    let promise_create = Expected {
        party: &id,
        ..expect("promise.create", Role::Agent, "collection", None, Some(&obligation), "promise", 201)
    };
    audited(&app, (Method::POST, &promises, Some(&promise)), promise_create, &secrets).await;

    let list = Expected {
        party: &id,
        ..expect("payment.read", Role::Compliance, "compliance_review", None, Some(&obligation), "obligation", 200)
    };
    let answer = audited(&app, (Method::GET, &payments, None), list, &secrets).await;
    assert_eq!(answer.body["items"].as_array().map(Vec::len), Some(1), "{}", answer.body);

    let of_party = format!("{party_path}/obligations");
    let list =
        expect("party.obligations.read", Role::Analyst, "segmentation", Some(AGENT), Some(&id), "obligation", 200);
    let list = Expected { party: &id, ..list };
    let answer = audited(&app, (Method::GET, &of_party, None), list, &secrets).await;
    assert_eq!(answer.body["items"][0]["id"], obligation.as_str());
    app.stop().await;
}

/// Every party field ciphertext, to prove a refused write changed none.
async fn sealed_fields(app: &TestApp) -> Vec<(String, String, String, Vec<u8>)> {
    sqlx::query("SELECT party_id, field, element_id, ciphertext FROM party_fields ORDER BY party_id, field, element_id")
        .fetch_all(app.db.reader())
        .await
        .unwrap()
        .iter()
        .map(|r| (r.get("party_id"), r.get("field"), r.get("element_id"), r.get("ciphertext")))
        .collect()
}

async fn repair_audit_log(app: &TestApp) {
    let statement = match app.backend() {
        Backend::Sqlite => "DROP TRIGGER audit_broken",
        Backend::Postgres => "DROP TRIGGER audit_broken ON audit_records",
    };
    let mut tx = app.db.begin_write().await.unwrap();
    sqlx::query(statement).execute(&mut *tx).await.unwrap();
    tx.commit().await.unwrap();
}

fn assert_audit_unavailable(what: &str, answer: &Answer, secrets: &[String]) {
    assert_eq!(answer.status, 503, "{what}: {}", answer.body);
    assert_eq!(answer.body["error"]["code"], "audit_unavailable", "{what}: {}", answer.body);
    let text = answer.body.to_string();
    for secret in secrets {
        assert!(!text.contains(secret.as_str()), "{what}: the refusal leaks {secret}: {text}");
    }
}

#[tokio::test]
async fn when_the_audit_log_cannot_be_written_reads_release_nothing_and_writes_change_nothing() {
    let app = spawn_app().await;
    let id = app.create_party(&party(1)).await;
    let response = app.post_json(Role::Ingest, "ingest", "/v1/obligations", &obligation_body(&id)).await;
    assert_eq!(response.status(), 201);
    let obligation = response.json::<Value>().await.unwrap()["id"].as_str().unwrap().to_string();
    let secrets: Vec<String> = (1..=2).chain([99]).flat_map(party_secrets).collect();
    // Read the party once first, so the refused read below is served from memory (party
    // and key cached, no database connection): that path must fail closed too.
    let party_path = format!("/v1/parties/{id}");
    let warm = send(&app, Role::Compliance, "compliance_review", Method::GET, &party_path, None, None).await;
    assert_eq!(warm.status, 200, "{}", warm.body);
    break_audit_log(&app).await;
    let (counts, audits, sealed) = (app.row_counts().await, app.audit_count().await, sealed_fields(&app).await);

    let obligation_path = format!("/v1/obligations/{obligation}");
    let by_id = json!({"national_id": {"type": "CC", "number": "739100001"}});
    let reads: [(Method, &str, Option<&Value>); 5] = [
        (Method::GET, &party_path, None),
        (Method::POST, "/v1/parties:search", Some(&by_id)),
        (Method::GET, &obligation_path, None),
        (Method::GET, &format!("{obligation_path}/payments"), None),
        (Method::GET, &format!("{party_path}/obligations"), None),
    ];
    for (method, path, body) in reads {
        let what = format!("{method} {path}");
        let answer = send(&app, Role::Compliance, "compliance_review", method, path, body, Some(AGENT)).await;
        assert_audit_unavailable(&what, &answer, &secrets);
    }

    let payment = json!({"amount": "100.00", "paid_on": "2026-01-10"});
    let promise = json!({"amount": "50.00", "promised_date": "2026-02-01"});
    let mut second_obligation = obligation_body(&id);
    second_obligation["external_ref"] = json!("OBL-0002");
    let writes: [(Role, &str, Method, String, Value); 5] = [
        (Role::Ingest, "ingest", Method::POST, "/v1/parties".into(), party(2)),
        (Role::Ingest, "ingest", Method::POST, "/v1/obligations".into(), second_obligation),
        (Role::Agent, "collection", Method::PATCH, party_path.clone(), new_phones()),
        (Role::Agent, "collection", Method::POST, format!("{obligation_path}/payments"), payment),
        (Role::Agent, "collection", Method::POST, format!("{obligation_path}/promises"), promise),
    ];
    for (role, purpose, method, path, body) in &writes {
        let what = format!("{method} {path}");
        let answer = send(&app, *role, purpose, method.clone(), path, Some(body), None).await;
        assert_audit_unavailable(&what, &answer, &secrets);
        assert_eq!(app.row_counts().await, counts, "{what} wrote rows");
        assert_eq!(sealed_fields(&app).await, sealed, "{what} changed a stored field");
    }
    // A create under an Idempotency-Key claims nothing when it is refused...
    let create_with_key = || {
        app.as_role(Role::Ingest, "ingest", Method::POST, "/v1/parties")
            .header("Idempotency-Key", "after-the-outage")
            .json(&party(2))
    };
    let response = create_with_key().send().await.unwrap();
    assert_eq!(response.status(), 503);
    assert_eq!(app.row_counts().await, counts, "the refused create kept its idempotency key");
    assert_eq!(app.audit_count().await, audits);

    // ...so once the log is back, its retry is served as a new request.
    repair_audit_log(&app).await;
    let response = create_with_key().send().await.unwrap();
    assert_eq!(response.status(), 201);
    assert!(response.headers().get("idempotent-replayed").is_none(), "a refused request is never replayed");
    let (status, body) = app.read_party(Role::Compliance, "compliance_review", &id).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["phones"][1]["number"], "+573157300001", "the refused rectification left the phone as it was");
    app.stop().await;
}

#[tokio::test]
async fn a_role_refused_by_an_endpoint_is_audited_before_the_403() {
    let app = spawn_app().await;
    let before = app.audit_count().await;
    let response = app.post_json(Role::Analyst, "segmentation", "/v1/parties", &party(1)).await;
    assert_eq!(response.status(), 403);
    let body: serde_json::Value = response.json().await.unwrap();
    assert_eq!(body["error"]["code"], "role_not_allowed");
    assert_eq!(app.audit_count().await, before + 1);
    let (action, outcome, code): (String, String, Option<String>) =
        sqlx::query_as("SELECT action, outcome, error_code FROM audit_records ORDER BY seq DESC LIMIT 1")
            .fetch_one(app.db.reader())
            .await
            .unwrap();
    assert_eq!(
        (action.as_str(), outcome.as_str(), code.as_deref()),
        ("party.create", "denied", Some("role_not_allowed"))
    );
    assert_eq!(app.count("parties").await, 0);
    app.stop().await;
}
