//! The proof package (Decreto 1377 art. 8) verifies offline — the real binary, nothing but
//! the package and two verifier keys — against a signed audit checkpoint; a consent row
//! edited in the database makes it fail, and the gateway then refuses with
//! `integrity_error` instead of sending it.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use crate::consent_support::*;
use crate::helpers::*;
use base64::Engine;
use custodia::access::Role;
use custodia::audit::signer::AuditSigner;
use custodia::consent::proof::{self, key, ProofKeys};
use custodia::db::Backend;
use custodia::ids::{PartyId, TenantId};
use serde_json::{json, Value};
use std::path::Path;
use std::process::Command;

const BIN: &str = env!("CARGO_BIN_EXE_custodia");

/// (consent-proof verifier key, audit verifier key) of the test gateway.
fn verifier_keys(app: &TestApp) -> (String, String) {
    let proof = key::read_key(app.config.consent.proof_key_file.as_deref().unwrap()).unwrap();
    let audit = custodia::audit::signer::read_key(app.config.audit.signing_key_file.as_deref().unwrap()).unwrap();
    (proof.verifier().to_text(), audit.verifier().to_text())
}

/// Runs `custodia consent verify-proof`; returns (success, stdout + stderr).
fn verify_offline(file: &Path, key: &str, audit_key: &str) -> (bool, String) {
    let output = Command::new(BIN)
        .args(["consent", "verify-proof"])
        .arg(file)
        .args(["--key", key, "--audit-key", audit_key])
        .output()
        .unwrap();
    let text = format!("{}{}", String::from_utf8_lossy(&output.stdout), String::from_utf8_lossy(&output.stderr));
    (output.status.success(), text)
}

/// `custodia --config FILE consent public-key` for the test gateway's key.
fn cli_public_key(app: &TestApp) -> String {
    let config = app.dir.path().join("custodia.toml");
    let text = format!(
        "database_url = \"{}\"\nmaster_key_file = \"{}\"\nconsent = {{ proof_key_file = \"{}\" }}\n",
        app.database_url,
        app.key_file.display(),
        app.config.consent.proof_key_file.as_ref().unwrap().display()
    );
    std::fs::write(&config, text).unwrap();
    let output = Command::new(BIN).arg("--config").arg(&config).args(["consent", "public-key"]).output().unwrap();
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    String::from_utf8(output.stdout).unwrap().trim().to_string()
}

async fn get_proof(app: &TestApp, party: &str) -> (u16, Vec<u8>) {
    let response = app.get(Role::Compliance, "dsr", &format!("/v1/parties/{party}/consents/proof")).await;
    (response.status().as_u16(), response.bytes().await.unwrap().to_vec())
}

/// A party with a purpose-level grant, a channel grant and its revocation, a
/// special-hours artefact and a served notice.
async fn ledger_with_history(app: &TestApp) -> (String, String) {
    let notice = standard_notice(app).await;
    let (party, _) = party_with_obligation(app, 51, "microcredit", "delinquent").await;
    let contract = (chrono::Utc::now() - chrono::Duration::days(40)).date_naive().to_string();
    let special = json!({
        "action": "grant", "kind": "special_hours", "purpose": "collection", "contract_date": contract,
        "hours": {"days": ["sat"], "from": "15:00", "to": "17:00"},
        "evidence": {"method": "web_form", "notice_hash": notice, "captured_at": now(), "captured_by": "portal",
            "source_reference": "FORM-88", "document_sha256": "12".repeat(32)}
    });
    for body in [
        grant("data_processing", None, &notice),
        grant("collection", Some("sms"), &notice),
        revoke("collection", Some("sms")),
        special,
    ] {
        let (status, answer) = post_consent(app, &party, &body).await;
        assert_eq!(status, 201, "{answer}");
    }
    let served = json!({"notice_hash": notice, "method": "web_form", "served_at": now(), "served_by": "portal", "source_reference": "FORM-88"});
    let response = app.post_json(Role::Ingest, "ingest", &format!("/v1/parties/{party}/served-notices"), &served).await;
    assert_eq!(response.status(), 201);
    (party, notice)
}

