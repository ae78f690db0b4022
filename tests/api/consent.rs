//! The consent ledger over HTTP: grants and revocations with evidence, state derived from
//! the last event per scope, the Decreto 1377 art. 9 refusal, the Ley 2300 artefacts,
//! destinations by element id, tenancy and erasure.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use crate::consent_support::*;
use crate::helpers::*;
use custodia::access::Role;
use serde_json::{json, Value};

#[tokio::test]
async fn a_grant_and_a_revocation_are_recorded_with_their_evidence_and_the_state_follows_the_last_event() {
    let app = spawn_app().await;
    let notice = standard_notice(&app).await;
    let party = app.create_party(&party(11)).await;
    let mut body = grant("collection", Some("sms"), &notice);
    body["destination"] = json!("mobile");
    body["evidence"]["document_sha256"] = json!("ab".repeat(32));
    let (status, recorded) = post_consent(&app, &party, &body).await;
    assert_eq!(status, 201, "{recorded}");
    assert_eq!(recorded["status"], "granted");
    let event = &recorded["event"];
    assert_eq!((event["seq"].as_u64(), event["destination"].as_str()), (Some(1), Some("mobile")));
    assert_eq!(event["notice_hash"], notice.as_str());
    assert_eq!(event["method"], "recorded_call");
    assert_eq!(event["captured_by"], "agent-17");
    // The audit record of the write carries the event's hash as evidence.
    let evidence: Vec<u8> =
        sqlx::query_scalar("SELECT evidence FROM audit_records WHERE action = 'consent.grant' AND resource_id = $1")
            .bind(&party)
            .fetch_one(app.db.reader())
            .await
            .unwrap();
    assert_eq!(hex::encode(evidence), event["sha256"].as_str().unwrap());

    for body in [grant("collection", None, &notice), grant("collection", Some("email"), &notice)] {
        assert_eq!(post_consent(&app, &party, &body).await.0, 201);
    }
    let (status, revoked) = post_consent(&app, &party, &revoke("collection", Some("email"))).await;
    assert_eq!((status, revoked["status"].as_str()), (201, Some("revoked")), "{revoked}");
    let (status, ledger) = consents(&app, &party).await;
    assert_eq!(status, 200, "{ledger}");
    assert_eq!(ledger["history"].as_array().unwrap().len(), 4);
    assert_eq!(status_of(&ledger, "authorization", "collection", None).as_deref(), Some("granted"));
    assert_eq!(status_of(&ledger, "authorization", "collection", Some("email")).as_deref(), Some("revoked"));
    let bound = ledger["current"].as_array().unwrap().iter().find(|s| s["scope"]["destination"] == "mobile");
    assert_eq!(bound.unwrap()["status"], "granted", "a destination-bound scope is its own scope");
    app.stop().await;
}

