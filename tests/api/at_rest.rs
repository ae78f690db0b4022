//! DESIGN invariants 1 and 2 at rest: personal values are stored only as ciphertext, and
//! a ciphertext or wrapped key copied to another place fails to open — an integrity
//! error that releases nothing, never another party's (or field's) value.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use crate::helpers::*;
use custodia::access::Role;
use custodia::db::Backend;
use serde_json::{json, Value};
use sqlx::Row;

/// Copies one field ciphertext over another (both must exist).
async fn copy_ciphertext(app: &TestApp, from: (&str, &str, &str), to: (&str, &str, &str)) {
    let mut tx = app.db.begin_write().await.unwrap();
    let ciphertext: Vec<u8> = sqlx::query_scalar(
        "SELECT ciphertext FROM party_fields WHERE party_id = $1 AND field = $2 AND element_id = $3",
    )
    .bind(from.0)
    .bind(from.1)
    .bind(from.2)
    .fetch_one(&mut *tx)
    .await
    .unwrap();
    let updated =
        sqlx::query("UPDATE party_fields SET ciphertext = $1 WHERE party_id = $2 AND field = $3 AND element_id = $4")
            .bind(ciphertext)
            .bind(to.0)
            .bind(to.1)
            .bind(to.2)
            .execute(&mut *tx)
            .await
            .unwrap();
    assert_eq!(updated.rows_affected(), 1, "target field {to:?} exists");
    tx.commit().await.unwrap();
}

/// Reads a party as compliance review (every field in clear, so every field is decrypted).
async fn review(app: &TestApp, id: &str) -> (u16, Value) {
    app.read_party(Role::Compliance, "compliance_review", id).await
}

/// The read is refused as an integrity error and its body holds none of `secrets`.
fn assert_refused_as_integrity_error(what: &str, (status, body): &(u16, Value), secrets: &[String]) {
    assert_eq!(*status, 500, "{what}: {body}");
    assert_eq!(body["error"]["code"], "integrity_error", "{what}: {body}");
    let text = body.to_string();
    for secret in secrets {
        assert!(!text.contains(secret), "{what}: the refusal leaks {secret}: {text}");
    }
}

/// Creates parties 1 and 2 and checks both read back before anything is tampered with.
async fn two_parties(app: &TestApp) -> (String, String) {
    let a = app.create_party(&party(1)).await;
    let b = app.create_party(&party(2)).await;
    for (id, n) in [(&a, 1), (&b, 2)] {
        let (status, body) = review(app, id).await;
        assert_eq!(status, 200, "{body}");
        assert_eq!(body["national_id"]["number"], format!("{}", 739_100_000 + n));
    }
    (a, b)
}

#[tokio::test]
async fn a_phone_ciphertext_copied_to_another_party_is_an_integrity_error_not_that_phone() {
    let app = spawn_app_reading_the_database().await;
    let (a, b) = two_parties(&app).await;
    copy_ciphertext(&app, (&a, "phone", "mobile"), (&b, "phone", "mobile")).await;
    let read = review(&app, &b).await;
    assert_refused_as_integrity_error("B with A's mobile", &read, &party_secrets(1));
    assert!(!read.1.to_string().contains("+573157300001"), "{}", read.1);
    // A search that reaches the tampered party is refused the same way.
    let response = app
        .post_json(
            Role::Compliance,
            "compliance_review",
            "/v1/parties:search",
            &json!({"national_id": {"type": "CC", "number": "739100002"}}),
        )
        .await;
    let status = response.status().as_u16();
    let body: Value = response.json().await.unwrap();
    assert_refused_as_integrity_error("search reaching B", &(status, body), &party_secrets(1));
    // Both refusals leave a trace in the audit log, as failures.
    let failures: Vec<(String, Option<String>)> = sqlx::query_as(
        "SELECT action, resource_id FROM audit_records WHERE outcome = 'failed' AND error_code = 'integrity_error' ORDER BY seq",
    )
    .fetch_all(app.db.reader())
    .await
    .unwrap();
    assert_eq!(failures, vec![("party.read".to_string(), Some(b.clone())), ("party.search".to_string(), None)]);
    // The party the ciphertext came from is untouched.
    let (status, body) = review(&app, &a).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["phones"][1]["number"], "+573157300001");
    app.stop().await;
}