#[tokio::test]
async fn a_proof_package_verifies_offline_against_a_signed_audit_checkpoint() {
    let app = spawn_app().await;
    let (party, notice) = ledger_with_history(&app).await;
    let (status, bytes) = get_proof(&app, &party).await;
    assert_eq!(status, 200, "{}", String::from_utf8_lossy(&bytes));
    let package: Value = serde_json::from_slice(&bytes).unwrap();
    assert_eq!(package["format"], "custodia-consent-proof/v1");
    assert_eq!(package["party_id"], party.as_str());
    let events = package["events"].as_array().unwrap();
    assert_eq!(events.len(), 4);
    let (_, ledger) = consents(&app, &party).await;
    for (proven, stored) in events.iter().zip(ledger["history"].as_array().unwrap()) {
        assert_eq!(&proven["event"], stored, "the package holds each event exactly as recorded");
        let attested = base64::engine::general_purpose::STANDARD
            .decode(proven["audit"]["record"]["evidence_sha256"].as_str().unwrap())
            .unwrap();
        assert_eq!(hex::encode(attested), stored["sha256"].as_str().unwrap());
    }
    assert_eq!(package["notices"][0]["content_hash"], notice.as_str());
    assert!(package["notices"][0]["text"].as_str().unwrap().starts_with("Autorizo"));
    assert_eq!(package["notices_served"].as_array().unwrap().len(), 1);
    assert!(package["checkpoint"].as_str().unwrap().starts_with("custodia.local/audit/acme\n"));
    // The delivery itself is audited, attesting exactly the bytes delivered.
    let delivered: Vec<u8> = sqlx::query_scalar(
        "SELECT evidence FROM audit_records WHERE action = 'consent.proof' AND resource_id = $1 AND outcome = 'allowed'",
    )
    .bind(&party)
    .fetch_one(app.db.reader())
    .await
    .unwrap();
    assert_eq!(delivered, custodia::keys::crypto::sha256(&bytes).to_vec());

    let file = app.dir.path().join("proof.json");
    std::fs::write(&file, &bytes).unwrap();
    let (key, audit_key) = verifier_keys(&app);
    assert_eq!(cli_public_key(&app), key, "`custodia consent public-key` prints the verifier key");
    let (ok, text) = verify_offline(&file, &key, &audit_key);
    assert!(ok, "{text}");
    assert!(text.contains("proof OK") && text.contains("4 consent events, 1 notices served, 1 notices"), "{text}");

    // Each key has one purpose: the audit key does not sign packages, nor the proof key checkpoints.
    let (ok, text) = verify_offline(&file, &audit_key, &audit_key);
    assert!(!ok && text.contains("signature: does not verify"), "{text}");
    let (ok, text) = verify_offline(&file, &key, &key);
    assert!(!ok && text.contains("checkpoint: signature does not verify"), "{text}");
    // Editing the file after signing is caught.
    let mut edited = package.clone();
    edited["events"][1]["event"]["captured_by"] = json!("agent-99");
    std::fs::write(&file, serde_json::to_vec(&edited).unwrap()).unwrap();
    let (ok, text) = verify_offline(&file, &key, &audit_key);
    assert!(!ok && text.contains("it signs another package"), "{text}");
    app.stop().await;
}

async fn allow_updates(app: &TestApp) {
    let statement = match app.backend() {
        Backend::Sqlite => "DROP TRIGGER consent_events_no_update",
        Backend::Postgres => "ALTER TABLE consent_events DISABLE TRIGGER consent_events_append_only",
    };
    sql(app, &[statement]).await;
}

