//! Privacy notices: drafts change, published notices never do (a change is a new
//! version), consents may cite only a published notice of the tenant that covers them,
//! and "notice served" events are recorded and audited.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use crate::consent_support::*;
use crate::helpers::*;
use custodia::access::Role;
use reqwest::Method;
use serde_json::{json, Value};

async fn patch(app: &TestApp, id: &str, body: &Value) -> (u16, Value) {
    let path = format!("/v1/notices/{id}");
    answer(app.as_role(Role::Compliance, "compliance_review", Method::PATCH, &path).json(body).send().await.unwrap())
        .await
}

#[tokio::test]
async fn a_published_notice_never_changes_and_a_change_is_a_new_version() {
    let app = spawn_app().await;
    let draft = draft_notice(&app, "aviso-cobranza", &["collection"], &["sms"]).await;
    let id = draft["id"].as_str().unwrap();
    assert_eq!((draft["version"].as_u64(), draft["state"].as_str()), (Some(1), Some("draft")));
    // A draft may change; its content hash follows the content.
    let (status, edited) = patch(&app, id, &json!({"channels": ["sms", "email"], "title": "Aviso v1"})).await;
    assert_eq!(status, 200, "{edited}");
    assert_ne!(edited["content_hash"], draft["content_hash"]);
    assert_eq!(edited["channels"], json!(["email", "sms"]));
    let published = publish(&app, id).await;
    assert_eq!(published["state"], "published");
    assert_eq!(published["content_hash"], edited["content_hash"]);
    let counts = ledger_counts(&app).await;
    let (status, body) = patch(&app, id, &json!({"text": "otro texto"})).await;
    assert_eq!((status, body["error"]["code"].as_str()), (409, Some("notice_immutable")), "{body}");
    let again = app.as_role(Role::Compliance, "compliance_review", Method::POST, &format!("/v1/notices/{id}/publish"));
    let (status, body) = answer(again.send().await.unwrap()).await;
    assert_eq!((status, body["error"]["code"].as_str()), (409, Some("notice_immutable")), "{body}");
    assert_eq!(ledger_counts(&app).await, counts);
    // Not even a direct UPDATE or DELETE gets through: the database refuses it.
    let mut tx = app.db.begin_write().await.unwrap();
    let update = sqlx::query("UPDATE privacy_notices SET body = 'x' WHERE id = $1").bind(id).execute(&mut *tx).await;
    assert!(update.is_err(), "a published notice row was updated");
    drop(tx);
    let mut tx = app.db.begin_write().await.unwrap();
    let delete = sqlx::query("DELETE FROM privacy_notices WHERE id = $1").bind(id).execute(&mut *tx).await;
    assert!(delete.is_err(), "a published notice row was deleted");
    drop(tx);
    let (_, read) = answer(app.get(Role::Agent, "collection", &format!("/v1/notices/{id}")).await).await;
    assert_eq!(read["text"], published["text"]);
    // The change is a new version of the same name.
    let next = draft_notice(&app, "aviso-cobranza", &["collection"], &["sms", "email", "whatsapp"]).await;
    assert_eq!(next["version"], 2);
    let (status, list) = answer(app.get(Role::Ingest, "ingest", "/v1/notices?name=aviso-cobranza").await).await;
    assert_eq!(status, 200, "{list}");
    let versions: Vec<(u64, String)> = list["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| (n["version"].as_u64().unwrap(), n["state"].as_str().unwrap().to_string()))
        .collect();
    assert_eq!(versions, vec![(1, "published".to_string()), (2, "draft".to_string())]);
    assert!(list["items"][0].get("text").is_none(), "lists leave the text out");
    let (_, published_only) =
        answer(app.get(Role::Regulator, "compliance_review", "/v1/notices?state=published").await).await;
    assert_eq!(published_only["items"].as_array().unwrap().len(), 1);
    app.stop().await;
}

#[tokio::test]
async fn a_consent_citing_an_unknown_unpublished_or_non_covering_notice_is_refused_and_writes_nothing() {
    let app = spawn_app().await;
    let party = app.create_party(&party(41)).await;
    let covering = published_notice(&app, &["collection"], &["sms"]).await;
    let draft = draft_notice(&app, "borrador", &["collection", "marketing"], &["sms", "email"]).await;
    let draft_hash = draft["content_hash"].as_str().unwrap().to_string();
    let other_tenant = app.add_tenant("globex").await;
    let foreign = {
        let body = json!({"name": "aviso", "language": "es", "title": "t", "text": "texto", "purposes": ["collection"], "channels": ["sms"]});
        let created: Value = app
            .with_token(&other_tenant[&Role::Compliance], "compliance_review", Method::POST, "/v1/notices")
            .json(&body)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        let id = created["id"].as_str().unwrap();
        let published: Value = app
            .with_token(
                &other_tenant[&Role::Compliance],
                "compliance_review",
                Method::POST,
                &format!("/v1/notices/{id}/publish"),
            )
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        published["content_hash"].as_str().unwrap().to_string()
    };
    let counts = (ledger_counts(&app).await, app.row_counts().await);
    let cases = [
        (grant("collection", Some("sms"), &"00".repeat(32)), "unknown_notice"),
        (grant("collection", Some("sms"), &foreign), "unknown_notice"),
        (grant("collection", Some("sms"), &draft_hash), "notice_not_published"),
        (grant("marketing", None, &covering), "notice_does_not_cover"),
        (grant("collection", Some("email"), &covering), "notice_does_not_cover"),
        (grant("collection", Some("sms"), "NOT-A-HASH"), "invalid_hash"),
        (json!({"action": "grant", "purpose": "collection", "evidence": evidence(None, &now())}), "notice_required"),
    ];
    for (body, code) in cases {
        let (status, reply) = post_consent(&app, &party, &body).await;
        assert_eq!((status, reply["error"]["code"].as_str()), (422, Some(code)), "{body}: {reply}");
    }
    assert_eq!((ledger_counts(&app).await, app.row_counts().await), counts, "refusals write nothing");
    assert_eq!(post_consent(&app, &party, &grant("collection", Some("sms"), &covering)).await.0, 201);
    app.stop().await;
}

#[tokio::test]
async fn serving_a_notice_records_an_audited_event_the_ledger_shows() {
    let app = spawn_app().await;
    let party = app.create_party(&party(42)).await;
    let notice = published_notice(&app, &["collection"], &["voice_call"]).await;
    let draft = draft_notice(&app, "borrador", &["collection"], &[]).await;
    let path = format!("/v1/parties/{party}/served-notices");
    let served = |hash: &str| {
        json!({"notice_hash": hash, "channel": "voice_call", "method": "recorded_call", "served_at": now(),
               "served_by": "agent-17", "source_reference": "CALL-2026-000777"})
    };
    let (status, body) =
        answer(app.post_json(Role::Agent, "collection", &path, &served(draft["content_hash"].as_str().unwrap())).await)
            .await;
    assert_eq!((status, body["error"]["code"].as_str()), (422, Some("notice_not_published")), "{body}");
    assert_eq!(app.count("notice_served_events").await, 0);
    let (status, event) = answer(app.post_json(Role::Agent, "collection", &path, &served(&notice)).await).await;
    assert_eq!(status, 201, "{event}");
    assert_eq!((event["seq"].as_u64(), event["notice_hash"].as_str()), (Some(1), Some(notice.as_str())));
    let (evidence, role, purpose): (Vec<u8>, String, String) = sqlx::query_as(
        "SELECT evidence, role, purpose FROM audit_records WHERE action = 'notice.served' AND resource_id = $1 AND outcome = 'allowed'",
    )
    .bind(&party)
    .fetch_one(app.db.reader())
    .await
    .unwrap();
    assert_eq!(hex::encode(evidence), event["sha256"].as_str().unwrap());
    assert_eq!((role.as_str(), purpose.as_str()), ("agent", "collection"));
    let (_, ledger) = consents(&app, &party).await;
    assert_eq!(ledger["notices_served"][0]["id"], event["id"]);
    assert_eq!(ledger["notices_served"][0]["served_by"], "agent-17");
    // Served events are append-only too.
    let mut tx = app.db.begin_write().await.unwrap();
    assert!(sqlx::query("UPDATE notice_served_events SET served_by = 'x'").execute(&mut *tx).await.is_err());
    drop(tx);
    app.stop().await;
}
