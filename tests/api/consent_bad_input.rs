//! Bad input to the consent, notice and flag endpoints gets a stable 4xx code, writes
//! nothing, is audited once, and never echoes the offending value; and no personal value
//! of a party reaches the ledger tables, their audit records or their answers.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use crate::consent_support::*;
use crate::helpers::*;
use custodia::access::Role;
use reqwest::Method;
use serde_json::{json, Value};

struct Case {
    name: &'static str,
    path: String,
    body: Result<Value, &'static str>,
    status: u16,
    code: &'static str,
    /// Values that must appear nowhere in the answer or the audit log.
    offending: &'static [&'static str],
}

fn case(name: &'static str, path: &str, body: Value, status: u16, code: &'static str) -> Case {
    Case { name, path: path.to_string(), body: Ok(body), status, code, offending: &[] }
}

impl Case {
    fn hiding(mut self, values: &'static [&'static str]) -> Self {
        self.offending = values;
        self
    }
}

fn with(mut body: Value, pointer: &str, value: Value) -> Value {
    *body.pointer_mut(pointer).unwrap() = value;
    body
}

fn adding(mut body: Value, key: &str, value: Value) -> Value {
    body[key] = value;
    body
}

fn cases(party: &str, notice: &str) -> Vec<Case> {
    let consents = format!("/v1/parties/{party}/consents");
    let flags = format!("/v1/parties/{party}/flags");
    let served = format!("/v1/parties/{party}/served-notices");
    let g = grant("collection", Some("sms"), notice);
    let special = json!({"action": "grant", "kind": "special_hours", "purpose": "collection", "contract_date": "2025-01-10",
        "hours": {"days": ["mon"], "from": "21:00", "to": "19:00"}, "evidence": with(evidence(Some(notice), &now()), "/method", json!("written"))});
    let flag = json!({"action": "set", "flag": "deceased", "reason": "death_reported"});
    let notice_body = json!({"name": "aviso", "language": "es", "title": "t", "text": "x", "purposes": ["collection"]});
    let served_body = json!({"notice_hash": notice, "method": "app", "served_at": now(), "served_by": "app", "source_reference": "S-1"});
    vec![
        Case {
            name: "malformed JSON",
            path: consents.clone(),
            body: Err("{\"action\": \"grant\", \"purpose\""),
            status: 400,
            code: "malformed_json",
            offending: &[],
        },
        case(
            "an unknown field",
            &consents,
            adding(g.clone(), "note", json!("llamar al +573157300081")),
            422,
            "invalid_body",
        )
        .hiding(&["3157300081"]),
        case("an unknown purpose", &consents, with(g.clone(), "/purpose", json!("cobranza-zq81")), 422, "invalid_body")
            .hiding(&["cobranza-zq81"]),
        case(
            "a phone number as destination",
            &consents,
            adding(g.clone(), "destination", json!("+573157300081")),
            422,
            "invalid_destination",
        )
        .hiding(&["3157300081"]),
        case(
            "a name as captured_by",
            &consents,
            with(g.clone(), "/evidence/captured_by", json!("María Wyvernsson")),
            422,
            "invalid_actor",
        )
        .hiding(&["Wyvernsson"]),
        case(
            "an e-mail as source reference",
            &consents,
            with(g.clone(), "/evidence/source_reference", json!("zq.wyvern81@example.co")),
            422,
            "invalid_reference",
        )
        .hiding(&["zq.wyvern81"]),
        case(
            "a malformed notice hash",
            &consents,
            with(g.clone(), "/evidence/notice_hash", json!("3157300081")),
            422,
            "invalid_hash",
        )
        .hiding(&["3157300081"]),
        case(
            "a capture time that is no time",
            &consents,
            with(g.clone(), "/evidence/captured_at", json!("ayer 3157300081")),
            422,
            "invalid_time",
        )
        .hiding(&["3157300081"]),
        case("inverted special hours", &consents, special.clone(), 422, "invalid_hours"),
        case(
            "a contract date in another format",
            &consents,
            with(special.clone(), "/contract_date", json!("10/01/2025")),
            422,
            "invalid_date",
        ),
        case(
            "an obligation on an authorization",
            &consents,
            adding(
                with(g.clone(), "/channel", Value::Null),
                "obligation_id",
                json!("0190f0e4-6b7a-7c3d-8e9f-0a1b2c3d4e5f"),
            ),
            422,
            "field_not_allowed",
        ),
        case(
            "a channel for data processing",
            &consents,
            with(g.clone(), "/purpose", json!("data_processing")),
            422,
            "channel_not_applicable",
        ),
        case("an unknown flag", &flags, with(flag.clone(), "/flag", json!("moroso-zq81")), 422, "invalid_body")
            .hiding(&["moroso-zq81"]),
        case(
            "free text as flag reference",
            &flags,
            adding(flag.clone(), "reference", json!("la señora Wyvernsson falleció")),
            422,
            "invalid_reference",
        )
        .hiding(&["Wyvernsson"]),
        case(
            "insolvency without its dates",
            &flags,
            with(flag.clone(), "/flag", json!("insolvency")),
            422,
            "field_required",
        ),
        case(
            "insolvency dates on another flag",
            &flags,
            adding(flag.clone(), "insolvency", json!({"admitted_on": "2026-01-01"})),
            422,
            "field_not_allowed",
        ),
        case(
            "a notice name with spaces",
            "/v1/notices",
            with(notice_body.clone(), "/name", json!("Aviso Cobranza")),
            422,
            "invalid_notice_name",
        ),
        case(
            "a notice language",
            "/v1/notices",
            with(notice_body.clone(), "/language", json!("spanish")),
            422,
            "invalid_language",
        ),
        case(
            "a notice without purposes",
            "/v1/notices",
            with(notice_body.clone(), "/purposes", json!([])),
            422,
            "purposes_required",
        ),
        case(
            "a served time in the future",
            &served,
            with(served_body.clone(), "/served_at", json!("2999-01-01T00:00:00Z")),
            422,
            "served_in_future",
        ),
        case(
            "a name as served_by",
            &served,
            with(served_body.clone(), "/served_by", json!("Zebulón Wyvernsson")),
            422,
            "invalid_actor",
        )
        .hiding(&["Wyvernsson"]),
    ]
}

