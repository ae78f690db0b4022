//! The role × purpose × field matrix of `policies/access.toml`, checked over HTTP: every
//! role, every purpose, every personal field, against the policy the gateway ships with.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use crate::helpers::*;
use custodia::access::{AccessPolicy, PartyField, Purpose, Role, Visibility};
use custodia::vault::mask::{mask_email, mask_name, mask_national_id, mask_phone};
use serde_json::{json, Map, Value};

/// Keys a party view carries besides the personal fields.
const NON_PERSONAL_KEYS: &[&str] = &["id", "jurisdiction", "timezone", "visibility", "created_at", "updated_at"];

const SEARCHERS: &[Role] = &[Role::Admin, Role::Compliance, Role::Agent, Role::Dialer];

/// `[{id, value}]` of a submitted list, ordered by element id as the gateway returns it,
/// with `mask` applied to each value.
fn list(submitted: &Value, key: &str, value_key: &str, mask: impl Fn(&str) -> String) -> Value {
    let mut items: Vec<(String, String)> = submitted[key]
        .as_array()
        .unwrap()
        .iter()
        .map(|item| (item["id"].as_str().unwrap().to_string(), item[value_key].as_str().unwrap().to_string()))
        .collect();
    items.sort();
    Value::Array(items.into_iter().map(|(id, value)| json!({"id": id, value_key: mask(&value)})).collect())
}

/// What a caller with `visibility` must see of `field` of the submitted party; `None`
/// when the key must be absent.
fn expected(field: PartyField, visibility: Visibility, submitted: &Value) -> Option<Value> {
    let clear = |s: &str| s.to_string();
    let text = |key: &str| submitted[key].as_str().unwrap().to_string();
    match (field, visibility) {
        (_, Visibility::None) => None,
        (PartyField::ExternalRef, Visibility::Clear) => Some(json!(text("external_ref"))),
        (PartyField::ExternalRef, Visibility::Masked) => Some(json!(mask_national_id(&text("external_ref")))),
        (PartyField::FullName, Visibility::Clear) => Some(json!(text("full_name"))),
        (PartyField::FullName, Visibility::Masked) => Some(json!(mask_name(&text("full_name")))),
        (PartyField::NationalId, Visibility::Clear) => Some(submitted["national_id"].clone()),
        (PartyField::NationalId, Visibility::Masked) => Some(json!({
            "type": submitted["national_id"]["type"],
            "number": mask_national_id(submitted["national_id"]["number"].as_str().unwrap()),
        })),
        (PartyField::Phones, Visibility::Clear) => Some(list(submitted, "phones", "number", clear)),
        (PartyField::Phones, Visibility::Masked) => Some(list(submitted, "phones", "number", mask_phone)),
        (PartyField::Emails, Visibility::Clear) => Some(list(submitted, "emails", "address", clear)),
        (PartyField::Emails, Visibility::Masked) => Some(list(submitted, "emails", "address", mask_email)),
        (PartyField::Address, Visibility::Clear) => Some(submitted["address"].clone()),
        (PartyField::Address, Visibility::Masked) => {
            let address = &submitted["address"];
            Some(json!({
                "line1": "***",
                "city": address["city"],
                "region": address["region"],
                "country": address["country"],
            }))
        }
        (PartyField::DateOfBirth, Visibility::Clear) => Some(json!(text("date_of_birth"))),
        (PartyField::DateOfBirth, Visibility::Masked) => Some(json!(format!("{}-**-**", &text("date_of_birth")[..4]))),
    }
}

/// Checks one party view against the policy for (role, purpose).
fn check_view(policy: &AccessPolicy, role: Role, purpose: Purpose, id: &str, submitted: &Value, view: &Value) {
    let at = format!("{role} / {purpose}");
    let object = view.as_object().unwrap_or_else(|| panic!("{at}: not an object: {view}"));
    assert_eq!(object["id"], id, "{at}");
    assert_eq!(object["jurisdiction"], "CO", "{at}");
    assert_eq!(object["timezone"], "America/Bogota", "{at}");
    let mut visibility = Map::new();
    for field in PartyField::ALL {
        let wanted = policy.visibility(role, purpose, *field);
        visibility.insert(field.as_str().to_string(), json!(wanted.as_str()));
        assert_eq!(object.get(field.as_str()).cloned(), expected(*field, wanted, submitted), "{at}: field {field}");
    }
    assert_eq!(object["visibility"], Value::Object(visibility), "{at}: visibility map");
    for key in object.keys() {
        let known = NON_PERSONAL_KEYS.contains(&key.as_str()) || PartyField::ALL.iter().any(|f| f.as_str() == key);
        assert!(known, "{at}: unexpected key `{key}` in {view}");
    }
}

