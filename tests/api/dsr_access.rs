//! Every `/v1/dsr` endpoint is role- and purpose-checked and audited: each role, with
//! each purpose it may declare, is either served or refused (403 `role_not_allowed` /
//! `purpose_not_allowed`), and every request leaves exactly one audit record of its own.
//! Bad input gets a stable 4xx, writes nothing, and never echoes the value. The CLI's
//! tenant settings and overdue view work on the same data.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use crate::consent_support::answer;
use crate::dsr_support::*;
use crate::helpers::*;
use custodia::access::Role;
use serde_json::{json, Value};

/// The purposes each role may declare (policies/access.toml).
fn declarable(role: Role) -> &'static [&'static str] {
    match role {
        Role::Admin => &["support", "compliance_review", "dsr"],
        Role::Compliance => &["compliance_review", "dsr", "support"],
        Role::Agent => &["collection", "support"],
        Role::Dialer => &["collection"],
        Role::Analyst => &["segmentation"],
        Role::Ingest => &["ingest"],
        Role::Regulator => &["compliance_review", "credit_reporting"],
    }
}

#[derive(Clone, Copy)]
enum Who {
    /// compliance and admin, purpose dsr.
    Officers,
    /// compliance and admin with dsr or compliance_review; regulator with compliance_review.
    Readers,
}

/// The code a role/purpose gets, or None when it is served.
fn expected(who: Who, role: Role, purpose: &str) -> Option<&'static str> {
    let roles: &[Role] = match who {
        Who::Officers => &[Role::Admin, Role::Compliance],
        Who::Readers => &[Role::Admin, Role::Compliance, Role::Regulator],
    };
    let purposes: &[&str] = match who {
        Who::Officers => &["dsr"],
        Who::Readers => &["dsr", "compliance_review"],
    };
    if !roles.contains(&role) {
        Some("role_not_allowed")
    } else if !purposes.contains(&purpose) {
        Some("purpose_not_allowed")
    } else {
        None
    }
}

/// A verified request of `kind` on a fresh party; returns its id.
async fn verified(app: &TestApp, n: u32, kind: &str) -> String {
    let party = app.create_party(&party(n)).await;
    let id = created(app, &request(&party, kind, "co_1581")).await["id"].as_str().unwrap().to_string();
    verify(app, &id).await;
    id
}

#[tokio::test]
async fn every_dsr_endpoint_serves_only_its_roles_and_purposes_and_audits_each_request_once() {
    let app = spawn_app().await;
    let consulta = verified(&app, 1, "consulta").await;
    let proof = verified(&app, 2, "prueba_autorizacion").await;
    let party = app.create_party(&party(3)).await;
    let mut n = 10;
    for role in Role::ALL {
        for purpose in declarable(*role) {
            n += 1;
            // A fresh request for the step, so that every served step is possible.
            let fresh =
                created(&app, &request(&party, "consulta", "co_1581")).await["id"].as_str().unwrap().to_string();
            let calls: Vec<(Who, reqwest::Method, String, Option<Value>)> = vec![
                (Who::Officers, reqwest::Method::POST, "/v1/dsr".into(), Some(request(&party, "consulta", "co_1581"))),
                (Who::Readers, reqwest::Method::GET, "/v1/dsr?overdue=true".into(), None),
                (Who::Readers, reqwest::Method::GET, format!("/v1/dsr/{consulta}"), None),
                (
                    Who::Officers,
                    reqwest::Method::POST,
                    format!("/v1/dsr/{fresh}/actions"),
                    Some(json!({"action": "start"})),
                ),
                (
                    Who::Officers,
                    reqwest::Method::POST,
                    format!("/v1/dsr/{fresh}/identity"),
                    Some(json!({"method": "in_person"})),
                ),
                (
                    Who::Officers,
                    reqwest::Method::POST,
                    format!("/v1/dsr/{fresh}/assignee"),
                    Some(json!({"assignee": format!("oficial-{n}")})),
                ),
                (Who::Officers, reqwest::Method::GET, format!("/v1/dsr/{consulta}/dossier"), None),
                (Who::Officers, reqwest::Method::GET, format!("/v1/dsr/{proof}/proof"), None),
            ];
            for (who, method, path, body) in calls {
                let records = app.audit_count().await;
                let mut call = app.as_role(*role, purpose, method.clone(), &path);
                if let Some(body) = &body {
                    call = call.json(body);
                }
                let (status, reply) = answer(call.send().await.unwrap()).await;
                let what = format!("{role} {purpose} {method} {path}");
                match expected(who, *role, purpose) {
                    None => assert!((200..300).contains(&status), "{what}: served, got {status} {reply}"),
                    Some(code) => assert_eq!((status, reply["error"]["code"].as_str()), (403, Some(code)), "{what}"),
                }
                let added = app.audit_count().await - records;
                // A served step on a consulta also records nothing else (no flag, no erasure).
                assert_eq!(added, 1, "{what}: one audit record");
                let (outcome, action): (String, String) =
                    sqlx::query_as("SELECT outcome, action FROM audit_records ORDER BY seq DESC LIMIT 1")
                        .fetch_one(app.db.reader())
                        .await
                        .unwrap();
                let served = expected(who, *role, purpose).is_none();
                assert_eq!(outcome, if served { "allowed" } else { "denied" }, "{what}");
                assert!(action.starts_with("dsr."), "{what}: {action}");
            }
        }
    }
    app.stop().await;
}