#[tokio::test]
async fn bad_input_gets_a_stable_code_writes_nothing_is_audited_once_and_never_echoes_the_value() {
    let app = spawn_app().await;
    let notice = standard_notice(&app).await;
    let party = app.create_party(&party(81)).await;
    let counts = app.row_counts().await;
    let mut offending = Vec::new();
    for case in cases(&party, &notice) {
        let audits = app.audit_count().await;
        let mut request = app.as_role(Role::Compliance, "compliance_review", Method::POST, &case.path);
        request = match &case.body {
            Ok(body) => request.json(body),
            Err(raw) => request.header("Content-Type", "application/json").body(raw.to_string()),
        };
        let (status, body) = answer(request.send().await.unwrap()).await;
        assert_eq!((status, body["error"]["code"].as_str()), (case.status, Some(case.code)), "{}: {body}", case.name);
        assert!(body["error"]["request_id"].is_string(), "{}", case.name);
        assert_eq!(app.row_counts().await, counts, "{}: nothing written", case.name);
        assert_eq!(app.audit_count().await, audits + 1, "{}: audited once", case.name);
        let (error_code, outcome): (Option<String>, String) =
            sqlx::query_as("SELECT error_code, outcome FROM audit_records ORDER BY seq DESC LIMIT 1")
                .fetch_one(app.db.reader())
                .await
                .unwrap();
        assert_eq!((error_code.as_deref(), outcome.as_str()), (Some(case.code), "denied"), "{}", case.name);
        for value in case.offending {
            assert!(!body.to_string().contains(value), "{}: the answer echoes {value}: {body}", case.name);
        }
        offending.extend(case.offending.iter().copied());
    }
    let audit = table_text(&app, "audit_records", AUDIT_TEXT).await;
    for value in offending {
        assert!(!audit.contains(value), "the audit log holds {value}");
    }
    let wrong_type = app
        .as_role(Role::Compliance, "compliance_review", Method::POST, &format!("/v1/parties/{party}/consents"))
        .header("Content-Type", "text/plain")
        .body("grant")
        .send()
        .await
        .unwrap();
    assert_eq!(wrong_type.status(), 415);
    assert_eq!(app.row_counts().await, counts);
    app.stop().await;
}

