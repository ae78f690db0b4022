//! The request state machine through the API, table-driven: from every state, every
//! step is either taken (200, the state it leads to) or refused (409 with a stable
//! code), and a refused step writes nothing and leaves exactly one audit record. The
//! table below is written by hand from the issue, not derived from the code. Every event
//! is attested by its audit record and the events table refuses changes.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use crate::dsr_support::*;
use crate::helpers::*;
use serde_json::{json, Value};

const STEPS: [&str; 8] = ["start", "request_information", "complete", "extend", "answer", "deny", "withdraw", "block"];

/// (from, [outcome of each of STEPS]): a state name when taken, `!code` when refused.
const TABLE: [(&str, [&str; 8]); 9] = [
    (
        "received",
        [
            "in_progress",
            "awaiting_titular",
            "!invalid_transition",
            "extended",
            "answered",
            "denied",
            "withdrawn",
            "blocked",
        ],
    ),
    (
        "awaiting_titular",
        [
            "!invalid_transition",
            "!invalid_transition",
            "in_progress",
            "!invalid_transition",
            "!invalid_transition",
            "denied",
            "withdrawn",
            "!invalid_transition",
        ],
    ),
    (
        "in_progress",
        [
            "!invalid_transition",
            "awaiting_titular",
            "!invalid_transition",
            "extended",
            "answered",
            "denied",
            "withdrawn",
            "blocked",
        ],
    ),
    (
        "extended",
        [
            "!invalid_transition",
            "!invalid_transition",
            "!invalid_transition",
            "!already_extended",
            "answered",
            "denied",
            "withdrawn",
            "blocked",
        ],
    ),
    // Answering a blocked cancellation erases the party, which its own retention period refuses.
    (
        "blocked",
        [
            "!invalid_transition",
            "!invalid_transition",
            "!invalid_transition",
            "!invalid_transition",
            "!retention_hold",
            "!invalid_transition",
            "!invalid_transition",
            "!invalid_transition",
        ],
    ),
    ("answered", ["!invalid_transition"; 8]),
    ("denied", ["!invalid_transition"; 8]),
    ("withdrawn", ["!invalid_transition"; 8]),
    ("deemed_granted", ["!invalid_transition"; 8]),
];

fn ends_on() -> String {
    (chrono::Utc::now() + chrono::Duration::days(400)).date_naive().to_string()
}

fn body(step: &str) -> Value {
    match step {
        "extend" => json!({"action": "extend", "reason": "complexity"}),
        "deny" => json!({"action": "deny", "reason": "unfounded"}),
        "block" => json!({"action": "block", "basis": "Código de Comercio art. 60", "ends_on": ends_on()}),
        other => json!({"action": other}),
    }
}

/// A fresh party with a request in `state`, its requester verified: a Mexican
/// cancellation, for which every step exists — but a Mexican rectification for
/// `answered` (answering a cancellation erases the party, and every write about an
/// erased party answers 410, tested elsewhere) and a Ley 1266 claim for `deemed_granted`.
async fn request_in(app: &TestApp, n: u32, state: &str) -> (String, String) {
    let party = app.create_party(&party(n)).await;
    if state == "deemed_granted" {
        let mut claim = request(&party, "reclamo", "co_1266");
        claim["received_at"] = json!("2026-06-01T10:00:00-05:00");
        let id = created(app, &claim).await["id"].as_str().unwrap().to_string();
        let report = sweep_at(app, &chrono::Utc::now().to_rfc3339()).await;
        assert!(report.deemed_granted.contains(&id), "{report:?}");
        return (party, id);
    }
    let kind = if state == "answered" { "reclamo" } else { "supresion" };
    let id = created(app, &request(&party, kind, "mx_arco")).await["id"].as_str().unwrap().to_string();
    verify(app, &id).await;
    let path: &[&str] = match state {
        "received" => &[],
        "awaiting_titular" => &["request_information"],
        "in_progress" => &["start"],
        "extended" => &["extend"],
        "blocked" => &["block"],
        "answered" => &["answer"],
        "denied" => &["deny"],
        "withdrawn" => &["withdraw"],
        other => panic!("{other}"),
    };
    for step in path {
        stepped(app, &id, &body(step)).await;
    }
    assert_eq!(state_of(app, &id).await, state);
    (party, id)
}