#[tokio::test]
async fn bad_input_gets_a_stable_code_writes_nothing_and_never_echoes_the_value() {
    let app = spawn_app().await;
    let party_id = app.create_party(&party(20)).await;
    let other = app.add_tenant("otra").await;
    let response = app
        .with_token(&other[&Role::Ingest], "ingest", reqwest::Method::POST, "/v1/parties")
        .json(&party(21))
        .send()
        .await
        .unwrap();
    let foreign = answer(response).await.1["id"].as_str().unwrap().to_string();
    let id = created(&app, &request(&party_id, "reclamo", "co_1581")).await["id"].as_str().unwrap().to_string();
    let future = (chrono::Utc::now() + chrono::Duration::days(3)).to_rfc3339();
    let with = |patch: Value| {
        let mut body = request(&party_id, "consulta", "co_1581");
        for (k, v) in patch.as_object().unwrap() {
            body[k] = v.clone();
        }
        body
    };
    let secret = "3001234567";
    let cases: Vec<(&str, String, Value, u16, &str)> = vec![
        ("unknown field", "/v1/dsr".into(), with(json!({"note": secret})), 422, "invalid_body"),
        ("unknown kind", "/v1/dsr".into(), with(json!({"kind": secret})), 422, "invalid_body"),
        (
            "mx calendar days is a tenant setting",
            "/v1/dsr".into(),
            with(json!({"regime": "mx_arco_calendar_days"})),
            422,
            "invalid_body",
        ),
        (
            "reclamo without type",
            "/v1/dsr".into(),
            json!({"party_id": party_id, "kind": "reclamo", "regime": "co_1581", "channel": "post"}),
            422,
            "field_required",
        ),
        ("received in the future", "/v1/dsr".into(), with(json!({"received_at": future})), 422, "time_in_future"),
        ("received at garbage", "/v1/dsr".into(), with(json!({"received_at": secret})), 422, "invalid_time"),
        (
            "received before the calendars",
            "/v1/dsr".into(),
            with(json!({"received_at": "1985-03-01T10:00:00-05:00"})),
            422,
            "outside_calendar_range",
        ),
        ("assignee with free text", "/v1/dsr".into(), with(json!({"assignee": "Ana María"})), 422, "invalid_actor"),
        (
            "unknown party",
            "/v1/dsr".into(),
            with(json!({"party_id": uuid::Uuid::now_v7().to_string()})),
            404,
            "not_found",
        ),
        ("another tenant's party", "/v1/dsr".into(), with(json!({"party_id": foreign})), 404, "not_found"),
        ("malformed party id", "/v1/dsr".into(), with(json!({"party_id": secret})), 404, "not_found"),
        (
            "extension in the future",
            format!("/v1/dsr/{id}/actions"),
            json!({"action": "extend", "reason": "volume", "notified_at": future}),
            422,
            "time_in_future",
        ),
        (
            "extension before receipt",
            format!("/v1/dsr/{id}/actions"),
            json!({"action": "extend", "reason": "volume", "notified_at": "2026-01-01T00:00:00Z"}),
            422,
            "extension_before_receipt",
        ),
        (
            "reference with free text",
            format!("/v1/dsr/{id}/actions"),
            json!({"action": "withdraw", "reference": format!("llamó {secret}")}),
            422,
            "invalid_reference",
        ),
        (
            "unknown reason",
            format!("/v1/dsr/{id}/actions"),
            json!({"action": "deny", "reason": secret}),
            422,
            "invalid_body",
        ),
        (
            "blocking a Colombian claim",
            format!("/v1/dsr/{id}/actions"),
            json!({"action": "block", "basis": secret, "ends_on": "2027-01-01"}),
            409,
            "action_not_applicable",
        ),
        (
            "identity hash not hex",
            format!("/v1/dsr/{id}/identity"),
            json!({"method": "document_check", "document_sha256": secret}),
            422,
            "invalid_hash",
        ),
        (
            "identity in the future",
            format!("/v1/dsr/{id}/identity"),
            json!({"method": "in_person", "verified_at": future}),
            422,
            "time_in_future",
        ),
        (
            "unknown request",
            format!("/v1/dsr/{}/actions", uuid::Uuid::now_v7()),
            json!({"action": "start"}),
            404,
            "not_found",
        ),
        ("malformed request id", "/v1/dsr/not-an-id/assignee".into(), json!({"assignee": "x"}), 404, "not_found"),
    ];
    for (what, path, body, status, code) in cases {
        let (rows, records) = (app.row_counts().await, app.audit_count().await);
        let (got, reply) = answer(app.post_json(Role::Compliance, "dsr", &path, &body).await).await;
        assert_eq!((got, reply["error"]["code"].as_str()), (status, Some(code)), "{what}: {reply}");
        assert!(!reply.to_string().contains(secret), "{what}: the value is not echoed: {reply}");
        assert_eq!(app.row_counts().await, rows, "{what}: nothing written");
        assert_eq!(app.audit_count().await, records + 1, "{what}: one audit record");
    }
    // The refusal about another tenant's party is in no chain of this tenant.
    assert_eq!(records_about(&app, &foreign, "dsr.create").await, 0);
    let raw = app
        .as_role(Role::Compliance, "dsr", reqwest::Method::POST, "/v1/dsr")
        .header("Content-Type", "application/json");
    let (status, reply) = answer(raw.body("{\"party_id\": ").send().await.unwrap()).await;
    assert_eq!((status, reply["error"]["code"].as_str()), (400, Some("malformed_json")));
    let plain = app.as_role(Role::Compliance, "dsr", reqwest::Method::POST, "/v1/dsr").body("x");
    assert_eq!(plain.send().await.unwrap().status(), 415);
    for query in ["overdue=yes", "state=open", "limit=0", "cursor=zz", "colour=red", "party=123"] {
        let (status, reply) = answer(app.get(Role::Compliance, "dsr", &format!("/v1/dsr?{query}")).await).await;
        assert_eq!((status, reply["error"]["code"].as_str()), (400, Some("invalid_parameter")), "{query}");
    }
    app.stop().await;
}

