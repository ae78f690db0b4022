//! Bad input gets a 4xx with a stable code, a message and the request id, never echoes
//! the offending value, never a 5xx, and writes nothing (DESIGN invariant 8). Refusals
//! by authentication and purpose are audited, one record each (invariant 3).

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use crate::helpers::*;
use custodia::access::Role;
use reqwest::header::CONTENT_TYPE;
use reqwest::Method;
use serde_json::{json, Value};

/// `party(n)` changed by `edit`.
fn party_with(n: u32, edit: impl FnOnce(&mut Value)) -> Value {
    let mut body = party(n);
    edit(&mut body);
    body
}

fn inline_obligation(reference: &str) -> Value {
    json!({
        "external_ref": reference, "product": "credit_card", "currency": "COP", "principal": "1000.00",
        "balance": "500.00", "due_date": "2026-01-15", "status": "delinquent"
    })
}

struct Bad {
    name: &'static str,
    content_type: Option<&'static str>,
    body: Vec<u8>,
    status: u16,
    code: &'static str,
    /// Values that must not appear in the answer (besides the party's own secrets).
    offending: Vec<String>,
    /// The party whose personal values the body carries.
    n: u32,
    /// Something the message must say, to prove the right rule refused the right field.
    message_contains: Option<&'static str>,
}

fn bad(name: &'static str, n: u32, body: &Value, status: u16, code: &'static str) -> Bad {
    Bad {
        name,
        content_type: Some("application/json"),
        body: body.to_string().into_bytes(),
        status,
        code,
        offending: Vec::new(),
        n,
        message_contains: None,
    }
}

impl Bad {
    fn offending(mut self, value: &str) -> Self {
        self.offending.push(value.to_string());
        self
    }

    fn says(mut self, text: &'static str) -> Self {
        self.message_contains = Some(text);
        self
    }

    fn content_type(mut self, content_type: Option<&'static str>) -> Self {
        self.content_type = content_type;
        self
    }
}

fn bad_parties() -> Vec<Bad> {
    let truncated = {
        let text = party(901).to_string();
        text[..text.len() / 2].to_string()
    };
    let oversize = party_with(908, |p| p["full_name"] = json!("Wyvernsson ".repeat(200_000)));
    vec![
        Bad { body: truncated.into_bytes(), ..bad("malformed JSON", 901, &Value::Null, 400, "malformed_json") },
        bad(
            "a national id number as a JSON number",
            902,
            &party_with(902, |p| p["national_id"]["number"] = json!(739_100_902)),
            422,
            "invalid_body",
        ),
        bad("phones as a string", 903, &party_with(903, |p| p["phones"] = json!("+573157300903")), 422, "invalid_body")
            .offending("+573157300903"),
        bad("an unknown field", 904, &party_with(904, |p| p["colour"] = json!("magenta-7391904")), 422, "invalid_body")
            .offending("magenta-7391904")
            .says("colour"),
        bad("no Content-Type", 905, &party(905), 415, "unsupported_media_type").content_type(None),
        bad("text/plain", 906, &party(906), 415, "unsupported_media_type").content_type(Some("text/plain")),
        bad("a body of about 2 MiB", 908, &oversize, 413, "payload_too_large"),
        bad(
            "an invalid phone",
            909,
            &party_with(909, |p| p["phones"][0]["number"] = json!("+579917391009")),
            422,
            "invalid_phone",
        )
        .offending("9917391009")
        .says("phones[0].number"),
        bad(
            "an invalid e-mail",
            910,
            &party_with(910, |p| p["emails"][0]["address"] = json!("zq.bad7391910@")),
            422,
            "invalid_email",
        )
        .offending("zq.bad7391910")
        .says("emails[0].address"),
        bad(
            "a CC with a leading zero",
            911,
            &party_with(911, |p| p["national_id"]["number"] = json!("0739100911")),
            422,
            "invalid_national_id",
        )
        .offending("0739100911"),
        bad(
            "a NIT with a wrong check digit",
            912,
            // 900123456 has check digit 8 under the DIAN rule.
            &party_with(912, |p| p["national_id"] = json!({"type": "NIT", "number": "9001234561"})),
            422,
            "invalid_national_id",
        )
        .offending("9001234561")
        .says("check digit"),
        bad(
            "a Mexican id type for a Colombian party",
            913,
            &party_with(913, |p| p["national_id"] = json!({"type": "CURP", "number": "GOMA850412HDFRRN05"})),
            422,
            "unknown_id_type",
        )
        .offending("GOMA850412HDFRRN05"),
        bad("jurisdiction AR", 914, &party_with(914, |p| p["jurisdiction"] = json!("AR")), 422, "unknown_jurisdiction"),
        bad(
            "MX without a timezone",
            915,
            &party_with(915, |p| {
                p["jurisdiction"] = json!("MX");
                p["national_id"] = json!({"type": "RFC", "number": "GOMA850412AB1"});
            }),
            422,
            "timezone_required",
        ),
        bad(
            "US without a timezone",
            916,
            &party_with(916, |p| {
                p["jurisdiction"] = json!("US");
                p["national_id"] = json!({"type": "SSN", "number": "123456789"});
            }),
            422,
            "timezone_required",
        ),
        bad(
            "CO in a Mexican zone",
            917,
            &party_with(917, |p| p["timezone"] = json!("America/Mexico_City")),
            422,
            "invalid_timezone",
        ),
        bad(
            "a negative amount in an inline obligation",
            918,
            &party_with(918, |p| {
                let mut obligation = inline_obligation("OBL-918");
                obligation["principal"] = json!("-73910.18");
                p["obligations"] = json!([obligation]);
            }),
            422,
            "invalid_amount",
        )
        .offending("73910.18")
        .says("obligations[0].principal"),
        bad(
            "a date of birth in the future",
            919,
            &party_with(919, |p| p["date_of_birth"] = json!("2999-07-19")),
            422,
            "invalid_date",
        )
        .offending("2999-07-19"),
        bad(
            "two phones with the same element id",
            920,
            &party_with(920, |p| p["phones"][1]["id"] = json!("mobile")),
            422,
            "duplicate_element_id",
        ),
        bad(
            "a valid holder with an invalid guarantor",
            921,
            &party_with(921, |p| {
                let mut guarantor = party(922);
                guarantor["national_id"]["number"] = json!("0739100922");
                let mut obligation = inline_obligation("OBL-921");
                obligation["co_parties"] = json!([{"role": "guarantor", "party": guarantor}]);
                p["obligations"] = json!([obligation]);
            }),
            422,
            "invalid_national_id",
        )
        .offending("0739100922")
        .offending("zq.wyvern922")
        .says("co_parties[0]"),
    ]
}