#[tokio::test]
async fn every_role_sees_each_field_exactly_as_the_access_policy_says_for_every_purpose() {
    let app = spawn_app().await;
    let policy = AccessPolicy::default_policy().unwrap();
    let submitted = party(3);
    let id = app.create_party(&submitted).await;
    let mut allowed = 0;
    for role in Role::ALL {
        for purpose in Purpose::ALL {
            let (status, body) = app.read_party(*role, purpose.as_str(), &id).await;
            if !policy.may_declare(*role, *purpose) {
                assert_eq!(status, 403, "{role} / {purpose}: {body}");
                assert_eq!(body["error"]["code"], "purpose_not_allowed", "{role} / {purpose}");
                let text = body.to_string();
                for secret in party_secrets(3) {
                    assert!(!text.contains(&secret), "{role} / {purpose} refusal leaks {secret}: {text}");
                }
                continue;
            }
            allowed += 1;
            assert_eq!(status, 200, "{role} / {purpose}: {body}");
            check_view(&policy, *role, *purpose, &id, &submitted, &body);
            if SEARCHERS.contains(role) {
                let response = app
                    .post_json(*role, purpose.as_str(), "/v1/parties:search", &json!({"external_ref": "CRM-000003"}))
                    .await;
                assert_eq!(response.status(), 200, "{role} / {purpose} search");
                let found: Value = response.json().await.unwrap();
                let results = found["results"].as_array().unwrap();
                assert_eq!(results.len(), 1, "{role} / {purpose}: {found}");
                check_view(&policy, *role, *purpose, &id, &submitted, &results[0]);
            }
        }
    }
    assert!(allowed >= Role::ALL.len(), "every role may declare at least one purpose");
    app.stop().await;
}

#[tokio::test]
async fn agents_and_dialers_never_get_a_clear_phone_or_email_from_a_read_or_a_search() {
    let app = spawn_app().await;
    let policy = AccessPolicy::default_policy().unwrap();
    let submitted = party(5);
    let id = app.create_party(&submitted).await;
    let clear = ["3157300005", "6014400005", "zq.wyvern5"];
    let searches = [
        json!({"phone": "+573157300005"}),
        json!({"phone": "+576014400005"}),
        json!({"email": "zq.wyvern5@example.co"}),
        json!({"national_id": {"type": "CC", "number": "739100005"}}),
        json!({"external_ref": "CRM-000005"}),
    ];
    let mut checked = 0;
    for role in [Role::Agent, Role::Dialer] {
        for purpose in Purpose::ALL.iter().filter(|p| policy.may_declare(role, **p)) {
            let (status, body) = app.read_party(role, purpose.as_str(), &id).await;
            assert_eq!(status, 200, "{role} / {purpose}: {body}");
            let text = body.to_string();
            for value in clear {
                assert!(!text.contains(value), "{role} / {purpose} read shows {value}: {text}");
            }
            for search in &searches {
                let response = app.post_json(role, purpose.as_str(), "/v1/parties:search", search).await;
                assert_eq!(response.status(), 200, "{role} / {purpose} search {search}");
                let text = response.text().await.unwrap();
                let found: Value = serde_json::from_str(&text).unwrap();
                assert_eq!(
                    found["results"][0]["id"],
                    id.as_str(),
                    "{role} / {purpose} search {search} finds the party"
                );
                for value in clear {
                    assert!(!text.contains(value), "{role} / {purpose} search {search} shows {value}: {text}");
                }
                checked += 1;
            }
        }
    }
    assert_eq!(checked, 3 * searches.len(), "agent: collection and support; dialer: collection");
    app.stop().await;
}

#[tokio::test]
async fn only_roles_that_look_people_up_may_search() {
    let app = spawn_app().await;
    let policy = AccessPolicy::default_policy().unwrap();
    app.create_party(&party(6)).await;
    let search = json!({"national_id": {"type": "CC", "number": "739100006"}});
    for role in Role::ALL {
        let purpose = Purpose::ALL.iter().find(|p| policy.may_declare(*role, **p)).unwrap();
        let response = app.post_json(*role, purpose.as_str(), "/v1/parties:search", &search).await;
        let status = response.status();
        let body: Value = response.json().await.unwrap();
        if SEARCHERS.contains(role) {
            assert_eq!(status, 200, "{role}: {body}");
            assert_eq!(body["results"].as_array().unwrap().len(), 1, "{role}: {body}");
        } else {
            assert_eq!(status, 403, "{role}: {body}");
            assert_eq!(body["error"]["code"], "role_not_allowed", "{role}");
            assert!(!body.to_string().contains("739100006"), "{role}: {body}");
        }
    }
    app.stop().await;
}
