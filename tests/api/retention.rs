//! Retention holds (issue 4 point 5): erasure is refused, with every reason, while an
//! obligation is open or a legal retention period runs, and nothing is written; it goes
//! through once the obligation is paid or closed and the period is released or ended.
//! The hold endpoints are role- and purpose-checked, audited, and refuse bad input.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use crate::helpers::*;
use chrono::{Duration, NaiveDate, Utc};
use custodia::access::Role;
use custodia::audit::{Actor, EventContext};
use custodia::ids::{PartyId, TenantId};
use custodia::vault::{erasure, retention};
use serde_json::{json, Value};

fn day(offset: i64) -> NaiveDate {
    // Parties are in Bogotá (UTC-5): a margin of days keeps "past" and "future" true there.
    (Utc::now() + Duration::days(offset)).date_naive()
}

async fn add_hold(app: &TestApp, party: &str, body: &Value) -> (u16, Value) {
    let response = app
        .post_json(Role::Compliance, "compliance_review", &format!("/v1/parties/{party}/retention-holds"), body)
        .await;
    let status = response.status().as_u16();
    (status, response.json().await.unwrap_or(Value::Null))
}

async fn holds(app: &TestApp, party: &str) -> Value {
    let response = app.get(Role::Compliance, "dsr", &format!("/v1/parties/{party}/retention-holds")).await;
    assert_eq!(response.status(), 200);
    response.json().await.unwrap()
}

/// The erasure is refused with 409 `retention_hold`, and writes nothing but its record.
async fn assert_held(app: &TestApp, party: &str, reasons: &[&str]) {
    let before = app.row_counts().await;
    let records = app.audit_count().await;
    let response = app
        .as_role(Role::Compliance, "dsr", reqwest::Method::POST, &format!("/v1/parties/{party}/erasure"))
        .header("Idempotency-Key", format!("erase-{party}-{records}"))
        .send()
        .await
        .unwrap();
    let status = response.status().as_u16();
    let body: Value = response.json().await.unwrap();
    assert_eq!((status, body["error"]["code"].as_str()), (409, Some("retention_hold")), "{body}");
    let message = body["error"]["message"].as_str().unwrap();
    for reason in reasons {
        assert!(message.contains(reason), "the refusal names `{reason}`: {message}");
    }
    assert_eq!(app.row_counts().await, before, "a refused erasure writes nothing (not even its idempotency key)");
    assert_eq!(app.audit_count().await, records + 1, "and leaves exactly one audit record");
    let (outcome, code): (String, Option<String>) = sqlx::query_as(
        "SELECT outcome, error_code FROM audit_records WHERE action = 'party.erase' AND resource_id = $1 ORDER BY seq DESC LIMIT 1",
    )
    .bind(party)
    .fetch_one(app.db.reader())
    .await
    .unwrap();
    assert_eq!((outcome.as_str(), code.as_deref()), ("denied", Some("retention_hold")));
    assert_eq!(app.read_party(Role::Compliance, "compliance_review", party).await.0, 200, "the party is intact");
}

