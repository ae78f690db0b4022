//! What answering a request does: a supresión erases the party through the erasure of
//! part B — refused with every hold while one applies, after which the officer denies it
//! with that reason; a revocación revokes through the consent ledger — refused for the
//! collection authorization while an obligation is open; a prueba de autorización is
//! answered with the signed proof package the gateway generated for it.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use crate::consent_support::*;
use crate::dsr_support::*;
use crate::helpers::*;
use custodia::access::Role;
use serde_json::{json, Value};

fn id_of(view: &Value) -> String {
    view["id"].as_str().unwrap().to_string()
}

async fn add_period(app: &TestApp, party: &str) -> String {
    let body = json!({"basis": "Ley 1266 de 2008 art. 13", "starts_on": "2026-01-01", "ends_on": "2030-12-31"});
    let response = app.post_json(Role::Compliance, "dsr", &format!("/v1/parties/{party}/retention-holds"), &body).await;
    let (status, hold) = answer(response).await;
    assert_eq!(status, 201, "{hold}");
    hold["id"].as_str().unwrap().to_string()
}

#[tokio::test]
async fn a_supresion_is_refused_with_every_hold_then_denied_with_that_reason_and_executed_once_nothing_holds() {
    let app = spawn_app_with(AppOptions { jobs_worker: false, ..AppOptions::default() }).await;
    let (held, obligation) = party_with_obligation(&app, 1, "credit_card", "delinquent").await;
    add_period(&app, &held).await;
    let id = id_of(&created(&app, &request(&held, "supresion", "co_1581")).await);
    assert!(claim_flag(&app, &held).await.is_some(), "a supresión goes through a reclamo in Colombia");
    verify(&app, &id).await;
    let (rows, records) = (app.row_counts().await, app.audit_count().await);
    let (status, refused) = step(&app, &id, &json!({"action": "answer"})).await;
    assert_eq!((status, refused["error"]["code"].as_str()), (409, Some("retention_hold")), "{refused}");
    let message = refused["error"]["message"].as_str().unwrap();
    assert!(message.contains(&format!("obligation {obligation} is delinquent")), "{message}");
    assert!(message.contains("Ley 1266 de 2008 art. 13: retention until 2030-12-31"), "{message}");
    assert_eq!(app.row_counts().await, rows, "nothing written");
    assert_eq!(app.audit_count().await, records + 1);
    assert_eq!(app.read_party(Role::Compliance, "dsr", &held).await.0, 200);
    let denied = stepped(&app, &id, &json!({"action": "deny", "reason": "retention_hold"})).await;
    assert_eq!((denied["state"].as_str(), denied["state_reason"].as_str()), (Some("denied"), Some("retention_hold")));
    let event = read(&app, &id).await["events"].as_array().unwrap().last().unwrap().clone();
    let holds = event["details"]["holds"].as_str().unwrap();
    assert!(holds.contains(&obligation) && holds.contains("Ley 1266 de 2008 art. 13"), "{holds}");
    assert_eq!(claim_flag(&app, &held).await, None, "decided: the flag is cleared");

    let free = app.create_party(&party(2)).await;
    let open = id_of(&created(&app, &request(&free, "consulta", "co_1581")).await);
    let id = id_of(&created(&app, &request(&free, "supresion", "co_1581")).await);
    let (status, refused) = step(&app, &id, &json!({"action": "deny", "reason": "retention_hold"})).await;
    assert_eq!((status, refused["error"]["code"].as_str()), (409, Some("no_hold_applies")), "{refused}");
    let (status, refused) = step(&app, &id, &json!({"action": "answer"})).await;
    assert_eq!((status, refused["error"]["code"].as_str()), (409, Some("identity_not_verified")), "{refused}");
    verify(&app, &id).await;
    let (status, done) = step(&app, &id, &json!({"action": "answer", "reference": "CARTA-2026-12"})).await;
    assert_eq!(status, 200, "{done}");
    assert_eq!(
        (done["request"]["state"].as_str(), done["erasure"]["party_id"].as_str()),
        (Some("answered"), Some(free.as_str()))
    );
    assert_eq!(done["erasure"]["removed"]["data_key"], true);
    let receipt = base64::Engine::decode(
        &base64::engine::general_purpose::STANDARD,
        done["erasure"]["evidence_sha256"].as_str().unwrap(),
    )
    .unwrap();
    assert_eq!(
        done["event"]["details"]["erasure_receipt_sha256"],
        hex::encode(receipt),
        "the answer names the receipt"
    );
    assert_eq!(app.read_party(Role::Compliance, "dsr", &free).await.0, 410);
    assert_eq!(app.count("key_jobs").await, 1, "the rotation that retires the erased key's version is queued");
    let last_flag: String =
        sqlx::query_scalar("SELECT action FROM party_flag_events WHERE party_id = $1 ORDER BY seq DESC LIMIT 1")
            .bind(&free)
            .fetch_one(app.db.reader())
            .await
            .unwrap();
    assert_eq!(last_flag, "clear", "the flag was cleared before the data went");
    // The request stays readable (it is the record of the erasure); writes about the party answer 410.
    assert_eq!(read(&app, &id).await["request"]["state"], "answered");
    let (status, gone) = create(&app, &request(&free, "consulta", "co_1581")).await;
    assert_eq!((status, gone["error"]["code"].as_str()), (410, Some("party_erased")));
    // A request left open can still be closed, but nothing else happens to it.
    for body in [json!({"action": "start"}), json!({"action": "request_information"})] {
        let (status, gone) = step(&app, &open, &body).await;
        assert_eq!((status, gone["error"]["code"].as_str()), (410, Some("party_erased")), "{body}");
    }
    let closed = stepped(&app, &open, &json!({"action": "deny", "reason": "no_data_held"})).await;
    assert_eq!((closed["state"].as_str(), closed["state_reason"].as_str()), (Some("denied"), Some("no_data_held")));
    app.stop().await;
}