#[tokio::test]
async fn the_overdue_view_filters_and_pages_and_shows_the_tenant_settings() {
    let clock = Some("2026-12-01T12:00:00-05:00");
    let app = spawn_app_with(AppOptions { clock, dsr_sweeper: false, ..AppOptions::default() }).await;
    let party = app.create_party(&party(30)).await;
    let mut ids = Vec::new();
    for (kind, received) in [
        ("consulta", "2026-10-01T10:00:00-05:00"),
        ("reclamo", "2026-10-05T10:00:00-05:00"),
        ("consulta", "2026-11-30T10:00:00-05:00"),
    ] {
        let mut body = request(&party, kind, "co_1581");
        body["received_at"] = json!(received);
        ids.push(created(&app, &body).await["id"].as_str().unwrap().to_string());
    }
    let list = |query: &str| {
        let path = format!("/v1/dsr?{query}");
        let app = &app;
        async move {
            let (status, page) = answer(app.get(Role::Regulator, "compliance_review", &path).await).await;
            assert_eq!(status, 200, "{page}");
            page
        }
    };
    let overdue = list("overdue=true").await;
    let found: Vec<&str> = overdue["requests"].as_array().unwrap().iter().map(|r| r["id"].as_str().unwrap()).collect();
    assert_eq!(found, vec![ids[0].as_str(), ids[1].as_str()], "the two late ones, soonest due first");
    assert!(overdue["requests"][0]["overdue"].as_bool().unwrap());
    assert_eq!(overdue["tenant_settings"], json!({"timezone": "America/Bogota", "mx_arco_days": "business"}));
    assert_eq!(list("kind=reclamo").await["requests"].as_array().unwrap().len(), 1);
    assert_eq!(list(&format!("party={party}&state=received")).await["requests"].as_array().unwrap().len(), 3);
    let first = list("limit=2").await;
    let next = first["next_cursor"].as_str().unwrap();
    let second = list(&format!("limit=2&cursor={next}")).await;
    assert_eq!(second["requests"][0]["id"], ids[2].as_str());
    assert!(second["next_cursor"].is_null());
    assert_eq!(records_about(&app, &party, "dsr.list").await, 5, "each list is audited about the parties it shows");
    app.stop().await;
}

