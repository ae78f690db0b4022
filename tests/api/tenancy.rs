//! Tenants are isolated (DESIGN invariant 6): another tenant's clients can neither read,
//! change, find nor infer a tenant's parties and obligations. Within a tenant a person is
//! one party: a national id or reference is taken once, and a known person named as a
//! guarantor is linked, not copied.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use crate::helpers::*;
use custodia::access::Role;
use reqwest::Method;
use serde_json::{json, Value};
use std::collections::HashMap;

fn inline_obligation(reference: &str) -> Value {
    json!({
        "external_ref": reference, "product": "credit_card", "currency": "COP", "principal": "1000.00",
        "balance": "500.00", "due_date": "2026-01-15", "status": "delinquent"
    })
}

/// `party(n)` holding one obligation with the given co-parties.
fn party_holding(n: u32, reference: &str, co_parties: Value) -> Value {
    let mut body = party(n);
    let mut obligation = inline_obligation(reference);
    obligation["co_parties"] = co_parties;
    body["obligations"] = json!([obligation]);
    body
}

/// Sends a request and returns status and the raw text.
async fn send(request: reqwest::RequestBuilder) -> (u16, String) {
    let response = request.send().await.unwrap();
    (response.status().as_u16(), response.text().await.unwrap())
}

/// Posts a party with a token; returns status and body.
async fn post_party(app: &TestApp, token: &str, body: &Value) -> (u16, Value) {
    let (status, text) = send(app.with_token(token, "ingest", Method::POST, "/v1/parties").json(body)).await;
    (status, serde_json::from_str(&text).unwrap())
}

async fn search(app: &TestApp, token: &str, purpose: &str, query: &Value) -> (u16, String) {
    send(app.with_token(token, purpose, Method::POST, "/v1/parties:search").json(query)).await
}

fn searches(n: u32) -> Vec<Value> {
    let secrets = party_secrets(n);
    vec![
        json!({"national_id": {"type": "CC", "number": secrets[0]}}),
        json!({"phone": format!("+57{}", secrets[1])}),
        json!({"phone": format!("+57{}", secrets[2])}),
        json!({"email": secrets[3]}),
        json!({"external_ref": format!("CRM-{n:06}")}),
    ]
}

fn error_code(text: &str) -> Value {
    serde_json::from_str::<Value>(text).unwrap()["error"]["code"].clone()
}

