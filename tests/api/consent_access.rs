//! Every consent, notice and flag endpoint checks role and purpose, and every request —
//! allowed or refused — leaves exactly one audit record (about the party when it is a
//! party of the caller's tenant). The expected table is written out here, independently
//! of the constants in the code; README "Roles and purposes" states the same.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use crate::consent_support::*;
use crate::helpers::*;
use custodia::access::{AccessPolicy, Purpose, Role};
use reqwest::Method;
use serde_json::{json, Value};

use Purpose::{Collection, ComplianceReview, Dsr, Ingest as IngestPurpose, Support};
use Role::{Admin, Agent, Compliance, Ingest, Regulator};

struct Endpoint {
    method: Method,
    path: String,
    body: Option<Box<dyn Fn() -> Value>>,
    roles: &'static [Role],
    purposes: &'static [Purpose],
    /// Prefix of every audit action the endpoint records.
    family: &'static str,
    party: Option<String>,
}

const EDITORS: &[Role] = &[Admin, Compliance];
const EDIT_PURPOSES: &[Purpose] = &[ComplianceReview, Support];
const NOTICE_READERS: &[Role] = &[Admin, Compliance, Agent, Ingest, Regulator];
const CAPTURERS: &[Role] = &[Admin, Compliance, Agent, Ingest];
const CAPTURE_PURPOSES: &[Purpose] = &[Collection, Support, IngestPurpose, ComplianceReview, Dsr];
const LEDGER_READERS: &[Role] = &[Admin, Compliance, Agent];
const LEDGER_PURPOSES: &[Purpose] = &[Collection, Support, ComplianceReview, Dsr];
const PROVERS: &[Role] = &[Admin, Compliance, Regulator];
const PROOF_PURPOSES: &[Purpose] = &[Dsr, ComplianceReview];
const FLAGGERS: &[Role] = &[Admin, Compliance, Ingest];
const FLAG_PURPOSES: &[Purpose] = &[ComplianceReview, Dsr, IngestPurpose, Support];

fn endpoints(party: &str, notice_hash: &str, notice: &str, draft: &str) -> Vec<Endpoint> {
    let p = |suffix: &str| format!("/v1/parties/{party}/{suffix}");
    let hash = notice_hash.to_string();
    let hash2 = notice_hash.to_string();
    let e = |method, path: String, body: Option<Box<dyn Fn() -> Value>>, roles, purposes, family, about: bool| {
        Endpoint { method, path, body, roles, purposes, family, party: about.then(|| party.to_string()) }
    };
    vec![
        e(
            Method::POST,
            "/v1/notices".into(),
            Some(Box::new(
                || json!({"name": "matriz", "language": "es", "title": "t", "text": "x", "purposes": ["collection"]}),
            )),
            EDITORS,
            EDIT_PURPOSES,
            "notice.",
            false,
        ),
        e(Method::GET, "/v1/notices".into(), None, NOTICE_READERS, CAPTURE_PURPOSES, "notice.", false),
        e(Method::GET, format!("/v1/notices/{notice}"), None, NOTICE_READERS, CAPTURE_PURPOSES, "notice.", false),
        e(
            Method::PATCH,
            format!("/v1/notices/{draft}"),
            Some(Box::new(|| json!({"title": "otro"}))),
            EDITORS,
            EDIT_PURPOSES,
            "notice.",
            false,
        ),
        e(Method::POST, format!("/v1/notices/{draft}/publish"), None, EDITORS, EDIT_PURPOSES, "notice.", false),
        e(
            Method::POST,
            p("served-notices"),
            Some(Box::new(
                move || json!({"notice_hash": hash, "method": "app", "served_at": now(), "served_by": "app", "source_reference": "S-1"}),
            )),
            CAPTURERS,
            CAPTURE_PURPOSES,
            "notice.",
            true,
        ),
        e(
            Method::POST,
            p("consents"),
            Some(Box::new(move || grant("collection", Some("sms"), &hash2))),
            CAPTURERS,
            CAPTURE_PURPOSES,
            "consent.",
            true,
        ),
        e(Method::GET, p("consents"), None, LEDGER_READERS, LEDGER_PURPOSES, "consent.", true),
        e(Method::GET, p("consents/proof"), None, PROVERS, PROOF_PURPOSES, "consent.", true),
        e(
            Method::POST,
            p("flags"),
            Some(Box::new(|| json!({"action": "set", "flag": "do_not_contact", "reason": "titular_request"}))),
            FLAGGERS,
            FLAG_PURPOSES,
            "flag.",
            true,
        ),
        e(Method::GET, p("flags"), None, LEDGER_READERS, LEDGER_PURPOSES, "flag.", true),
    ]
}