#[tokio::test]
async fn revoking_collection_or_data_processing_is_refused_while_an_obligation_is_open_and_a_channel_never_is() {
    let app = spawn_app().await;
    let notice = standard_notice(&app).await;
    let (party, obligation) = party_with_obligation(&app, 12, "credit_card", "delinquent").await;
    for body in [
        grant("data_processing", None, &notice),
        grant("collection", None, &notice),
        grant("collection", Some("whatsapp"), &notice),
    ] {
        assert_eq!(post_consent(&app, &party, &body).await.0, 201);
    }
    let before = ledger_counts(&app).await;
    for purpose in ["collection", "data_processing"] {
        let (status, body) = post_consent(&app, &party, &revoke(purpose, None)).await;
        assert_eq!(status, 409, "{purpose}: {body}");
        assert_eq!(body["error"]["code"], "revocation_refused");
        let message = body["error"]["message"].as_str().unwrap();
        assert!(message.contains("Decreto 1377 de 2013 art. 9") && message.contains("2.2.2.25.2.6"), "{message}");
    }
    assert_eq!(ledger_counts(&app).await, before, "a refused revocation writes nothing");
    // Revoking a channel is always possible, and so is revoking marketing.
    assert_eq!(post_consent(&app, &party, &revoke("collection", Some("whatsapp"))).await.0, 201);
    assert_eq!(post_consent(&app, &party, &revoke("marketing", None)).await.0, 201);
    // Once the obligation is paid, no duty holds and the revocation goes through.
    let response = app
        .as_role(Role::Ingest, "ingest", reqwest::Method::PATCH, &format!("/v1/obligations/{obligation}"))
        .json(&json!({"status": "paid", "balance": "0"}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let (status, body) = post_consent(&app, &party, &revoke("collection", None)).await;
    assert_eq!(status, 201, "{body}");
    app.stop().await;
}

/// A legal retention period is a duty to remain too: the same holds that block erasure
/// block revoking the authorization to process data, with their basis in the message.
#[tokio::test]
async fn revoking_collection_is_refused_while_a_retention_period_runs_even_with_no_open_obligation() {
    let app = spawn_app().await;
    let notice = standard_notice(&app).await;
    let party = app.create_party(&party(17)).await;
    assert_eq!(post_consent(&app, &party, &grant("collection", None, &notice)).await.0, 201);
    let today = chrono::Utc::now().date_naive();
    let hold = json!({"basis": "Ley 1266 de 2008 art. 13", "starts_on": (today - chrono::Duration::days(30)).to_string(),
        "ends_on": (today + chrono::Duration::days(400)).to_string()});
    let path = format!("/v1/parties/{party}/retention-holds");
    let response = app.post_json(Role::Compliance, "compliance_review", &path, &hold).await;
    assert_eq!(response.status(), 201, "{:?}", response.text().await);
    let (status, body) = post_consent(&app, &party, &revoke("collection", None)).await;
    assert_eq!(status, 409, "{body}");
    assert_eq!(body["error"]["code"], "revocation_refused");
    assert!(body["error"]["message"].as_str().unwrap().contains("Ley 1266 de 2008 art. 13"), "{body}");
    app.stop().await;
}

fn special_hours(notice: &str, contract_date: &str, captured_at: &str) -> Value {
    json!({
        "action": "grant", "kind": "special_hours", "purpose": "collection", "contract_date": contract_date,
        "hours": {"days": ["mon", "tue", "wed"], "from": "19:00", "to": "20:30"},
        "evidence": {"method": "written", "notice_hash": notice, "captured_at": captured_at,
            "captured_by": "backoffice-3", "source_reference": "DOC-2026-0042", "document_sha256": "cd".repeat(32)}
    })
}

#[tokio::test]
async fn a_special_hours_artefact_must_be_dated_after_the_contract_in_the_partys_time_zone() {
    let app = spawn_app().await;
    let notice = standard_notice(&app).await;
    let party = app.create_party(&party(13)).await;
    let bogota_today = (chrono::Utc::now() - chrono::Duration::hours(5)).date_naive();
    let before = ledger_counts(&app).await;
    for (contract, captured) in
        [(bogota_today.to_string(), now()), ((bogota_today + chrono::Duration::days(3)).to_string(), now())]
    {
        let (status, body) = post_consent(&app, &party, &special_hours(&notice, &contract, &captured)).await;
        assert_eq!(status, 422, "{body}");
        assert_eq!(body["error"]["code"], "artefact_before_contract", "{body}");
    }
    let mut missing = special_hours(&notice, "2025-12-01", &now());
    missing["evidence"]["document_sha256"] = Value::Null;
    assert_eq!(post_consent(&app, &party, &missing).await.1["error"]["code"], "document_required");
    assert_eq!(ledger_counts(&app).await, before);
    let contract = (bogota_today - chrono::Duration::days(1)).to_string();
    let (status, body) = post_consent(&app, &party, &special_hours(&notice, &contract, &now())).await;
    assert_eq!(status, 201, "{body}");
    let (_, ledger) = consents(&app, &party).await;
    let state = ledger["current"].as_array().unwrap().iter().find(|s| s["scope"]["kind"] == "special_hours").unwrap();
    assert_eq!(state["status"], "granted");
    assert_eq!(state["contract_date"], contract.as_str());
    assert_eq!(state["hours"]["from"], "19:00");
    app.stop().await;
}

fn visit(notice: &str, obligation: &str) -> Value {
    json!({
        "action": "grant", "kind": "visit", "purpose": "collection", "obligation_id": obligation,
        "contract_date": "2025-06-01",
        "evidence": {"method": "written", "notice_hash": notice, "captured_at": now(),
            "captured_by": "asesor-9", "source_reference": "VISIT-AUTH-77", "document_sha256": "ef".repeat(32)}
    })
}

#[tokio::test]
async fn a_visit_artefact_needs_an_obligation_of_the_party_whose_product_allows_visits() {
    let app = spawn_app().await;
    let notice = standard_notice(&app).await;
    let (party, card) = party_with_obligation(&app, 14, "credit_card", "delinquent").await;
    let before = ledger_counts(&app).await;
    let (status, body) = post_consent(&app, &party, &visit(&notice, &card)).await;
    assert_eq!((status, body["error"]["code"].as_str()), (422, Some("visit_not_eligible")), "{body}");
    assert!(body["error"]["message"].as_str().unwrap().contains("art. 6"));
    let (other, microcredit_of_other) = party_with_obligation(&app, 15, "microcredit", "delinquent").await;
    let (status, body) = post_consent(&app, &party, &visit(&notice, &microcredit_of_other)).await;
    assert_eq!((status, body["error"]["code"].as_str()), (422, Some("unknown_obligation")), "{body}");
    let plain_visit = grant("collection", Some("visit"), &notice);
    assert_eq!(post_consent(&app, &party, &plain_visit).await.1["error"]["code"], "visit_needs_artefact");
    assert_eq!(ledger_counts(&app).await, before);
    for (i, product) in ["microcredit", "agricultural_credit", "development_credit"].into_iter().enumerate() {
        let (party, obligation) = party_with_obligation(&app, 30 + i as u32, product, "current").await;
        let (status, body) = post_consent(&app, &party, &visit(&notice, &obligation)).await;
        assert_eq!(status, 201, "{product}: {body}");
        assert_eq!(body["event"]["channel"], "visit");
    }
    // A visit authorization can always be revoked, and a general "no visits" too.
    let mut withdraw = revoke("collection", None);
    withdraw["kind"] = json!("visit");
    withdraw["obligation_id"] = json!(microcredit_of_other);
    assert_eq!(post_consent(&app, &other, &withdraw).await.0, 201);
    assert_eq!(post_consent(&app, &other, &revoke("collection", Some("visit"))).await.0, 201);
    app.stop().await;
}

#[tokio::test]
async fn a_destination_is_an_element_id_of_the_party_and_no_number_is_ever_taken_or_echoed() {
    let app = spawn_app().await;
    let notice = standard_notice(&app).await;
    let party = app.create_party(&party(21)).await;
    let before = ledger_counts(&app).await;
    let cases = [
        ("work", "sms", "unknown_destination"),
        ("personal", "sms", "unknown_destination"),
        ("mobile", "email", "unknown_destination"),
        ("+573157300021", "sms", "invalid_destination"),
        ("mobile", "letter", "destination_not_applicable"),
    ];
    for (destination, channel, code) in cases {
        let mut body = grant("collection", Some(channel), &notice);
        body["destination"] = json!(destination);
        let (status, reply) = post_consent(&app, &party, &body).await;
        assert_eq!((status, reply["error"]["code"].as_str()), (422, Some(code)), "{destination}/{channel}: {reply}");
        assert!(!reply.to_string().contains("3157300021"), "{reply}");
    }
    assert_eq!(ledger_counts(&app).await, before);
    let mut body = grant("marketing", Some("email"), &notice);
    body["destination"] = json!("personal");
    assert_eq!(post_consent(&app, &party, &body).await.0, 201);
    app.stop().await;
}

#[tokio::test]
async fn evidence_from_the_future_or_older_than_the_scopes_latest_event_is_refused() {
    let app = spawn_app().await;
    let notice = standard_notice(&app).await;
    let party = app.create_party(&party(22)).await;
    let mut future = grant("collection", Some("sms"), &notice);
    future["evidence"]["captured_at"] = json!((chrono::Utc::now() + chrono::Duration::minutes(5)).to_rfc3339());
    let (status, body) = post_consent(&app, &party, &future).await;
    assert_eq!((status, body["error"]["code"].as_str()), (422, Some("captured_in_future")), "{body}");
    // A notice cannot have been shown before it was published.
    let mut before_notice = grant("collection", Some("sms"), &notice);
    before_notice["evidence"]["captured_at"] = json!(ago(3600));
    let (status, body) = post_consent(&app, &party, &before_notice).await;
    assert_eq!((status, body["error"]["code"].as_str()), (422, Some("notice_published_after_capture")), "{body}");
    assert_eq!(post_consent(&app, &party, &grant("collection", Some("sms"), &notice)).await.0, 201);
    let mut stale = revoke("collection", Some("sms"));
    stale["evidence"]["captured_at"] = json!(ago(1));
    let (status, body) = post_consent(&app, &party, &stale).await;
    assert_eq!((status, body["error"]["code"].as_str()), (409, Some("evidence_superseded")), "{body}");
    let (_, ledger) = consents(&app, &party).await;
    assert_eq!(status_of(&ledger, "authorization", "collection", Some("sms")).as_deref(), Some("granted"));
    app.stop().await;
}

#[tokio::test]
async fn another_tenants_party_is_not_found_and_an_erased_party_is_gone_on_every_consent_and_flag_endpoint() {
    let app = spawn_app().await;
    let notice = standard_notice(&app).await;
    let erased = app.create_party(&party(24)).await;
    let party = app.create_party(&party(23)).await;
    let other = app.add_tenant("globex").await;
    sql(&app, &[&format!("UPDATE parties SET erased_at = '2026-01-01T00:00:00.000000Z' WHERE id = '{erased}'")]).await;
    let flag = json!({"action": "set", "flag": "do_not_contact", "reason": "titular_request"});
    let served = json!({"notice_hash": notice, "method": "web_form", "served_at": now(), "served_by": "portal", "source_reference": "FORM-1"});
    let requests: Vec<(reqwest::Method, String, Option<Value>, &str)> = vec![
        (reqwest::Method::POST, "consents".into(), Some(grant("collection", None, &notice)), "compliance_review"),
        (reqwest::Method::GET, "consents".into(), None, "compliance_review"),
        (reqwest::Method::GET, "consents/proof".into(), None, "dsr"),
        (reqwest::Method::POST, "flags".into(), Some(flag), "compliance_review"),
        (reqwest::Method::GET, "flags".into(), None, "compliance_review"),
        (reqwest::Method::POST, "served-notices".into(), Some(served), "compliance_review"),
    ];
    for (method, path, body, purpose) in &requests {
        let send = |token: &str, id: &str| {
            let mut request = app.with_token(token, purpose, method.clone(), &format!("/v1/parties/{id}/{path}"));
            if let Some(body) = body {
                request = request.json(body);
            }
            request.send()
        };
        let (status, reply) = answer(send(&other[&Role::Compliance], &party).await.unwrap()).await;
        assert_eq!((status, reply["error"]["code"].as_str()), (404, Some("not_found")), "{method} {path}: {reply}");
        let (status, reply) = answer(send(&app.tokens[&Role::Compliance], &erased).await.unwrap()).await;
        assert_eq!((status, reply["error"]["code"].as_str()), (410, Some("party_erased")), "{method} {path}: {reply}");
        let (status, _) = answer(send(&app.tokens[&Role::Compliance], "not-a-party-id").await.unwrap()).await;
        assert_eq!(status, 404, "{method} {path}");
    }
    // The refusal for another tenant's party is in that tenant's log, never about the party.
    let about: i64 =
        sqlx::query_scalar("SELECT COUNT(*) FROM audit_record_parties WHERE party_id = $1 AND log_id = 'globex'")
            .bind(&party)
            .fetch_one(app.db.reader())
            .await
            .unwrap();
    assert_eq!(about, 0);
    let gone: i64 = sqlx::query_scalar(
        "SELECT COUNT(*) FROM audit_records WHERE resource_id = $1 AND status = 410 AND outcome = 'denied'",
    )
    .bind(&erased)
    .fetch_one(app.db.reader())
    .await
    .unwrap();
    assert_eq!(gone, requests.len() as i64, "each 410 is audited");
    app.stop().await;
}

#[tokio::test]
async fn a_consent_retried_with_the_same_idempotency_key_is_recorded_once() {
    let app = spawn_app().await;
    let notice = standard_notice(&app).await;
    let party = app.create_party(&party(25)).await;
    let body = grant("collection", Some("sms"), &notice);
    let path = format!("/v1/parties/{party}/consents");
    let send = || {
        app.as_role(Role::Agent, "collection", reqwest::Method::POST, &path)
            .header("Idempotency-Key", "call-7781-consent")
            .json(&body)
            .send()
    };
    let first = send().await.unwrap();
    assert_eq!(first.status(), 201);
    let first: Value = first.json().await.unwrap();
    let audits = app.audit_count().await;
    let second = send().await.unwrap();
    assert_eq!(second.headers()["idempotent-replayed"], "true");
    assert_eq!(second.json::<Value>().await.unwrap(), first);
    assert_eq!(app.count("consent_events").await, 1);
    assert_eq!(app.audit_count().await, audits, "a replay writes no second audit record");
    app.stop().await;
}
