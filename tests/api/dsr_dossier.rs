//! The consulta's answer: a dossier of everything held on the titular, decrypted for
//! purpose `dsr` only, with their consents, flags, obligations, payments and promises,
//! and who accessed their data and why — nothing of any other party, and the dossier
//! read itself audited with the hash of what was sent, which the answer then names.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use crate::consent_support::*;
use crate::dsr_support::*;
use crate::helpers::*;
use custodia::access::Role;
use serde_json::{json, Value};

/// `party(n)` holding a loan that `party(n + 1)` guarantees; returns (holder, guarantor, obligation).
async fn holder_and_guarantor(app: &TestApp, n: u32) -> (String, String, String) {
    let mut body = party(n);
    body["obligations"] = json!([{
        "external_ref": format!("OBL-{n:06}"), "product": "personal_loan", "currency": "COP", "principal": "2000000.00",
        "balance": "1500000.00", "due_date": "2026-08-15", "status": "delinquent",
        "co_parties": [{"role": "guarantor", "party": party(n + 1)}]
    }]);
    let (status, created) = answer(app.post_json(Role::Ingest, "ingest", "/v1/parties", &body).await).await;
    assert_eq!(status, 201, "{created}");
    let text = |v: &Value| v.as_str().unwrap().to_string();
    (text(&created["id"]), text(&created["co_party_ids"][0]), text(&created["obligation_ids"][0]))
}

async fn dossier_as(app: &TestApp, role: Role, purpose: &str, id: &str) -> reqwest::Response {
    app.get(role, purpose, &format!("/v1/dsr/{id}/dossier")).await
}