#[tokio::test]
async fn another_tenants_clients_can_neither_read_change_nor_find_a_tenants_data() {
    let app = spawn_app().await;
    let (status, created) = post_party(&app, &app.tokens[&Role::Ingest], &party_holding(1, "OBL-A-1", json!([]))).await;
    assert_eq!(status, 201, "{created}");
    let party_a = created["id"].as_str().unwrap().to_string();
    let obligation_a = created["obligation_ids"][0].as_str().unwrap().to_string();
    let b: HashMap<Role, String> = app.add_tenant("globex").await;
    let (_, original) = app.read_party(Role::Compliance, "compliance_review", &party_a).await;
    let before = app.row_counts().await;
    let secrets = party_secrets(1);
    let no_secrets = |at: &str, text: &str| {
        for secret in &secrets {
            assert!(!text.contains(secret.as_str()), "{at}: tenant B sees {secret}: {text}");
        }
    };

    // A 404 for tenant A's id must be indistinguishable from one for an id nobody has.
    let nobody = uuid::Uuid::now_v7().to_string();
    let (status, unknown) =
        send(app.with_token(&b[&Role::Compliance], "compliance_review", Method::GET, &format!("/v1/parties/{nobody}")))
            .await;
    assert_eq!(status, 404, "{unknown}");
    let unknown: Value = serde_json::from_str(&unknown).unwrap();

    let readers = [
        (Role::Admin, "dsr"),
        (Role::Compliance, "compliance_review"),
        (Role::Agent, "collection"),
        (Role::Dialer, "collection"),
        (Role::Analyst, "segmentation"),
        (Role::Regulator, "compliance_review"),
        (Role::Ingest, "ingest"),
    ];
    for (role, purpose) in readers {
        let token = &b[&role];
        for path in [
            format!("/v1/parties/{party_a}"),
            format!("/v1/parties/{party_a}/obligations"),
            format!("/v1/obligations/{obligation_a}"),
            format!("/v1/obligations/{obligation_a}/payments"),
            format!("/v1/obligations/{obligation_a}/promises"),
        ] {
            let at = format!("tenant B {role} / {purpose} GET {path}");
            let (status, text) = send(app.with_token(token, purpose, Method::GET, &path)).await;
            assert_eq!(status, 404, "{at}: {text}");
            assert_eq!(error_code(&text), "not_found", "{at}");
            no_secrets(&at, &text);
            if path.ends_with(&party_a) {
                let body: Value = serde_json::from_str(&text).unwrap();
                assert_eq!(
                    body["error"]["message"], unknown["error"]["message"],
                    "{at}: the 404 says more than unknown"
                );
            }
        }
    }

    let writes = [
        (
            Role::Compliance,
            "compliance_review",
            Method::PATCH,
            format!("/v1/parties/{party_a}"),
            json!({"full_name": "Intrusa De Globex"}),
        ),
        (Role::Admin, "support", Method::PATCH, format!("/v1/parties/{party_a}"), json!({"phones": []})),
        (
            Role::Ingest,
            "ingest",
            Method::PATCH,
            format!("/v1/obligations/{obligation_a}"),
            json!({"balance": "0.00", "status": "paid"}),
        ),
        (
            Role::Agent,
            "collection",
            Method::POST,
            format!("/v1/obligations/{obligation_a}/payments"),
            json!({"amount": "500.00", "paid_on": "2025-12-01"}),
        ),
        (
            Role::Agent,
            "collection",
            Method::POST,
            format!("/v1/obligations/{obligation_a}/promises"),
            json!({"amount": "500.00", "promised_date": "2026-02-01"}),
        ),
    ];
    for (role, purpose, method, path, body) in writes {
        let at = format!("tenant B {role} {method} {path}");
        let (status, text) = send(app.with_token(&b[&role], purpose, method, &path).json(&body)).await;
        assert_eq!(status, 404, "{at}: {text}");
        assert_eq!(error_code(&text), "not_found", "{at}");
        no_secrets(&at, &text);
    }

    for query in searches(1) {
        for (role, purpose) in
            [(Role::Admin, "support"), (Role::Compliance, "compliance_review"), (Role::Agent, "collection")]
        {
            let at = format!("tenant B {role} search {query}");
            let (status, text) = search(&app, &b[&role], purpose, &query).await;
            assert_eq!(status, 200, "{at}: {text}");
            let found: Value = serde_json::from_str(&text).unwrap();
            assert_eq!(found["results"], json!([]), "{at}");
        }
        // The same search in tenant A finds the party, so the empty answers above mean something.
        let (status, text) = search(&app, &app.tokens[&Role::Admin], "support", &query).await;
        assert_eq!(status, 200, "{text}");
        let found: Value = serde_json::from_str(&text).unwrap();
        assert_eq!(found["results"][0]["id"], party_a.as_str(), "tenant A search {query}");
    }

    assert_eq!(app.row_counts().await, before, "tenant B's attempts wrote rows");
    let (_, now) = app.read_party(Role::Compliance, "compliance_review", &party_a).await;
    assert_eq!(now, original, "tenant A's party changed");
    let (status, text) = send(app.with_token(
        &app.tokens[&Role::Agent],
        "collection",
        Method::GET,
        &format!("/v1/obligations/{obligation_a}"),
    ))
    .await;
    assert_eq!(status, 200, "{text}");
    let obligation: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(obligation["balance"], "500.00");
    assert_eq!(obligation["status"], "delinquent");
    app.stop().await;
}

#[tokio::test]
async fn a_national_id_is_one_party_per_tenant_but_free_in_another_tenant() {
    let app = spawn_app().await;
    let a = &app.tokens[&Role::Ingest];
    let (status, first) = post_party(&app, a, &party(7)).await;
    assert_eq!(status, 201, "{first}");

    let mut same_person = party(8);
    same_person["national_id"] = party(7)["national_id"].clone();
    let before = app.row_counts().await;
    let (status, second) = post_party(&app, a, &same_person).await;
    assert_eq!(status, 409, "{second}");
    assert_eq!(second["error"]["code"], "duplicate_party");
    assert!(!second.to_string().contains("739100007"), "{second}");
    assert_eq!(app.row_counts().await, before, "a refused duplicate wrote rows");
    assert_eq!(app.count("parties").await, 1);

    let b = app.add_tenant("globex").await;
    let (status, other) = post_party(&app, &b[&Role::Ingest], &party(7)).await;
    assert_eq!(status, 201, "the same person is a new party in another tenant: {other}");
    assert_ne!(other["id"], first["id"]);
    assert_eq!(app.count("parties").await, 2);
    let (status, text) = send(app.with_token(
        &b[&Role::Compliance],
        "compliance_review",
        Method::GET,
        &format!("/v1/parties/{}", other["id"].as_str().unwrap()),
    ))
    .await;
    assert_eq!(status, 200, "{text}");
    let view: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(view["national_id"]["number"], "739100007");
    app.stop().await;
}

