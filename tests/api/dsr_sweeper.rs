//! Deadlines that pass act on their own: an incomplete Colombian claim is withdrawn when
//! its titular does not complete it in time, a Ley 1266 claim not answered in time is
//! deemed granted, a blocked Mexican cancellation is erased when its retention period
//! ends — each by the sweeper with the system actor, once, however many sweepers race.
//! The "reclamo en trámite" flag follows the claims. Dates are hand-computed (Colombian
//! festivos of 2026: Mon 12 Oct Día de la Raza, Mon 2 Nov Todos los Santos).

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use crate::consent_support::answer;
use crate::dsr_support::*;
use crate::helpers::*;
use custodia::access::Role;
use custodia::clock::Clock;
use custodia::db::Db;
use custodia::dsr::Sweeper;
use custodia::keys::keyring::Keyring;
use custodia::keys::KeyService;
use serde_json::{json, Value};
use std::collections::HashSet;

fn quiet() -> AppOptions {
    AppOptions { dsr_sweeper: false, ..AppOptions::default() }
}

fn id_of(view: &Value) -> String {
    view["id"].as_str().unwrap().to_string()
}

/// The sweeper's event of a request: (action, reason, recorded_by, on_behalf_of).
async fn last_event(app: &TestApp, id: &str) -> (String, Option<String>, Option<String>, Option<String>) {
    let detail = read(app, id).await;
    let event = detail["events"].as_array().unwrap().last().unwrap().clone();
    let text = |k: &str| event[k].as_str().map(str::to_string);
    (text("action").unwrap(), text("reason"), text("recorded_by"), text("on_behalf_of"))
}

#[tokio::test]
async fn an_incomplete_claim_is_withdrawn_once_its_titular_let_the_legal_term_pass() {
    let app = spawn_app_with(quiet()).await;
    let party = app.create_party(&party(1)).await;
    let mut general = request(&party, "reclamo", "co_1581");
    general["received_at"] = json!("2026-09-01T10:00:00-05:00");
    general["complete"] = json!(false);
    let general = created(&app, &general).await;
    assert_eq!(general["state"], "awaiting_titular");
    assert!(general["due_at"].is_null(), "no response term runs while the titular is asked");
    // 2 months from Tue 1 Sep is Sun 1 Nov; Mon 2 Nov is a festivo: the last day is Tue 3 Nov.
    assert_eq!(general["withdraw_at"], "2026-11-04T04:59:59.000000Z");
    let mut financial = request(&party, "reclamo", "co_1266");
    financial["received_at"] = json!("2026-09-01T10:00:00-05:00");
    let financial = id_of(&created(&app, &financial).await);
    stepped(&app, &financial, &json!({"action": "request_information", "requested_at": "2026-09-15T09:00:00-05:00"}))
        .await;
    let asked = read(&app, &financial).await;
    // Ley 1266: one month from Tue 15 Sep is Thu 15 Oct, a business day.
    assert_eq!(asked["request"]["withdraw_at"], "2026-10-16T04:59:59.000000Z");
    assert_eq!(asked["request"]["claim_flag"], true, "it was registered complete: the flag stays until it is decided");

    assert_eq!(
        sweep_at(&app, "2026-10-16T04:59:59Z").await.withdrawn,
        Vec::<String>::new(),
        "the last second still counts"
    );
    let report = sweep_at(&app, "2026-10-16T05:00:01Z").await;
    assert_eq!(report.withdrawn, vec![financial.clone()]);
    assert_eq!(state_of(&app, &financial).await, "withdrawn");
    let (action, reason, by, behalf) = last_event(&app, &financial).await;
    assert_eq!(
        (action.as_str(), reason.as_deref(), by, behalf.as_deref()),
        ("withdraw", Some("not_completed"), None, Some("dsr-sweeper"))
    );
    assert_eq!(claim_flag(&app, &party).await, None, "the flag goes with the last open claim");

    let general = id_of(&general);
    assert!(sweep_at(&app, "2026-11-04T04:59:59Z").await.withdrawn.is_empty());
    assert_eq!(sweep_at(&app, "2026-11-04T05:00:00.5Z").await.withdrawn, vec![general.clone()]);
    assert!(sweep_at(&app, "2026-11-05T05:00:00Z").await.withdrawn.is_empty(), "once");
    let records: i64 = sqlx::query_scalar(
        "SELECT COUNT(*) FROM audit_records WHERE action = 'dsr.withdraw' AND on_behalf_of = 'dsr-sweeper' AND client_id IS NULL",
    )
    .fetch_one(app.db.reader())
    .await
    .unwrap();
    assert_eq!(records, 2, "each withdrawal is audited with the system actor");
    app.stop().await;
}