#[tokio::test]
async fn the_cli_sets_tenant_clocks_lists_overdue_requests_and_sweeps() {
    let app = spawn_app_with(AppOptions { dsr_sweeper: false, ..AppOptions::default() }).await;
    let (code, out) =
        app.cli(&["tenants", "set", TENANT, "--timezone", "America/Mexico_City", "--mx-arco-days", "calendar"]).await;
    assert_eq!(code, 0, "{out}");
    let (code, out) = app.cli(&["tenants", "show", TENANT]).await;
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("timezone\tAmerica/Mexico_City") && out.contains("mx_arco_days\tcalendar"), "{out}");
    let (code, out) = app.cli(&["tenants", "set", TENANT, "--timezone", "Mars/Olympus"]).await;
    assert_ne!(code, 0, "{out}");
    let (code, out) = app.cli(&["tenants", "create", "nueva", "--timezone", "Europe/Madrid"]).await;
    assert_eq!(code, 0, "{out}");

    let party = app.create_party(&party(40)).await;
    let mut late = request(&party, "reclamo", "mx_arco");
    late["received_at"] = json!("2026-10-01T10:00:00-06:00");
    let late = created(&app, &late).await;
    // Calendar days now: day 1 Thu 1 Oct, day 20 Tue 20 Oct.
    assert_eq!((late["day_count"].as_str(), late["due_date"].as_str()), (Some("calendar"), Some("2026-10-20")));
    let mut colombian = request(&party, "consulta", "co_1266");
    colombian["received_at"] = json!("2026-10-01T10:00:00-05:00");
    let colombian = created(&app, &colombian).await["id"].as_str().unwrap().to_string();
    let fresh = created(&app, &request(&party, "consulta", "co_1581")).await["id"].as_str().unwrap().to_string();
    let (code, out) = app.cli(&["dsr", "list", "--overdue", "--tenant", TENANT, "--json"]).await;
    assert_eq!(code, 0, "{out}");
    let listed: Value = serde_json::from_str(out.trim()).unwrap();
    let ids: Vec<&str> = listed.as_array().unwrap().iter().map(|r| r["id"].as_str().unwrap()).collect();
    assert!(
        ids.contains(&late["id"].as_str().unwrap())
            && ids.contains(&colombian.as_str())
            && !ids.contains(&fresh.as_str()),
        "{out}"
    );
    let (code, out) = app.cli(&["dsr", "list", "--overdue"]).await;
    assert_eq!(code, 0, "{out}");
    assert!(out.starts_with("id\ttenant\tparty_id") && out.lines().count() == 3, "{out}");
    assert!(records_about(&app, &party, "dsr.list").await >= 2, "the CLI's listings are audited");

    let mut claim = request(&party, "reclamo", "co_1266");
    claim["received_at"] = json!("2026-10-01T10:00:00-05:00");
    let claim = created(&app, &claim).await["id"].as_str().unwrap().to_string();
    let (code, out) = app.cli(&["dsr", "sweep", "--json"]).await;
    assert_eq!(code, 0, "{out}");
    let report: Value = serde_json::from_str(out.trim()).unwrap();
    assert_eq!(report["deemed_granted"], json!([claim]));
    assert_eq!(state_of(&app, &claim).await, "deemed_granted");
    app.stop().await;
}