#[tokio::test]
async fn editing_a_consent_row_in_the_database_makes_the_proof_fail_and_the_gateway_answers_integrity_error() {
    let app = spawn_app().await;
    let (party, _) = ledger_with_history(&app).await;
    assert_eq!(get_proof(&app, &party).await.0, 200, "the untouched ledger proves");
    let tamper = format!("UPDATE consent_events SET captured_by = 'agent-99' WHERE party_id = '{party}' AND seq = 2");
    {
        let mut tx = app.db.begin_write().await.unwrap();
        assert!(sqlx::query(&tamper).execute(&mut *tx).await.is_err(), "the ledger refuses updates by itself");
    }
    // Someone with database access drops the guard and rewrites who captured a grant.
    allow_updates(&app).await;
    sql(&app, &[&tamper]).await;

    let (status, body) = get_proof(&app, &party).await;
    let body: Value = serde_json::from_slice(&body).unwrap();
    assert_eq!((status, body["error"]["code"].as_str()), (500, Some("integrity_error")), "{body}");
    let (outcome, code): (String, String) = sqlx::query_as(
        "SELECT outcome, error_code FROM audit_records WHERE action = 'consent.proof' AND resource_id = $1 ORDER BY seq DESC LIMIT 1",
    )
    .bind(&party)
    .fetch_one(app.db.reader())
    .await
    .unwrap();
    assert_eq!((outcome.as_str(), code.as_str()), ("failed", "integrity_error"));
    let (status, body) = consents(&app, &party).await;
    assert_eq!((status, body["error"]["code"].as_str()), (500, Some("integrity_error")), "{body}");

    // The package such a database yields, built without the gateway's own check, fails
    // offline and says which event and why.
    let audit = AuditSigner::load(&app.config.audit).unwrap();
    let signer = key::ProofSigner::new(key::read_key(app.config.consent.proof_key_file.as_deref().unwrap()).unwrap());
    let keys = ProofKeys { proof: &signer, audit: &audit };
    let mut conn = app.db.reader().acquire().await.unwrap();
    let tenant = TenantId::parse(TENANT).unwrap();
    let party_id = PartyId::parse(&party).unwrap();
    let package = proof::assemble(&mut conn, &keys, &tenant, &party_id, "2026-01-01T00:00:00.000000Z").await.unwrap();
    let checked = proof::build(&mut conn, &keys, &tenant, &party_id, "2026-01-01T00:00:00.000000Z").await;
    assert!(matches!(checked, Err(proof::ProofError::Integrity(_))), "{checked:?}");
    drop(conn);
    let file = app.dir.path().join("tampered-proof.json");
    std::fs::write(&file, serde_json::to_vec(&package).unwrap()).unwrap();
    let (key, audit_key) = verifier_keys(&app);
    let (ok, text) = verify_offline(&file, &key, &audit_key);
    assert!(!ok, "{text}");
    assert!(text.contains("events[1] (seq 2): its SHA-256 is not the hash its audit record attests"), "{text}");
    app.stop().await;
}

#[tokio::test]
async fn rewriting_a_consent_row_and_its_stored_hash_together_still_fails_the_proof() {
    let app = spawn_app().await;
    let (party, _) = ledger_with_history(&app).await;
    // Turn the revocation (seq 3) into a grant and store the matching hash beside it:
    // only the audit record, sealed into a signed checkpoint, still says what happened.
    let history = consents(&app, &party).await.1;
    let mut forged = history["history"][2].clone();
    forged["action"] = json!("grant");
    let event: custodia::consent::event::ConsentEventJson = serde_json::from_value(forged).unwrap();
    let hash = hex::encode(event.to_event().unwrap().sha256());
    allow_updates(&app).await;
    let (blob, cast) = match app.backend() {
        Backend::Sqlite => (format!("X'{hash}'"), ""),
        Backend::Postgres => (format!("'\\x{hash}'"), "::bytea"),
    };
    sql(
        &app,
        &[&format!(
            "UPDATE consent_events SET action = 'grant', sha256 = {blob}{cast} WHERE party_id = '{party}' AND seq = 3"
        )],
    )
    .await;
    let (_, ledger) = consents(&app, &party).await;
    assert_eq!(status_of(&ledger, "authorization", "collection", Some("sms")).as_deref(), Some("granted"));
    let (status, body) = get_proof(&app, &party).await;
    let body: Value = serde_json::from_slice(&body).unwrap();
    assert_eq!((status, body["error"]["code"].as_str()), (500, Some("integrity_error")), "{body}");
    app.stop().await;
}

#[tokio::test]
async fn deleting_the_latest_consent_row_is_caught_by_the_gateway_before_it_sends_a_proof() {
    let app = spawn_app().await;
    let (party, _) = ledger_with_history(&app).await;
    let drop_guard = match app.backend() {
        Backend::Sqlite => "DROP TRIGGER consent_events_no_delete",
        Backend::Postgres => "ALTER TABLE consent_events DISABLE TRIGGER consent_events_append_only",
    };
    // The last event is gone: the seq run 1..3 still looks whole to the package alone.
    sql(&app, &[drop_guard, &format!("DELETE FROM consent_events WHERE party_id = '{party}' AND seq = 4")]).await;
    let (status, body) = get_proof(&app, &party).await;
    let body: Value = serde_json::from_slice(&body).unwrap();
    assert_eq!((status, body["error"]["code"].as_str()), (500, Some("integrity_error")), "{body}");
    app.stop().await;
}