#[tokio::test]
async fn an_external_ref_already_used_in_the_tenant_is_a_conflict() {
    let app = spawn_app().await;
    app.create_party(&party(9)).await;
    let mut other_person = party(10);
    other_person["external_ref"] = json!("CRM-000009");
    let before = app.row_counts().await;
    let (status, body) = post_party(&app, &app.tokens[&Role::Ingest], &other_person).await;
    assert_eq!(status, 409, "{body}");
    assert_eq!(body["error"]["code"], "duplicate_external_ref");
    assert_eq!(app.row_counts().await, before, "a refused duplicate wrote rows");
    assert_eq!(app.count("parties").await, 1);
    app.stop().await;
}

#[tokio::test]
async fn a_known_person_named_as_guarantor_is_linked_not_duplicated() {
    let app = spawn_app().await;
    let guarantor = app.create_party(&party(20)).await;
    assert_eq!(app.count("parties").await, 1);
    let a = &app.tokens[&Role::Ingest];

    let (status, created) =
        post_party(&app, a, &party_holding(21, "OBL-21", json!([{"role": "guarantor", "party": party(20)}]))).await;
    assert_eq!(status, 201, "{created}");
    assert_eq!(created["co_party_ids"], json!([]), "the guarantor exists, so nobody new is created");
    assert_eq!(app.count("parties").await, 2, "the holder is new, the guarantor is not");
    let holder = created["id"].as_str().unwrap();
    let obligation = created["obligation_ids"][0].as_str().unwrap();

    let (status, text) = send(app.with_token(
        &app.tokens[&Role::Agent],
        "collection",
        Method::GET,
        &format!("/v1/parties/{guarantor}/obligations"),
    ))
    .await;
    assert_eq!(status, 200, "{text}");
    let listed: Value = serde_json::from_str(&text).unwrap();
    let items = listed["items"].as_array().unwrap();
    assert_eq!(items.len(), 1, "{listed}");
    assert_eq!(items[0]["id"], obligation);
    assert_eq!(items[0]["external_ref"], "OBL-21");
    let mut parties: Vec<(String, String)> = items[0]["parties"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| (p["party_id"].as_str().unwrap().to_string(), p["role"].as_str().unwrap().to_string()))
        .collect();
    parties.sort();
    let mut wanted = vec![(guarantor.clone(), "guarantor".to_string()), (holder.to_string(), "holder".to_string())];
    wanted.sort();
    assert_eq!(parties, wanted);

    // A guarantor nobody knows yet is created with the holder.
    let (status, created) =
        post_party(&app, a, &party_holding(22, "OBL-22", json!([{"role": "guarantor", "party": party(23)}]))).await;
    assert_eq!(status, 201, "{created}");
    assert_eq!(created["co_party_ids"].as_array().unwrap().len(), 1);
    assert_eq!(app.count("parties").await, 4);

    // Another tenant naming the same person does not reach tenant A's party: it gets its own.
    let b = app.add_tenant("globex").await;
    let (status, created) = post_party(
        &app,
        &b[&Role::Ingest],
        &party_holding(24, "OBL-24", json!([{"role": "guarantor", "party": party(20)}])),
    )
    .await;
    assert_eq!(status, 201, "{created}");
    assert_eq!(created["co_party_ids"].as_array().unwrap().len(), 1, "a new party in tenant B");
    assert_ne!(created["co_party_ids"][0], guarantor.as_str());
    assert_eq!(app.count("parties").await, 6);
    let (_, text) = send(app.with_token(
        &app.tokens[&Role::Agent],
        "collection",
        Method::GET,
        &format!("/v1/parties/{guarantor}/obligations"),
    ))
    .await;
    let listed: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(listed["items"].as_array().unwrap().len(), 1, "tenant B's obligation is not linked to A's party");
    app.stop().await;
}