#[tokio::test]
async fn a_ley_1266_claim_not_answered_in_time_is_deemed_granted_and_a_ley_1581_one_only_overdue() {
    let app = spawn_app_with(quiet()).await;
    let party = app.create_party(&party(2)).await;
    let mut ids = Vec::new();
    for regime in ["co_1266", "co_1581"] {
        let mut claim = request(&party, "reclamo", regime);
        claim["received_at"] = json!("2026-10-01T10:00:00-05:00");
        let view = created(&app, &claim).await;
        // From the day after, Fri 2 Oct; Mon 12 Oct is a festivo: the 15th business day is Fri 23 Oct.
        assert_eq!(
            (view["due_date"].as_str(), view["due_at"].as_str()),
            (Some("2026-10-23"), Some("2026-10-24T04:59:59.000000Z"))
        );
        ids.push(id_of(&view));
    }
    assert_eq!(claim_flag(&app, &party).await.map(|f| f.0), Some("claim_received".into()));
    assert!(sweep_at(&app, "2026-10-24T04:59:59.9Z").await.deemed_granted.is_empty());
    let report = sweep_at(&app, "2026-10-24T05:00:01Z").await;
    assert_eq!(report.deemed_granted, vec![ids[0].clone()]);
    let granted = read(&app, &ids[0]).await["request"].clone();
    assert_eq!(
        (granted["state"].as_str(), granted["state_reason"].as_str()),
        (Some("deemed_granted"), Some("not_answered_in_time"))
    );
    let ley_1581 = read(&app, &ids[1]).await["request"].clone();
    assert_eq!((ley_1581["state"].as_str(), ley_1581["overdue"].as_bool()), (Some("received"), Some(true)));
    assert!(claim_flag(&app, &party).await.is_some(), "the Ley 1581 claim is still open");
    verify(&app, &ids[1]).await;
    stepped(&app, &ids[1], &json!({"action": "answer"})).await;
    assert_eq!(claim_flag(&app, &party).await, None);
    let overdue = answer(app.get(Role::Compliance, "dsr", "/v1/dsr?overdue=true").await).await.1;
    assert_eq!(overdue["requests"].as_array().unwrap().len(), 0, "{overdue}");
    app.stop().await;
}

#[tokio::test]
async fn the_claim_flag_is_set_for_complete_colombian_claims_only_and_cleared_with_the_last_of_them() {
    let app = spawn_app_with(quiet()).await;
    let party = app.create_party(&party(3)).await;
    created(&app, &request(&party, "consulta", "co_1581")).await;
    created(&app, &request(&party, "reclamo", "mx_arco")).await;
    let mut incomplete = request(&party, "supresion", "co_1581");
    incomplete["complete"] = json!(false);
    let incomplete = id_of(&created(&app, &incomplete).await);
    assert_eq!(claim_flag(&app, &party).await, None, "a consulta, a Mexican claim or an incomplete claim sets none");
    let completed = stepped(&app, &incomplete, &json!({"action": "complete"})).await;
    assert_eq!((completed["state"].as_str(), completed["claim_flag"].as_bool()), (Some("in_progress"), Some(true)));
    assert_eq!(claim_flag(&app, &party).await, Some(("claim_received".into(), format!("dsr:{incomplete}"))));
    let second = id_of(&created(&app, &request(&party, "reclamo", "co_1266")).await);
    assert_eq!(count(&app, "SELECT COUNT(*) FROM party_flag_events").await, 1, "set once for both claims");
    stepped(&app, &incomplete, &json!({"action": "withdraw"})).await;
    assert!(claim_flag(&app, &party).await.is_some(), "the second claim is open");
    stepped(&app, &second, &json!({"action": "deny", "reason": "unfounded"})).await;
    assert_eq!(claim_flag(&app, &party).await, None);
    // A flag someone set by hand is theirs to clear.
    let path = format!("/v1/parties/{party}/flags");
    let manual =
        json!({"action": "set", "flag": "reclamo_en_tramite", "reason": "claim_received", "reference": "SIC-2026-41"});
    assert_eq!(answer(app.post_json(Role::Compliance, "compliance_review", &path, &manual).await).await.0, 201);
    let third = id_of(&created(&app, &request(&party, "reclamo", "co_1581")).await);
    stepped(&app, &third, &json!({"action": "withdraw"})).await;
    assert_eq!(claim_flag(&app, &party).await.map(|f| f.1), Some("SIC-2026-41".into()));
    app.stop().await;
}