/// Asserts the error shape of a refusal and that it names none of `secrets`.
async fn check_refusal(response: reqwest::Response, at: &str, status: u16, code: &str, secrets: &[String]) -> Value {
    let got = response.status();
    let header_id = response.headers().get("x-request-id").map(|v| v.to_str().unwrap().to_string());
    let text = response.text().await.unwrap();
    assert!(!got.is_server_error(), "{at}: a 5xx for bad input: {got} {text}");
    assert_eq!(got.as_u16(), status, "{at}: {text}");
    let body: Value = serde_json::from_str(&text).unwrap_or_else(|e| panic!("{at}: not JSON ({e}): {text}"));
    assert_eq!(body["error"]["code"], code, "{at}: {text}");
    assert!(body["error"]["message"].as_str().is_some_and(|m| !m.is_empty()), "{at}: no message: {text}");
    let request_id = body["error"]["request_id"].as_str().unwrap_or_default();
    assert!(!request_id.is_empty() && request_id != "-", "{at}: no request id: {text}");
    assert_eq!(header_id.as_deref(), Some(request_id), "{at}: body and header name the same request");
    for secret in secrets {
        assert!(!text.contains(secret.as_str()), "{at}: the answer echoes {secret}: {text}");
    }
    body
}

#[tokio::test]
async fn every_bad_party_gets_its_stable_code_without_echoing_values_or_writing_a_row() {
    let app = spawn_app().await;
    app.create_party(&party(900)).await;
    for case in bad_parties() {
        let before = app.row_counts().await;
        let mut request = app.as_role(Role::Ingest, "ingest", Method::POST, "/v1/parties");
        if let Some(content_type) = case.content_type {
            request = request.header(CONTENT_TYPE, content_type);
        }
        let response = request.body(case.body.clone()).send().await.unwrap();
        let mut secrets = party_secrets(case.n);
        secrets.extend(case.offending.iter().cloned());
        let body = check_refusal(response, case.name, case.status, case.code, &secrets).await;
        if let Some(text) = case.message_contains {
            let message = body["error"]["message"].as_str().unwrap();
            assert!(message.contains(text), "{}: message should mention {text}: {message}", case.name);
        }
        assert_eq!(app.row_counts().await, before, "{}: a refused request wrote rows", case.name);
    }
    assert_eq!(app.count("parties").await, 1, "only the valid party exists");
    app.stop().await;
}

struct Refusal {
    name: &'static str,
    method: Method,
    path: String,
    token: Option<String>,
    purpose: Option<&'static str>,
    status: u16,
    code: &'static str,
    action: &'static str,
    role: Option<&'static str>,
    purpose_recorded: Option<&'static str>,
}