#[tokio::test]
async fn the_dossier_holds_everything_on_the_titular_and_nothing_on_anyone_else_and_its_read_is_audited() {
    let app = spawn_app().await;
    let notice = standard_notice(&app).await;
    let (titular, guarantor, obligation) = holder_and_guarantor(&app, 7).await;
    for (path, body) in [
        (format!("/v1/obligations/{obligation}/payments"), json!({"amount": "50000.00", "paid_on": "2026-11-20"})),
        (
            format!("/v1/obligations/{obligation}/promises"),
            json!({"amount": "100000.00", "promised_date": "2026-12-15"}),
        ),
    ] {
        assert_eq!(answer(app.post_json(Role::Agent, "collection", &path, &body).await).await.0, 201, "{path}");
    }
    assert_eq!(post_consent(&app, &titular, &grant("data_processing", None, &notice)).await.0, 201);
    let flag = json!({"action": "set", "flag": "attorney_represented", "reason": "attorney_notice", "reference": "PODER-2026-3"});
    let path = format!("/v1/parties/{titular}/flags");
    assert_eq!(answer(app.post_json(Role::Compliance, "compliance_review", &path, &flag).await).await.0, 201);
    for party in [&titular, &guarantor] {
        let read = app.as_role(Role::Agent, "collection", reqwest::Method::GET, &format!("/v1/parties/{party}"));
        assert_eq!(read.header("X-On-Behalf-Of", "agent-17").send().await.unwrap().status(), 200);
    }
    let id = created(&app, &request(&titular, "consulta", "co_1581")).await["id"].as_str().unwrap().to_string();
    let (status, refused) = answer(dossier_as(&app, Role::Compliance, "dsr", &id).await).await;
    assert_eq!((status, refused["error"]["code"].as_str()), (409, Some("identity_not_verified")));
    verify(&app, &id).await;
    for (role, purpose, code) in [
        (Role::Compliance, "compliance_review", "purpose_not_allowed"),
        (Role::Regulator, "compliance_review", "role_not_allowed"),
        (Role::Agent, "collection", "role_not_allowed"),
    ] {
        let (status, refused) = answer(dossier_as(&app, role, purpose, &id).await).await;
        assert_eq!((status, refused["error"]["code"].as_str()), (403, Some(code)), "{role} {purpose}");
    }

    let response = dossier_as(&app, Role::Compliance, "dsr", &id).await;
    assert_eq!(response.status(), 200);
    let header = response.headers()["x-custodia-document-sha256"].to_str().unwrap().to_string();
    let bytes = response.bytes().await.unwrap();
    assert_eq!(hex::encode(custodia::keys::crypto::sha256(&bytes)), header);
    let text = String::from_utf8(bytes.to_vec()).unwrap();
    let dossier: Value = serde_json::from_str(&text).unwrap();
    for secret in party_secrets(7) {
        assert!(text.contains(&secret), "the titular's {secret} is in clear");
    }
    // (Every test person shares a surname and a birthday: the values of their own are checked.)
    for secret in party_secrets(8).into_iter().filter(|s| s != "Wyvernsson" && s != "1933-11-07") {
        assert!(!text.contains(&secret), "nothing of the guarantor: {secret}");
    }
    assert!(!text.contains(&guarantor), "not even the guarantor's opaque id");
    assert_eq!(dossier["personal_data"]["visibility"]["phones"], "clear");
    assert_eq!(dossier["consents"]["history"].as_array().unwrap().len(), 1);
    assert_eq!(dossier["flags"]["current"][0]["flag"], "attorney_represented");
    let loan = &dossier["obligations"][0];
    assert_eq!((loan["id"].as_str(), loan["role"].as_str()), (Some(obligation.as_str()), Some("holder")));
    assert_eq!(
        (loan["payments"][0]["amount"].as_str(), loan["promises"][0]["amount"].as_str()),
        (Some("50000.00"), Some("100000.00"))
    );
    assert_eq!(dossier["contacts"]["ledger_available"], false);
    assert!(dossier["contacts"]["note"].as_str().unwrap().contains("no contact ledger"));
    assert_eq!(dossier["data_subject_requests"][0]["id"], id.as_str());
    let log = dossier["access_log"]["records"].as_array().unwrap();
    assert_eq!(dossier["access_log"]["complete"], true);
    let agent_read = log.iter().find(|r| r["action"] == "party.read").expect("the agent's read is listed");
    assert_eq!(
        (
            agent_read["role"].as_str(),
            agent_read["on_behalf_of"].as_str(),
            agent_read["purpose"].as_str(),
            agent_read["outcome"].as_str()
        ),
        (Some("agent"), Some("agent-17"), Some("collection"), Some("allowed"))
    );
    assert!(log.iter().any(|r| r["action"] == "consent.grant") && log.iter().any(|r| r["action"] == "dsr.identity"));
    let audited: i64 = records_about(&app, &titular, "party.read").await;
    assert_eq!(log.iter().filter(|r| r["action"] == "party.read").count() as i64, audited);

    let (evidence, fields): (Vec<u8>, String) = sqlx::query_as(
        "SELECT r.evidence, r.fields FROM audit_records r JOIN audit_record_parties p ON p.record_id = r.record_id \
         WHERE r.action = 'dsr.dossier' AND r.outcome = 'allowed' AND p.party_id = $1",
    )
    .bind(&titular)
    .fetch_one(app.db.reader())
    .await
    .unwrap();
    assert_eq!(hex::encode(evidence), header, "the read is audited with the hash of what was sent");
    assert!(fields.contains("phones:clear") && fields.contains("audit_records"), "{fields}");
    assert_eq!(records_about(&app, &guarantor, "dsr.dossier").await, 0);

    let done = stepped(&app, &id, &json!({"action": "answer", "document_sha256": header})).await;
    assert_eq!(done["state"], "answered");
    let admin = dossier_as(&app, Role::Admin, "dsr", &id).await;
    let admin: Value = admin.json().await.unwrap();
    assert_eq!(admin["personal_data"]["visibility"]["national_id"], "clear", "admins see it in clear for dsr too");
    app.stop().await;
}

#[tokio::test]
async fn only_a_consulta_has_a_dossier_and_an_erased_titular_has_none() {
    let app = spawn_app().await;
    let party = app.create_party(&party(9)).await;
    let claim = created(&app, &request(&party, "reclamo", "co_1581")).await["id"].as_str().unwrap().to_string();
    verify(&app, &claim).await;
    let (status, refused) = answer(dossier_as(&app, Role::Compliance, "dsr", &claim).await).await;
    assert_eq!((status, refused["error"]["code"].as_str()), (409, Some("action_not_applicable")));
    let consulta = created(&app, &request(&party, "consulta", "co_1581")).await["id"].as_str().unwrap().to_string();
    verify(&app, &consulta).await;
    assert_eq!(app.erase(&party).await.0, 200);
    let (status, refused) = answer(dossier_as(&app, Role::Compliance, "dsr", &consulta).await).await;
    assert_eq!((status, refused["error"]["code"].as_str()), (410, Some("party_erased")));
    app.stop().await;
}