#[tokio::test]
async fn a_mexican_cancellation_is_blocked_then_erased_when_its_retention_period_ends() {
    let app = spawn_app_with(quiet()).await;
    let party = app.create_party(&party(4)).await;
    let id = id_of(&created(&app, &request(&party, "supresion", "mx_arco")).await);
    let ends_on = (chrono::Utc::now() + chrono::Duration::days(30)).date_naive();
    let block = json!({"action": "block", "basis": "Código de Comercio art. 49", "ends_on": ends_on.to_string()});
    let (status, refused) = step(&app, &id, &block).await;
    assert_eq!((status, refused["error"]["code"].as_str()), (409, Some("identity_not_verified")));
    verify(&app, &id).await;
    let blocked = stepped(&app, &id, &block).await;
    assert_eq!(blocked["state"], "blocked");
    let hold = blocked["retention_hold_id"].as_str().unwrap().to_string();
    let holds = answer(app.get(Role::Compliance, "dsr", &format!("/v1/parties/{party}/retention-holds")).await).await.1;
    let period = &holds["retention_periods"][0];
    assert_eq!((period["id"].as_str(), period["erase_at_end"].as_bool()), (Some(hold.as_str()), Some(true)));
    assert!(blocked["executed_at"].is_string(), "blocking carries the cancellation out (its first stage)");

    let now = chrono::Utc::now();
    assert!(sweep_at(&app, &now.to_rfc3339()).await.erased.is_empty(), "the period runs");
    assert_eq!(app.read_party(Role::Compliance, "dsr", &party).await.0, 200, "kept meanwhile");
    let after = (ends_on + chrono::Duration::days(2)).and_hms_opt(12, 0, 0).unwrap().and_utc().to_rfc3339();
    let report = sweep_at(&app, &after).await;
    assert_eq!((report.erased.clone(), report.answered.clone()), (vec![party.clone()], vec![id.clone()]));
    assert_eq!(app.read_party(Role::Compliance, "dsr", &party).await.0, 410);
    let detail = read(&app, &id).await;
    assert_eq!(
        (detail["request"]["state"].as_str(), detail["request"]["closed_at"].is_string()),
        (Some("answered"), true)
    );
    let event = detail["events"].as_array().unwrap().last().unwrap().clone();
    assert_eq!(
        (event["reason"].as_str(), event["on_behalf_of"].as_str()),
        (Some("retention_period_ended"), Some("dsr-sweeper"))
    );
    assert!(event["details"]["erasure_receipt_sha256"].is_string());
    assert_eq!(records_about(&app, &party, "party.erase").await, 1);
    assert!(sweep_at(&app, &after).await.erased.is_empty(), "once");
    app.stop().await;
}