#[tokio::test]
async fn authentication_and_purpose_refusals_are_answered_and_audited_once_each() {
    let app = spawn_app().await;
    let existing = app.create_party(&party(930)).await;
    let ingest = Some(app.tokens[&Role::Ingest].clone());
    let parties = "/v1/parties".to_string();
    let refusal = |name, token: &Option<String>, purpose, status, code| Refusal {
        name,
        method: Method::POST,
        path: parties.clone(),
        token: token.clone(),
        purpose,
        status,
        code,
        action: "party.write",
        role: if status == 401 { None } else { Some("ingest") },
        purpose_recorded: None,
    };
    let cases = vec![
        refusal("no token", &None, Some("ingest"), 401, "unauthenticated"),
        refusal(
            "an unknown token",
            &Some("cust_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA".to_string()),
            Some("ingest"),
            401,
            "unauthenticated",
        ),
        refusal("a token that is not ours", &Some("xyz".into()), Some("ingest"), 401, "unauthenticated"),
        refusal("no X-Purpose", &ingest, None, 400, "purpose_required"),
        refusal("an unknown purpose", &ingest, Some("marketing"), 400, "unknown_purpose"),
        Refusal {
            purpose_recorded: Some("collection"),
            ..refusal("a purpose the role may not declare", &ingest, Some("collection"), 403, "purpose_not_allowed")
        },
        Refusal {
            name: "an agent reading for a data-subject request",
            method: Method::GET,
            path: format!("/v1/parties/{existing}"),
            token: Some(app.tokens[&Role::Agent].clone()),
            purpose: Some("dsr"),
            status: 403,
            code: "purpose_not_allowed",
            action: "party.read",
            role: Some("agent"),
            purpose_recorded: Some("dsr"),
        },
    ];
    for case in cases {
        let before = app.row_counts().await;
        let audit_before = app.audit_count().await;
        let mut request = app.http.request(case.method.clone(), format!("{}{}", app.base, case.path));
        if let Some(token) = &case.token {
            request = request.bearer_auth(token);
        }
        if let Some(purpose) = case.purpose {
            request = request.header("X-Purpose", purpose);
        }
        if case.method == Method::POST {
            request = request.json(&party(931));
        }
        let response = request.send().await.unwrap();
        let mut secrets = party_secrets(931);
        secrets.extend(party_secrets(930));
        check_refusal(response, case.name, case.status, case.code, &secrets).await;
        assert_eq!(app.row_counts().await, before, "{}: a refused request wrote rows", case.name);
        assert_eq!(app.audit_count().await, audit_before + 1, "{}: exactly one audit record", case.name);
        let (outcome, error_code, action, recorded_role, recorded_purpose): (
            String,
            Option<String>,
            String,
            Option<String>,
            Option<String>,
        ) = sqlx::query_as(
            "SELECT outcome, error_code, action, role, purpose FROM audit_records ORDER BY seq DESC LIMIT 1",
        )
        .fetch_one(app.db.reader())
        .await
        .unwrap();
        assert_eq!(outcome, "denied", "{}", case.name);
        assert_eq!(error_code.as_deref(), Some(case.code), "{}", case.name);
        assert_eq!(action, case.action, "{}", case.name);
        assert_eq!(recorded_role.as_deref(), case.role, "{}", case.name);
        assert_eq!(recorded_purpose.as_deref(), case.purpose_recorded, "{}", case.name);
    }
    app.stop().await;
}

#[tokio::test]
async fn a_refused_rectification_changes_nothing() {
    let app = spawn_app().await;
    let id = app.create_party(&party(940)).await;
    let path = format!("/v1/parties/{id}");
    let (status, original) = app.read_party(Role::Compliance, "compliance_review", &id).await;
    assert_eq!(status, 200, "{original}");
    let cases = [
        ("an unknown field", json!({"full_name": "Ximena Nueva Ortega", "colour": "magenta"}), "invalid_body"),
        ("a new jurisdiction", json!({"jurisdiction": "MX", "full_name": "Ximena Nueva Ortega"}), "invalid_body"),
        ("a name of the wrong type", json!({"full_name": 7_391_940}), "invalid_body"),
        ("an invalid phone", json!({"phones": [{"id": "mobile", "number": "+579917391940"}]}), "invalid_phone"),
        ("a zone of another jurisdiction", json!({"timezone": "America/Mexico_City"}), "invalid_timezone"),
    ];
    for (name, patch, code) in cases {
        let before = app.row_counts().await;
        let response =
            app.as_role(Role::Compliance, "compliance_review", Method::PATCH, &path).json(&patch).send().await.unwrap();
        let secrets = ["Ximena".to_string(), "9917391940".to_string(), "7391940".to_string()];
        check_refusal(response, name, 422, code, &secrets).await;
        assert_eq!(app.row_counts().await, before, "{name}: a refused rectification wrote rows");
        let (_, now) = app.read_party(Role::Compliance, "compliance_review", &id).await;
        assert_eq!(now, original, "{name}: the party changed");
    }
    // The same change without the bad part goes through, so the comparison above can fail.
    let response = app
        .as_role(Role::Compliance, "compliance_review", Method::PATCH, &path)
        .json(&json!({"full_name": "Ximena Nueva Ortega"}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let (_, now) = app.read_party(Role::Compliance, "compliance_review", &id).await;
    assert_eq!(now["full_name"], "Ximena Nueva Ortega");
    app.stop().await;
}