async fn set_status(app: &TestApp, obligation: &str, status: &str) {
    let response = app
        .as_role(Role::Ingest, "ingest", reqwest::Method::PATCH, &format!("/v1/obligations/{obligation}"))
        .json(&json!({"status": status}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
}

#[tokio::test]
async fn erasure_is_refused_while_an_obligation_is_open_and_goes_through_once_it_is_paid_or_closed() {
    let app = spawn_app().await;
    let (holder, guarantor) = (app.create_party(&party(1)).await, app.create_party(&party(2)).await);
    let card = app.create_obligation("OBL-1", "delinquent", &[(&holder, "holder"), (&guarantor, "guarantor")]).await;
    let loan = app.create_obligation("OBL-2", "charged_off", &[(&holder, "holder")]).await;
    let co = format!("obligation {card} is delinquent (Decreto 1377 de 2013 art. 9");
    assert_held(&app, &holder, &[&co, &format!("obligation {loan} is charged_off")]).await;
    assert_held(&app, &guarantor, &[&co]).await;

    set_status(&app, &card, "paid").await;
    assert_held(&app, &holder, &[&format!("obligation {loan} is charged_off")]).await;
    assert_eq!(app.erase(&guarantor).await.0, 200, "the guarantor's only obligation is paid");
    set_status(&app, &loan, "closed").await;
    assert_eq!(app.erase(&holder).await.0, 200, "paid and closed obligations hold nothing");

    // The obligations stay, with their amounts and the parties' opaque ids.
    let response = app.get(Role::Agent, "collection", &format!("/v1/obligations/{card}")).await;
    assert_eq!(response.status(), 200);
    let obligation: Value = response.json().await.unwrap();
    let ids: Vec<&str> =
        obligation["parties"].as_array().unwrap().iter().map(|p| p["party_id"].as_str().unwrap()).collect();
    assert!(ids.contains(&holder.as_str()) && ids.contains(&guarantor.as_str()), "{obligation}");
    assert_eq!(obligation["balance"], "500000.00");
    app.stop().await;
}

#[tokio::test]
async fn erasure_is_refused_while_a_retention_period_runs_and_goes_through_once_it_is_released_or_over() {
    let app = spawn_app().await;
    let (a, b, c) =
        (app.create_party(&party(1)).await, app.create_party(&party(2)).await, app.create_party(&party(3)).await);
    let end = day(365);
    let running =
        json!({"basis": "Ley 1266 de 2008 art. 13", "starts_on": day(-30).to_string(), "ends_on": end.to_string()});
    let (status, hold) = add_hold(&app, &a, &running).await;
    assert_eq!(status, 201, "{hold}");
    assert_eq!(hold["state"], "in_force");
    let open_ended = json!({"basis": "GDPR art. 17(3)(e)", "starts_on": day(-1).to_string()});
    let (status, second) = add_hold(&app, &a, &open_ended).await;
    assert_eq!(status, 201, "{second}");
    assert_held(
        &app,
        &a,
        &[&format!("Ley 1266 de 2008 art. 13: retention until {end}"), "GDPR art. 17(3)(e): retention until released"],
    )
    .await;
    let listed = holds(&app, &a).await;
    assert_eq!((listed["erasable"].as_bool(), listed["applying"].as_array().unwrap().len()), (Some(false), 2));

    for hold in [&hold, &second] {
        let path = format!("/v1/parties/{a}/retention-holds/{}/release", hold["id"].as_str().unwrap());
        let response = app.as_role(Role::Admin, "dsr", reqwest::Method::POST, &path).send().await.unwrap();
        assert_eq!(response.status(), 200);
        let again = app.as_role(Role::Admin, "dsr", reqwest::Method::POST, &path).send().await.unwrap();
        assert_eq!(again.status(), 409, "a hold is released once");
    }
    let listed = holds(&app, &a).await;
    assert_eq!(listed["erasable"], true, "{listed}");
    assert_eq!(listed["retention_periods"][0]["state"], "released");
    assert_eq!(app.erase(&a).await.0, 200);

    let over = json!({"basis": "Ley 1266 de 2008 art. 13", "starts_on": day(-900).to_string(), "ends_on": day(-3).to_string()});
    assert_eq!(add_hold(&app, &b, &over).await.0, 201);
    let later =
        json!({"basis": "Ley 1266 de 2008 art. 13", "starts_on": day(3).to_string(), "ends_on": day(900).to_string()});
    assert_eq!(add_hold(&app, &c, &later).await.0, 201);
    assert_eq!(holds(&app, &b).await["retention_periods"][0]["state"], "ended");
    assert_eq!(holds(&app, &c).await["retention_periods"][0]["state"], "scheduled");
    assert_eq!(app.erase(&b).await.0, 200, "an ended period holds nothing");
    assert_eq!(app.erase(&c).await.0, 200, "a period that has not started holds nothing yet");
    app.stop().await;
}

#[tokio::test]
async fn hold_endpoints_check_role_and_purpose_audit_every_request_and_refuse_bad_input_writing_nothing() {
    let app = spawn_app().await;
    let id = app.create_party(&party(1)).await;
    let path = format!("/v1/parties/{id}/retention-holds");
    let good = json!({"basis": "Ley 1266 de 2008 art. 13", "starts_on": "2026-01-01", "ends_on": "2030-12-31"});
    let refused: Vec<(Role, &str, Value, u16, &str)> = vec![
        (Role::Agent, "collection", good.clone(), 403, "role_not_allowed"),
        (Role::Ingest, "ingest", good.clone(), 403, "role_not_allowed"),
        (Role::Regulator, "compliance_review", good.clone(), 403, "role_not_allowed"),
        (Role::Compliance, "support", good.clone(), 403, "purpose_not_allowed"),
        (Role::Compliance, "dsr", json!({"basis": "CC 1020304050", "starts_on": "2026-01-01"}), 422, "invalid_basis"),
        (
            Role::Compliance,
            "dsr",
            json!({"basis": "maria.gomez@example.com", "starts_on": "2026-01-01"}),
            422,
            "invalid_basis",
        ),
        (Role::Compliance, "dsr", json!({"basis": "Ley 1266", "starts_on": "01/02/2026"}), 422, "invalid_date"),
        (
            Role::Compliance,
            "dsr",
            json!({"basis": "Ley 1266", "starts_on": "2026-02-01", "ends_on": "2026-01-01"}),
            422,
            "invalid_period",
        ),
        (
            Role::Compliance,
            "dsr",
            json!({"basis": "Ley 1266", "starts_on": "2026-02-01", "erase_at_end": true}),
            422,
            "end_date_required",
        ),
        (
            Role::Compliance,
            "dsr",
            json!({"basis": "Ley 1266", "starts_on": "2026-02-01", "colour": "red"}),
            422,
            "invalid_body",
        ),
        (Role::Compliance, "dsr", json!({"starts_on": "2026-02-01"}), 422, "invalid_body"),
    ];
    for (role, purpose, body, status, code) in refused {
        let (before, records) = (app.row_counts().await, app.audit_count().await);
        let response = app.post_json(role, purpose, &path, &body).await;
        let got = response.status().as_u16();
        let answer: Value = response.json().await.unwrap();
        assert_eq!((got, answer["error"]["code"].as_str()), (status, Some(code)), "{role} {purpose} {body}: {answer}");
        assert!(!answer.to_string().contains("1020304050") && !answer.to_string().contains("maria"), "{answer}");
        assert_eq!(app.row_counts().await, before, "{code}: nothing written");
        assert_eq!(app.audit_count().await, records + 1, "{code}: one audit record");
    }
    for (content_type, body, status) in [("application/json", "{not json", 400), ("text/plain", "x", 415)] {
        let records = app.audit_count().await;
        let response = app
            .as_role(Role::Compliance, "dsr", reqwest::Method::POST, &path)
            .header("Content-Type", content_type)
            .body(body)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status().as_u16(), status);
        assert_eq!(app.audit_count().await, records + 1, "{status}: audited");
    }
    let unknown = format!("/v1/parties/{}/retention-holds", PartyId::new());
    assert_eq!(app.post_json(Role::Compliance, "dsr", &unknown, &good).await.status(), 404);
    assert_eq!(app.post_json(Role::Compliance, "dsr", "/v1/parties/nope/retention-holds", &good).await.status(), 404);
    let release = format!("{path}/{}/release", uuid::Uuid::now_v7());
    for (role, purpose, status) in [
        (Role::Agent, "collection", 403),
        (Role::Regulator, "compliance_review", 403),
        (Role::Compliance, "support", 403),
        (Role::Compliance, "dsr", 404),
        (Role::Admin, "compliance_review", 404),
    ] {
        let records = app.audit_count().await;
        let response = app.as_role(role, purpose, reqwest::Method::POST, &release).send().await.unwrap();
        assert_eq!(response.status().as_u16(), status, "release as {role} for {purpose}");
        assert_eq!(app.audit_count().await, records + 1, "release as {role} for {purpose}: audited");
    }
    let bad_hold = format!("{path}/not-a-hold/release");
    let response = app.as_role(Role::Compliance, "dsr", reqwest::Method::POST, &bad_hold).send().await.unwrap();
    assert_eq!(response.status(), 404, "a malformed hold id is no such hold");
    assert_eq!(app.count("retention_holds").await, 0);

    // Reads: compliance, admin and regulators, for review or a DSR; never collection.
    assert_eq!(app.get(Role::Regulator, "compliance_review", &path).await.status(), 200);
    assert_eq!(app.get(Role::Agent, "collection", &path).await.status(), 403);
    assert_eq!(app.get(Role::Compliance, "support", &path).await.status(), 403);
    let records = app.audit_count().await;
    assert_eq!(app.post_json(Role::Admin, "compliance_review", &path, &good).await.status(), 201);
    let written: (String, Option<Vec<u8>>, String) = sqlx::query_as(
        "SELECT action, evidence, parties FROM audit_records WHERE resource_id = $1 ORDER BY seq DESC LIMIT 1",
    )
    .bind(&id)
    .fetch_one(app.db.reader())
    .await
    .map(|(a, e, p): (String, Option<Vec<u8>>, Vec<u8>)| (a, e, String::from_utf8_lossy(&p).into_owned()))
    .unwrap();
    assert_eq!(written.0, "retention.hold");
    assert_eq!(written.1.map(|e| e.len()), Some(32), "the hold event's SHA-256 is the record's evidence");
    assert!(written.2.contains(&id), "the record is about the party");
    assert_eq!(app.audit_count().await, records + 1);

    // The erasure endpoint: compliance or admin, for a data-subject request only.
    for (role, purpose, status) in [
        (Role::Agent, "collection", 403),
        (Role::Ingest, "ingest", 403),
        (Role::Regulator, "compliance_review", 403),
        (Role::Compliance, "compliance_review", 403),
        (Role::Admin, "support", 403),
    ] {
        let (before, records) = (app.row_counts().await, app.audit_count().await);
        let response = app
            .as_role(role, purpose, reqwest::Method::POST, &format!("/v1/parties/{id}/erasure"))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status().as_u16(), status, "{role} {purpose}");
        assert_eq!(app.row_counts().await, before);
        assert_eq!(app.audit_count().await, records + 1);
    }
    let response = app
        .as_role(Role::Compliance, "dsr", reqwest::Method::POST, &format!("/v1/parties/{}/erasure", PartyId::new()))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 404);
    app.stop().await;
}