const AUDIT_TEXT: &[&str] = &["action", "resource_id", "fields", "purpose", "on_behalf_of", "error_code", "request_id"];

/// Every text column of the given tables, concatenated (BLOBs are hashes, not text).
async fn table_text(app: &TestApp, table: &str, columns: &[&str]) -> String {
    let sql = format!(
        "SELECT {} FROM {table}",
        columns.iter().map(|c| format!("COALESCE({c}, '')")).collect::<Vec<_>>().join(" || '|' || ")
    );
    sqlx::query_scalar::<_, String>(&sql).fetch_all(app.db.reader()).await.unwrap().join("\n")
}

#[tokio::test]
async fn no_personal_value_reaches_the_ledger_its_audit_records_or_its_answers() {
    let app = spawn_app().await;
    let notice = standard_notice(&app).await;
    let (party, obligation) = party_with_obligation(&app, 82, "microcredit", "delinquent").await;
    let mut answers = Vec::new();
    let mut bound = grant("collection", Some("whatsapp"), &notice);
    bound["destination"] = json!("mobile");
    let mut emailed = grant("marketing", Some("email"), &notice);
    emailed["destination"] = json!("personal");
    let visit = json!({"action": "grant", "kind": "visit", "purpose": "collection", "obligation_id": obligation, "contract_date": "2025-06-01",
        "evidence": {"method": "written", "notice_hash": notice, "captured_at": now(), "captured_by": "asesor-9", "source_reference": "V-1", "document_sha256": "ef".repeat(32)}});
    for body in [bound, emailed, visit, revoke("collection", Some("whatsapp"))] {
        let (status, answer) = post_consent(&app, &party, &body).await;
        assert_eq!(status, 201, "{answer}");
        answers.push(answer.to_string());
    }
    let flag = json!({"action": "set", "flag": "insolvency", "reason": "insolvency_admitted", "reference": "RAD-2026-0001",
        "insolvency": {"admitted_on": "2026-01-20", "creditor_notified_on": "2026-01-22"}});
    answers.push(
        answer(app.post_json(Role::Compliance, "dsr", &format!("/v1/parties/{party}/flags"), &flag).await)
            .await
            .1
            .to_string(),
    );
    let served = json!({"notice_hash": notice, "channel": "whatsapp", "method": "app", "served_at": now(), "served_by": "app", "source_reference": "S-1"});
    answers.push(
        answer(app.post_json(Role::Agent, "collection", &format!("/v1/parties/{party}/served-notices"), &served).await)
            .await
            .1
            .to_string(),
    );
    for (role, purpose, path) in [
        (Role::Agent, "collection", "consents"),
        (Role::Compliance, "compliance_review", "flags"),
        (Role::Compliance, "dsr", "consents/proof"),
    ] {
        let (status, body) = answer(app.get(role, purpose, &format!("/v1/parties/{party}/{path}")).await).await;
        assert_eq!(status, 200, "{path}: {body}");
        answers.push(body.to_string());
    }
    let stored = [
        table_text(
            &app,
            "consent_events",
            &[
                "party_id",
                "purpose",
                "channel",
                "destination",
                "obligation_id",
                "captured_by",
                "source_reference",
                "hours",
            ],
        )
        .await,
        table_text(&app, "party_flag_events", &["flag", "reason", "reference", "admitted_on", "on_behalf_of"]).await,
        table_text(&app, "notice_served_events", &["channel", "method", "served_by", "source_reference"]).await,
        table_text(&app, "audit_records", AUDIT_TEXT).await,
    ];
    assert!(stored[0].contains("mobile") && stored[0].contains("personal"), "destinations are element ids");
    for secret in party_secrets(82) {
        for (i, text) in stored.iter().enumerate() {
            assert!(!text.contains(&secret), "table {i} holds {secret}");
        }
        for text in &answers {
            assert!(!text.contains(&secret), "an answer holds {secret}: {text}");
        }
    }
    app.stop().await;
}