#[tokio::test]
async fn a_revocacion_revokes_through_the_ledger_and_the_collection_authorization_waits_for_the_debt() {
    let app = spawn_app().await;
    let notice = standard_notice(&app).await;
    let (party, _) = party_with_obligation(&app, 3, "personal_loan", "current").await;
    for body in [
        grant("data_processing", None, &notice),
        grant("collection", None, &notice),
        grant("collection", Some("sms"), &notice),
    ] {
        assert_eq!(post_consent(&app, &party, &body).await.0, 201, "{body}");
    }
    let mut whole = request(&party, "revocacion", "co_1581");
    whole["revoke"] = json!({"purpose": "collection"});
    let whole = id_of(&created(&app, &whole).await);
    verify(&app, &whole).await;
    let (status, refused) = step(&app, &whole, &json!({"action": "answer"})).await;
    assert_eq!((status, refused["error"]["code"].as_str()), (409, Some("revocation_refused")), "{refused}");
    assert!(refused["error"]["message"].as_str().unwrap().contains("Decreto 1377 de 2013 art. 9"));
    let denied = stepped(&app, &whole, &json!({"action": "deny", "reason": "duty_to_remain"})).await;
    assert_eq!(denied["state_reason"], "duty_to_remain");
    let ledger = consents(&app, &party).await.1;
    assert_eq!(status_of(&ledger, "authorization", "collection", None).as_deref(), Some("granted"));

    let mut channel = request(&party, "revocacion", "co_1581");
    channel["channel"] = json!("phone");
    channel["revoke"] = json!({"purpose": "collection", "channel": "sms"});
    let channel = id_of(&created(&app, &channel).await);
    verify(&app, &channel).await;
    let (status, done) = step(&app, &channel, &json!({"action": "answer"})).await;
    assert_eq!(status, 200, "{done}");
    let ledger = consents(&app, &party).await.1;
    assert_eq!(status_of(&ledger, "authorization", "collection", Some("sms")).as_deref(), Some("revoked"));
    let revocation = ledger["history"].as_array().unwrap().last().unwrap().clone();
    assert_eq!(done["consent_event_sha256"], revocation["sha256"], "the answer names the ledger's event");
    assert_eq!(revocation["source_reference"], format!("dsr:{channel}"));
    assert_eq!(revocation["method"], "recorded_call", "the request came by phone");
    app.stop().await;
}

#[tokio::test]
async fn a_prueba_de_autorizacion_is_answered_with_the_proof_package_generated_for_it() {
    let app = spawn_app().await;
    let notice = standard_notice(&app).await;
    let party = app.create_party(&party(4)).await;
    assert_eq!(post_consent(&app, &party, &grant("data_processing", None, &notice)).await.0, 201);
    let id = id_of(&created(&app, &request(&party, "prueba_autorizacion", "co_1581")).await);
    let path = format!("/v1/dsr/{id}/proof");
    let (status, refused) = answer(app.get(Role::Compliance, "dsr", &path).await).await;
    assert_eq!((status, refused["error"]["code"].as_str()), (409, Some("identity_not_verified")));
    verify(&app, &id).await;
    let response = app.get(Role::Compliance, "dsr", &path).await;
    assert_eq!(response.status(), 200);
    let header = response.headers()["x-custodia-document-sha256"].to_str().unwrap().to_string();
    let bytes = response.bytes().await.unwrap();
    assert_eq!(hex::encode(custodia::keys::crypto::sha256(&bytes)), header);
    let package: Value = serde_json::from_slice(&bytes).unwrap();
    assert_eq!(
        (package["format"].as_str(), package["party_id"].as_str()),
        (Some("custodia-consent-proof/v1"), Some(party.as_str()))
    );
    assert_eq!(package["events"].as_array().unwrap().len(), 1);
    let attested: Vec<u8> =
        sqlx::query_scalar("SELECT evidence FROM audit_records WHERE action = 'dsr.proof' AND resource_id = $1")
            .bind(&id)
            .fetch_one(app.db.reader())
            .await
            .unwrap();
    assert_eq!(hex::encode(attested), header, "the delivery is audited with the hash of what was delivered");

    let (status, refused) = step(&app, &id, &json!({"action": "answer"})).await;
    assert_eq!((status, refused["error"]["code"].as_str()), (422, Some("field_required")));
    let (status, refused) = step(&app, &id, &json!({"action": "answer", "document_sha256": "cd".repeat(32)})).await;
    assert_eq!((status, refused["error"]["code"].as_str()), (422, Some("unknown_document")));
    let done = stepped(&app, &id, &json!({"action": "answer", "document_sha256": header})).await;
    assert_eq!(done["state"], "answered");
    let wrong = id_of(&created(&app, &request(&party, "consulta", "co_1581")).await);
    verify(&app, &wrong).await;
    let (status, refused) = answer(app.get(Role::Compliance, "dsr", &format!("/v1/dsr/{wrong}/proof")).await).await;
    assert_eq!((status, refused["error"]["code"].as_str()), (409, Some("action_not_applicable")));
    app.stop().await;
}