/// The newest audit record: (action, outcome, error code, role, purpose, record id).
type Newest = (String, String, Option<String>, Option<String>, Option<String>, Vec<u8>);

async fn newest(app: &TestApp) -> Newest {
    sqlx::query_as(
        "SELECT action, outcome, error_code, role, purpose, record_id FROM audit_records ORDER BY seq DESC LIMIT 1",
    )
    .fetch_one(app.db.reader())
    .await
    .unwrap()
}

#[tokio::test]
async fn every_consent_notice_and_flag_endpoint_checks_role_and_purpose_and_audits_each_request_once() {
    let app = spawn_app().await;
    let policy = AccessPolicy::default_policy().unwrap();
    let notice_hash = standard_notice(&app).await;
    let notice: Value =
        answer(app.get(Role::Compliance, "compliance_review", "/v1/notices?state=published").await).await.1;
    let notice_id = notice["items"][0]["id"].as_str().unwrap().to_string();
    let draft = draft_notice(&app, "borrador", &["collection"], &[]).await;
    let party = app.create_party(&party(71)).await;
    let mut checked = 0;
    for endpoint in endpoints(&party, &notice_hash, &notice_id, draft["id"].as_str().unwrap()) {
        for role in Role::ALL {
            for purpose in Purpose::ALL {
                let at = format!("{} {} as {role} / {purpose}", endpoint.method, endpoint.path);
                let mut request = app.as_role(*role, purpose.as_str(), endpoint.method.clone(), &endpoint.path);
                if let Some(body) = &endpoint.body {
                    request = request.json(&body());
                }
                let before = app.audit_count().await;
                let (status, body) = answer(request.send().await.unwrap()).await;
                assert_eq!(app.audit_count().await, before + 1, "{at}: exactly one audit record");
                let (action, outcome, code, record_role, record_purpose, record_id) = newest(&app).await;
                assert!(action.starts_with(endpoint.family), "{at}: action {action}");
                assert_eq!(record_role.as_deref(), Some(role.as_str()), "{at}");
                assert_eq!(record_purpose.as_deref(), Some(purpose.as_str()), "{at}");
                // The middleware refuses a purpose the role may not declare at all; then the
                // endpoint checks the role, then whether it serves the purpose.
                let refusal = if !policy.may_declare(*role, *purpose) {
                    Some("purpose_not_allowed")
                } else if !endpoint.roles.contains(role) {
                    Some("role_not_allowed")
                } else if !endpoint.purposes.contains(purpose) {
                    Some("purpose_not_allowed")
                } else {
                    None
                };
                match refusal {
                    Some(expected) => {
                        assert_eq!((status, body["error"]["code"].as_str()), (403, Some(expected)), "{at}: {body}");
                        assert_eq!((outcome.as_str(), code.as_deref()), ("denied", Some(expected)), "{at}");
                    }
                    None => {
                        // Publishing twice is a 409 past the access checks; everything else succeeds.
                        let ok = (200..300).contains(&status) || (status == 409 && endpoint.path.ends_with("/publish"));
                        assert!(ok, "{at}: {status} {body}");
                        if let Some(party) = &endpoint.party {
                            let about: i64 = sqlx::query_scalar(
                                "SELECT COUNT(*) FROM audit_record_parties WHERE record_id = $1 AND party_id = $2",
                            )
                            .bind(&record_id)
                            .bind(party)
                            .fetch_one(app.db.reader())
                            .await
                            .unwrap();
                            assert_eq!(about, 1, "{at}: the record is about the party");
                        }
                        checked += 1;
                    }
                }
            }
        }
    }
    assert!(checked >= 40, "allowed combinations exercised: {checked}");
    app.stop().await;
}