#[tokio::test]
async fn a_blocked_cancellation_is_due_for_erasure_once_its_period_ends_and_nothing_else_holds() {
    let app = spawn_app().await;
    let (ended, running, with_debt) =
        (app.create_party(&party(1)).await, app.create_party(&party(2)).await, app.create_party(&party(3)).await);
    let blocked = |starts: i64, ends: i64| {
        json!({"basis": "LFPDPPP cancelación: bloqueo", "starts_on": day(starts).to_string(),
               "ends_on": day(ends).to_string(), "erase_at_end": true})
    };
    for (party, body) in [(&ended, blocked(-60, -3)), (&running, blocked(-60, 30)), (&with_debt, blocked(-60, -3))] {
        assert_eq!(add_hold(&app, party, &body).await.0, 201);
    }
    app.create_obligation("OBL-7", "current", &[(&with_debt, "holder")]).await;

    let mut conn = app.db.reader().acquire().await.unwrap();
    let due = retention::due_for_erasure(&mut conn, day(0), 10).await.unwrap();
    drop(conn);
    let tenant = TenantId::parse(TENANT).unwrap();
    let mut ids: Vec<String> = due.iter().map(|(t, p)| (assert_eq!(t, &tenant), p.to_string()).1).collect();
    ids.sort();
    let mut want = vec![ended.clone(), with_debt.clone()];
    want.sort();
    assert_eq!(ids, want, "periods that ended are due; the running one is not");

    // What the sweeper of part C does with each: erase_in, which still refuses what holds.
    let ctx = EventContext {
        tenant: tenant.clone(),
        actor: Actor { tenant: Some(tenant.clone()), on_behalf_of: Some("dsr-sweeper".into()), ..Actor::default() },
        request_id: "sweep-1".into(),
        now: custodia::clock::to_db_time(Utc::now()),
    };
    let keys = custodia::keys::KeyService::new(
        custodia::keys::keyring::Keyring::load_file(&app.key_file).unwrap(),
        None,
        app.backend(),
    );
    let mut outcomes = Vec::new();
    for (_, party) in &due {
        let mut tx = app.db.begin_write().await.unwrap();
        match erasure::erase_in(&mut tx, &keys, &ctx, party).await {
            Ok(receipt) => {
                tx.commit().await.unwrap();
                erasure::after_commit(&app.db).await.unwrap();
                outcomes.push((party.to_string(), format!("erased, retire below {}", receipt.retire_below)));
            }
            Err(refused) => outcomes.push((party.to_string(), refused.to_string())),
        }
    }
    outcomes.sort();
    let text = format!("{outcomes:?}");
    assert!(text.contains(&format!("(\"{ended}\", \"erased, retire below 2\")")), "{text}");
    assert!(
        text.contains(&format!("(\"{with_debt}\", \"the data must be kept")) && text.contains("is current"),
        "{text}"
    );
    assert_eq!(app.read_party(Role::Compliance, "compliance_review", &ended).await.0, 410);
    let mut conn = app.db.reader().acquire().await.unwrap();
    let due: Vec<PartyId> =
        retention::due_for_erasure(&mut conn, day(0), 10).await.unwrap().into_iter().map(|d| d.1).collect();
    assert_eq!(due, vec![PartyId::parse(&with_debt).unwrap()], "an erased party is no longer due");
    app.stop().await;
}
