//! Consent and flag writes serialize with every other write on the same party under the
//! per-party lock (DESIGN.md "Storage"): concurrent writers leave a gap-free history in
//! commit order and a state equal to the last committed event, and a read issued right
//! after a revocation's 2xx never shows the channel as granted.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use crate::consent_support::*;
use crate::helpers::*;
use custodia::access::Role;
use serde_json::{json, Value};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

fn flag(set: bool) -> Value {
    json!({"action": if set { "set" } else { "clear" }, "flag": "do_not_contact", "reason": "titular_request"})
}

/// Hashes of the party's consent audit records, in the order the log committed them.
async fn attested_in_commit_order(app: &TestApp, party: &str, actions: &[&str]) -> Vec<String> {
    let placeholders: Vec<String> = (0..actions.len()).map(|i| format!("${}", i + 2)).collect();
    let sql = format!(
        "SELECT evidence FROM audit_records WHERE resource_id = $1 AND outcome = 'allowed' AND action IN ({}) ORDER BY seq",
        placeholders.join(", ")
    );
    let mut query = sqlx::query_scalar::<_, Vec<u8>>(&sql).bind(party);
    for action in actions {
        query = query.bind(*action);
    }
    query.fetch_all(app.db.reader()).await.unwrap().into_iter().map(hex::encode).collect()
}

#[tokio::test]
async fn concurrent_consent_flag_and_party_writes_leave_a_gap_free_history_in_commit_order() {
    let app = Arc::new(spawn_app().await);
    let notice = standard_notice(&app).await;
    let party = app.create_party(&party(61)).await;
    assert_eq!(post_consent(&app, &party, &grant("collection", None, &notice)).await.0, 201);
    let captured_at = now();
    let mut tasks = Vec::new();
    for i in 0..20 {
        let (app, party, notice, captured_at) = (app.clone(), party.clone(), notice.clone(), captured_at.clone());
        tasks.push(tokio::spawn(async move {
            let mut body =
                if i % 2 == 0 { grant("collection", Some("sms"), &notice) } else { revoke("collection", Some("sms")) };
            body["evidence"]["captured_at"] = json!(captured_at);
            post_consent(&app, &party, &body).await.0
        }));
    }
    for i in 0..10 {
        let (app, party) = (app.clone(), party.clone());
        tasks.push(tokio::spawn(async move {
            let path = format!("/v1/parties/{party}/flags");
            answer(app.post_json(Role::Compliance, "compliance_review", &path, &flag(i % 2 == 0)).await).await.0
        }));
    }
    for i in 0..4 {
        let (app, party) = (app.clone(), party.clone());
        tasks.push(tokio::spawn(async move {
            let body = json!({"phones": [{"id": "mobile", "number": format!("+57315{:07}", 7_400_000 + i)}]});
            let path = format!("/v1/parties/{party}");
            app.as_role(Role::Agent, "collection", reqwest::Method::PATCH, &path)
                .json(&body)
                .send()
                .await
                .unwrap()
                .status()
                .as_u16()
        }));
    }
    let mut statuses = Vec::new();
    for task in tasks {
        statuses.push(task.await.unwrap());
    }
    assert!(statuses[..30].iter().all(|s| *s == 201), "{statuses:?}");
    assert!(statuses[30..].iter().all(|s| *s == 200), "{statuses:?}");

    let (_, ledger) = consents(&app, &party).await;
    let history = ledger["history"].as_array().unwrap();
    let seqs: Vec<u64> = history.iter().map(|e| e["seq"].as_u64().unwrap()).collect();
    assert_eq!(seqs, (1..=21).collect::<Vec<_>>(), "gap-free, in order");
    let last_sms = history.iter().rev().find(|e| e["channel"] == "sms").unwrap();
    let expected = if last_sms["action"] == "grant" { "granted" } else { "revoked" };
    assert_eq!(status_of(&ledger, "authorization", "collection", Some("sms")).as_deref(), Some(expected));
    let recorded: Vec<&str> = history.iter().map(|e| e["recorded_at"].as_str().unwrap()).collect();
    assert!(recorded.windows(2).all(|w| w[0] <= w[1]), "seq order is commit order: {recorded:?}");
    let hashes: Vec<String> = history.iter().map(|e| e["sha256"].as_str().unwrap().to_string()).collect();
    assert_eq!(attested_in_commit_order(&app, &party, &["consent.grant", "consent.revoke"]).await, hashes);

    let (_, flags) =
        answer(app.get(Role::Compliance, "compliance_review", &format!("/v1/parties/{party}/flags")).await).await;
    let flag_history = flags["history"].as_array().unwrap();
    let flag_seqs: Vec<u64> = flag_history.iter().map(|e| e["seq"].as_u64().unwrap()).collect();
    assert_eq!(flag_seqs, (1..=10).collect::<Vec<_>>());
    let last_set = flag_history.last().unwrap()["action"] == "set";
    assert_eq!(flags["current"].as_array().unwrap().iter().any(|f| f["flag"] == "do_not_contact"), last_set);
    let flag_hashes: Vec<String> = flag_history.iter().map(|e| e["sha256"].as_str().unwrap().to_string()).collect();
    assert_eq!(attested_in_commit_order(&app, &party, &["flag.set", "flag.clear"]).await, flag_hashes);
    Arc::try_unwrap(app).ok().unwrap().stop().await;
}

#[tokio::test]
async fn a_read_right_after_a_revocation_never_shows_the_channel_as_granted() {
    let app = Arc::new(spawn_app().await);
    let notice = standard_notice(&app).await;
    let party = app.create_party(&party(62)).await;
    assert_eq!(post_consent(&app, &party, &grant("collection", None, &notice)).await.0, 201);
    // Other writers keep the party's lock busy the whole time.
    let stop = Arc::new(AtomicBool::new(false));
    let mut background = Vec::new();
    for writer in 0..2 {
        let (app, party, notice, stop) = (app.clone(), party.clone(), notice.clone(), stop.clone());
        background.push(tokio::spawn(async move {
            let mut writes = 0;
            while !stop.load(Ordering::Relaxed) {
                let status = if writer == 0 {
                    post_consent(&app, &party, &grant("marketing", Some("email"), &notice)).await.0
                } else {
                    let path = format!("/v1/parties/{party}/flags");
                    answer(app.post_json(Role::Compliance, "compliance_review", &path, &flag(writes % 2 == 0)).await)
                        .await
                        .0
                };
                assert_eq!(status, 201);
                writes += 1;
            }
            writes
        }));
    }
    for round in 0..25 {
        let (status, granted) = post_consent(&app, &party, &grant("collection", Some("sms"), &notice)).await;
        assert_eq!(status, 201, "{granted}");
        let (status, revoked) = post_consent(&app, &party, &revoke("collection", Some("sms"))).await;
        assert_eq!(status, 201, "{revoked}");
        for role in [Role::Agent, Role::Compliance] {
            let purpose = if role == Role::Agent { "collection" } else { "compliance_review" };
            let (_, ledger) = answer(app.get(role, purpose, &format!("/v1/parties/{party}/consents")).await).await;
            let status = status_of(&ledger, "authorization", "collection", Some("sms"));
            assert_eq!(status.as_deref(), Some("revoked"), "round {round}, read as {role}");
        }
    }
    stop.store(true, Ordering::Relaxed);
    for task in background {
        assert!(task.await.unwrap() > 0, "the background writer ran alongside");
    }
    Arc::try_unwrap(app).ok().unwrap().stop().await;
}