#[tokio::test]
async fn every_step_from_every_state_is_taken_or_refused_with_a_stable_code_and_a_refusal_writes_nothing() {
    let app = spawn_app_with(AppOptions { dsr_sweeper: false, ..AppOptions::default() }).await;
    let mut n = 100;
    let mut failures = Vec::new();
    for (from, outcomes) in TABLE {
        for (step, expected) in STEPS.iter().zip(outcomes) {
            n += 1;
            let (_, id) = request_in(&app, n, from).await;
            let (rows, records) = (app.row_counts().await, app.audit_count().await);
            let (status, answer) = step_of(&app, &id, step).await;
            let outcome = match status {
                200 => answer["request"]["state"].as_str().unwrap().to_string(),
                409 => format!("!{}", answer["error"]["code"].as_str().unwrap()),
                other => format!("status {other}: {answer}"),
            };
            if outcome != expected {
                failures.push(format!("{from} + {step}: expected {expected}, got {outcome}"));
            }
            if status == 409 {
                assert_eq!(app.row_counts().await, rows, "{from} + {step}: a refused step writes nothing");
                assert_eq!(app.audit_count().await, records + 1, "{from} + {step}: one record of the refusal");
                let (outcome, code): (String, Option<String>) = sqlx::query_as(
                    "SELECT outcome, error_code FROM audit_records WHERE action = $1 ORDER BY seq DESC LIMIT 1",
                )
                .bind(format!("dsr.{step}"))
                .fetch_one(app.db.reader())
                .await
                .unwrap();
                assert_eq!((outcome.as_str(), code.as_deref()), ("denied", expected.strip_prefix('!')));
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
    app.stop().await;
}

async fn step_of(app: &TestApp, id: &str, step: &str) -> (u16, Value) {
    super::dsr_support::step(app, id, &body(step)).await
}

#[tokio::test]
async fn steps_that_do_not_exist_for_a_kind_or_regime_are_refused_as_not_applicable() {
    let app = spawn_app().await;
    let party = app.create_party(&party(1)).await;
    let consulta = created(&app, &request(&party, "consulta", "co_1581")).await["id"].as_str().unwrap().to_string();
    verify(&app, &consulta).await;
    let (status, refused) = step(&app, &consulta, &body("block")).await;
    assert_eq!((status, refused["error"]["code"].as_str()), (409, Some("action_not_applicable")), "{refused}");
    let (status, refused) = step(&app, &consulta, &json!({"action": "extend_execution", "reason": "volume"})).await;
    assert_eq!(
        (status, refused["error"]["code"].as_str()),
        (409, Some("action_not_applicable")),
        "Mexico only: {refused}"
    );
    // An unknown step, or one only the sweeper takes, is not valid input.
    for unknown in [json!({"action": "deem_granted"}), json!({"action": "reopen"}), json!({"action": "deny"})] {
        let (status, refused) = step(&app, &consulta, &unknown).await;
        assert_eq!((status, refused["error"]["code"].as_str()), (422, Some("invalid_body")), "{unknown}: {refused}");
    }
    assert_eq!(state_of(&app, &consulta).await, "received");
    app.stop().await;
}

#[tokio::test]
async fn a_mexican_answer_has_a_term_to_carry_it_out_extendable_once() {
    let app = spawn_app().await;
    let party = app.create_party(&party(2)).await;
    let mut claim = request(&party, "reclamo", "mx_arco");
    claim["received_at"] = json!("2026-11-02T10:00:00-06:00");
    let id = created(&app, &claim).await["id"].as_str().unwrap().to_string();
    verify(&app, &id).await;
    let answered = stepped(&app, &id, &json!({"action": "answer"})).await;
    assert_eq!(answered["state"], "answered");
    let first = answered["execution_due_at"].as_str().unwrap().to_string();
    assert!(answered["executed_at"].is_null());
    let extend = json!({"action": "extend_execution", "reason": "third_party"});
    let extended = stepped(&app, &id, &extend).await;
    assert!(extended["execution_due_at"].as_str().unwrap() > first.as_str(), "{extended}");
    assert!(extended["execution_extended"].as_bool().unwrap());
    let (status, again) = step(&app, &id, &extend).await;
    assert_eq!((status, again["error"]["code"].as_str()), (409, Some("already_extended")));
    let executed = stepped(&app, &id, &json!({"action": "execute", "reference": "OFICIO-77"})).await;
    assert!(executed["executed_at"].is_string());
    let (status, again) = step(&app, &id, &json!({"action": "execute"})).await;
    assert_eq!((status, again["error"]["code"].as_str()), (409, Some("invalid_transition")));
    app.stop().await;
}

#[tokio::test]
async fn every_event_is_attested_by_its_audit_record_and_the_history_cannot_be_edited() {
    let app = spawn_app().await;
    let party = app.create_party(&party(3)).await;
    let id = created(&app, &request(&party, "reclamo", "co_1581")).await["id"].as_str().unwrap().to_string();
    verify(&app, &id).await;
    stepped(&app, &id, &json!({"action": "start"})).await;
    stepped(&app, &id, &json!({"action": "extend", "reason": "volume", "reference": "CARTA-2026-9"})).await;
    stepped(&app, &id, &json!({"action": "deny", "reason": "unfounded"})).await;
    let detail = read(&app, &id).await;
    let events = detail["events"].as_array().unwrap();
    let actions: Vec<&str> = events.iter().map(|e| e["action"].as_str().unwrap()).collect();
    assert_eq!(actions, vec!["create", "identity", "start", "extend", "deny"]);
    let attested: Vec<String> = sqlx::query_scalar::<_, Vec<u8>>(
        "SELECT evidence FROM audit_records WHERE resource_id = $1 AND action LIKE 'dsr.%' AND outcome = 'allowed' \
         AND evidence IS NOT NULL ORDER BY seq",
    )
    .bind(&id)
    .fetch_all(app.db.reader())
    .await
    .unwrap()
    .into_iter()
    .map(hex::encode)
    .collect();
    let hashes: Vec<String> = events.iter().map(|e| e["sha256"].as_str().unwrap().to_string()).collect();
    assert_eq!(attested, hashes, "each event's hash is its audit record's evidence, in order");
    assert_eq!(events[3]["reason"], "volume");
    assert_eq!(events[3]["reference"], "CARTA-2026-9");
    assert_eq!(events[3]["on_behalf_of"], "oficial-3");
    for statement in
        ["UPDATE dsr_events SET reason = 'other' WHERE request_id = $1", "DELETE FROM dsr_events WHERE request_id = $1"]
    {
        let mut tx = app.db.begin_write().await.unwrap();
        let refused = sqlx::query(statement).bind(&id).execute(&mut *tx).await;
        assert!(refused.is_err(), "{statement} must be refused");
    }
    app.stop().await;
}