#[tokio::test]
async fn a_phone_ciphertext_moved_to_another_element_of_the_same_party_is_an_integrity_error() {
    let app = spawn_app_reading_the_database().await;
    let (a, _) = two_parties(&app).await;
    copy_ciphertext(&app, (&a, "phone", "mobile"), (&a, "phone", "home")).await;
    let read = review(&app, &a).await;
    assert_refused_as_integrity_error("A's mobile as A's home", &read, &party_secrets(1));
    app.stop().await;
}

#[tokio::test]
async fn a_ciphertext_moved_to_another_field_of_the_same_party_is_an_integrity_error() {
    let app = spawn_app_reading_the_database().await;
    let (a, _) = two_parties(&app).await;
    copy_ciphertext(&app, (&a, "full_name", ""), (&a, "email", "personal")).await;
    let read = review(&app, &a).await;
    assert_refused_as_integrity_error("A's name as A's e-mail", &read, &party_secrets(1));
    assert!(!read.1.to_string().contains("Zebulón"), "{}", read.1);
    app.stop().await;
}

#[tokio::test]
async fn a_wrapped_data_key_copied_to_another_party_is_an_integrity_error() {
    let app = spawn_app_reading_the_database().await;
    let (a, b) = two_parties(&app).await;
    let mut tx = app.db.begin_write().await.unwrap();
    let row = sqlx::query("SELECT key_id, tenant_key_version, wrapped FROM party_keys WHERE party_id = $1")
        .bind(&a)
        .fetch_one(&mut *tx)
        .await
        .unwrap();
    let (key_id, version, wrapped): (String, i64, Vec<u8>) =
        (row.get("key_id"), row.get("tenant_key_version"), row.get("wrapped"));
    let updated =
        sqlx::query("UPDATE party_keys SET key_id = $1, tenant_key_version = $2, wrapped = $3 WHERE party_id = $4")
            .bind(key_id)
            .bind(version)
            .bind(wrapped)
            .bind(&b)
            .execute(&mut *tx)
            .await
            .unwrap();
    assert_eq!(updated.rows_affected(), 1);
    tx.commit().await.unwrap();
    let read = review(&app, &b).await;
    assert_refused_as_integrity_error("B with A's data key", &read, &party_secrets(1));
    assert_refused_as_integrity_error("B with A's data key", &read, &party_secrets(2));
    let (status, body) = review(&app, &a).await;
    assert_eq!(status, 200, "{body}");
    app.stop().await;
}

/// Occurrences of any of `secrets` in `bytes`, for the failure message.
fn found_in(bytes: &[u8], secrets: &[String]) -> Vec<String> {
    secrets
        .iter()
        .filter(|secret| bytes.windows(secret.len()).any(|window| window == secret.as_bytes()))
        .cloned()
        .collect()
}

#[tokio::test]
async fn the_stored_bytes_hold_no_personal_value_of_the_parties_created() {
    let app = spawn_app().await;
    let mut ids = Vec::new();
    for n in 1..=5 {
        ids.push(app.create_party(&party(n)).await);
    }
    let secrets: Vec<String> = (1..=5).flat_map(party_secrets).collect();
    match app.backend() {
        Backend::Sqlite => {
            let path = app.database_url.strip_prefix("sqlite://").unwrap().split('?').next().unwrap().to_string();
            let mut bytes = std::fs::read(&path).unwrap();
            if let Ok(wal) = std::fs::read(format!("{path}-wal")) {
                bytes.extend_from_slice(&wal);
            }
            // The scan reads what was committed: the opaque ids are there in clear.
            for id in &ids {
                assert!(!found_in(&bytes, std::slice::from_ref(id)).is_empty(), "party {id} is not in the files read");
            }
            let leaked = found_in(&bytes, &secrets);
            assert!(leaked.is_empty(), "database file or WAL holds {leaked:?}");
        }
        Backend::Postgres => {
            let ciphertexts: Vec<Vec<u8>> =
                sqlx::query_scalar("SELECT ciphertext FROM party_fields").fetch_all(app.db.reader()).await.unwrap();
            let digests: Vec<Vec<u8>> =
                sqlx::query_scalar("SELECT digest FROM blind_indexes").fetch_all(app.db.reader()).await.unwrap();
            assert_eq!(ciphertexts.len(), 5 * 8, "eight sealed fields per party");
            assert_eq!(digests.len(), 5 * 5, "identity and contact digests per party");
            for bytes in ciphertexts.iter().chain(&digests) {
                let leaked = found_in(bytes, &secrets);
                assert!(leaked.is_empty(), "a stored value holds {leaked:?}");
            }
        }
    }
    app.stop().await;
}