#[tokio::test]
async fn the_gateway_sweeper_acts_on_its_own() {
    let app = spawn_app().await;
    let party = app.create_party(&party(5)).await;
    let mut claim = request(&party, "reclamo", "co_1266");
    claim["received_at"] = json!("2026-06-01T10:00:00-05:00");
    let id = id_of(&created(&app, &claim).await);
    let mut state = String::new();
    for _ in 0..200 {
        state = state_of(&app, &id).await;
        if state == "deemed_granted" {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    assert_eq!(state, "deemed_granted", "the background sweeper did not act within 10 s");
    app.stop().await;
}

/// A sweeper on its own connection pool, as another gateway instance would run it.
async fn instance(app: &TestApp) -> Sweeper {
    let keyring = Keyring::load_file(&app.key_file).unwrap();
    Sweeper {
        db: Db::connect(&app.database_url, 2).await.unwrap(),
        keys: KeyService::new(keyring, Some(app.key_file.clone()), app.backend()),
        clock: Clock::system(),
        every: std::time::Duration::from_secs(60),
        batch: 500,
        jobs: None,
        parties: None,
    }
}

async fn count(app: &TestApp, sql: &str) -> i64 {
    sqlx::query_scalar(sql).fetch_one(app.db.reader()).await.unwrap()
}

#[tokio::test]
async fn two_sweepers_racing_perform_each_transition_once() {
    let app = spawn_app_with(quiet()).await;
    let mut expected = HashSet::new();
    let mut claimants = Vec::new();
    for n in 0..10u32 {
        let party = app.create_party(&party(10 + n)).await;
        for (kind, regime, complete) in
            [("reclamo", "co_1266", true), ("reclamo", "co_1581", false), ("supresion", "co_1266", true)]
        {
            let mut body = request(&party, kind, regime);
            body["received_at"] = json!("2026-06-01T10:00:00-05:00");
            body["complete"] = json!(complete);
            expected.insert(id_of(&created(&app, &body).await));
        }
        claimants.push(party);
    }
    let ends_on = (chrono::Utc::now() + chrono::Duration::days(30)).date_naive().to_string();
    let mut blocked = HashSet::new();
    for n in 0..4u32 {
        let party = app.create_party(&party(40 + n)).await;
        let id = id_of(&created(&app, &request(&party, "supresion", "mx_arco")).await);
        verify(&app, &id).await;
        stepped(&app, &id, &json!({"action": "block", "basis": "Código de Comercio art. 49", "ends_on": ends_on}))
            .await;
        blocked.insert(party);
    }
    let (a, b) = (instance(&app).await, instance(&app).await);
    let later = chrono::Utc::now() + chrono::Duration::days(60);
    let (first, second) = tokio::join!(a.sweep(later), b.sweep(later));
    let (first, second) = (first.unwrap(), second.unwrap());
    let moved = |r: &custodia::dsr::SweepReport| -> HashSet<String> {
        r.withdrawn.iter().chain(&r.deemed_granted).cloned().collect()
    };
    let erased = |r: &custodia::dsr::SweepReport| -> HashSet<String> { r.erased.iter().cloned().collect() };
    assert!(moved(&first).is_disjoint(&moved(&second)), "no request moved by both");
    assert_eq!(&moved(&first) | &moved(&second), expected, "every due request moved");
    assert!(erased(&first).is_disjoint(&erased(&second)), "no party erased by both");
    assert_eq!(&erased(&first) | &erased(&second), blocked, "every blocked party erased");
    let n = expected.len() as i64;
    assert_eq!(count(&app, "SELECT COUNT(*) FROM dsr_events WHERE action IN ('withdraw', 'deem_granted')").await, n);
    assert_eq!(
        count(&app, "SELECT COUNT(*) FROM audit_records WHERE action IN ('dsr.withdraw', 'dsr.deem_granted')").await,
        n
    );
    assert_eq!(count(&app, "SELECT COUNT(*) FROM audit_records WHERE action = 'party.erase'").await, 4);
    assert_eq!(
        count(&app, "SELECT COUNT(*) FROM dsr_events WHERE action = 'answer' AND on_behalf_of = 'dsr-sweeper'").await,
        4
    );
    assert_eq!(count(&app, "SELECT COUNT(*) FROM key_jobs").await, 1, "the erasures queued one rotation between them");
    for party in &claimants {
        let clears: i64 =
            sqlx::query_scalar("SELECT COUNT(*) FROM party_flag_events WHERE party_id = $1 AND action = 'clear'")
                .bind(party)
                .fetch_one(app.db.reader())
                .await
                .unwrap();
        assert_eq!(clears, 1, "each party's flag is cleared once");
    }
    a.db.close().await;
    b.db.close().await;
    app.stop().await;
}
