//! Erasure is real (DESIGN invariant 7, issue 4 point 5): after `POST
//! /v1/parties/{id}/erasure` the party answers 410 everywhere, search forgets it, the
//! SQLite file and WAL hold none of its bytes, and on PostgreSQL the wrapped key a dead
//! tuple or a backup may still hold stops opening once the scheduled rotation retired the
//! version it was wrapped under. The audit log keeps the opaque id and still verifies.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use crate::helpers::*;
use base64::Engine as _;
use custodia::access::Role;
use custodia::db::Backend;
use custodia::ids::{PartyId, TenantId};
use custodia::keys::keyring::Keyring;
use custodia::keys::{open_wrapped_party_key, KeyError, KeyService, TenantKeyPurpose, WrappedPartyKey};
use serde_json::{json, Value};
use sqlx::Row;
use std::collections::HashSet;

async fn stored_key(app: &TestApp, party: &str) -> WrappedPartyKey {
    let row = sqlx::query("SELECT key_id, tenant_key_version, wrapped FROM party_keys WHERE party_id = $1")
        .bind(party)
        .fetch_one(app.db.reader())
        .await
        .unwrap();
    WrappedPartyKey {
        key_id: row.get("key_id"),
        tenant_key_version: u32::try_from(row.get::<i64, _>("tenant_key_version")).unwrap(),
        wrapped: row.get("wrapped"),
    }
}

async fn blobs(app: &TestApp, sql: &str, party: &str) -> Vec<Vec<u8>> {
    sqlx::query_scalar(sql).bind(party).fetch_all(app.db.reader()).await.unwrap()
}

/// Every stored byte string of a party: wrapped key, field ciphertexts, blind-index digests.
async fn stored_bytes(app: &TestApp, party: &str) -> Vec<Vec<u8>> {
    let mut out = vec![stored_key(app, party).await.wrapped];
    out.extend(blobs(app, "SELECT ciphertext FROM party_fields WHERE party_id = $1", party).await);
    out.extend(blobs(app, "SELECT digest FROM blind_indexes WHERE party_id = $1", party).await);
    out
}

/// Audit records of requests (the key-job worker's own records left out).
async fn request_records(app: &TestApp) -> i64 {
    sqlx::query_scalar("SELECT COUNT(*) FROM audit_records WHERE action <> 'key.rotate.tenant'")
        .fetch_one(app.db.reader())
        .await
        .unwrap()
}

/// A request about the erased party answers 410 `party_erased`.
async fn assert_gone(what: &str, response: reqwest::Response) {
    let status = response.status().as_u16();
    let body: Value = response.json().await.unwrap_or(Value::Null);
    assert_eq!((status, body["error"]["code"].as_str()), (410, Some("party_erased")), "{what}: {body}");
}

#[tokio::test]
async fn an_erased_party_answers_410_everywhere_is_found_by_no_search_and_the_audit_log_still_verifies() {
    let app = spawn_app().await;
    let (erased, kept) = (app.create_party(&party(1)).await, app.create_party(&party(2)).await);
    let (status, receipt) = app.erase(&erased).await;
    assert_eq!(status, 200, "{receipt}");
    assert_eq!(receipt["party_id"], erased.as_str());
    assert_eq!(receipt["removed"]["data_key"], true);
    assert_eq!(receipt["removed"]["field_values"], 8, "{receipt}");
    assert_eq!(receipt["removed"]["blind_indexes"], 5, "{receipt}");
    assert_eq!(
        receipt["removed"]["fields"],
        json!(["address", "date_of_birth", "emails", "external_ref", "full_name", "national_id", "phones"])
    );
    assert_eq!(receipt["key_rotation"]["retire_below"], 2);
    for (table, column) in [("party_keys", "party_id"), ("party_fields", "party_id"), ("blind_indexes", "party_id")] {
        let left: i64 = sqlx::query_scalar(&format!("SELECT COUNT(*) FROM {table} WHERE {column} = $1"))
            .bind(&erased)
            .fetch_one(app.db.reader())
            .await
            .unwrap();
        assert_eq!(left, 0, "{table} rows of the erased party");
    }

    let path = format!("/v1/parties/{erased}");
    let audit_before = request_records(&app).await;
    assert_gone("read for review", app.get(Role::Compliance, "compliance_review", &path).await).await;
    assert_gone("read for collection", app.get(Role::Agent, "collection", &path).await).await;
    let patch =
        app.as_role(Role::Agent, "collection", reqwest::Method::PATCH, &path).json(&json!({"full_name": "X Y"}));
    assert_gone("rectification", patch.send().await.unwrap()).await;
    assert_gone("obligations", app.get(Role::Agent, "collection", &format!("{path}/obligations")).await).await;
    assert_gone("holds", app.get(Role::Compliance, "dsr", &format!("{path}/retention-holds")).await).await;
    let hold = json!({"basis": "Ley 1266 de 2008 art. 13", "starts_on": "2026-01-01"});
    assert_gone("new hold", app.post_json(Role::Compliance, "dsr", &format!("{path}/retention-holds"), &hold).await)
        .await;
    assert_gone("second erasure", app.post_json(Role::Compliance, "dsr", &format!("{path}/erasure"), &json!({})).await)
        .await;
    let obligation = json!({"external_ref": "OBL-9", "product": "credit_card", "currency": "COP", "principal": "1",
        "balance": "1", "due_date": "2026-09-15", "status": "current", "parties": [{"party_id": erased, "role": "holder"}]});
    assert_gone("new obligation", app.post_json(Role::Ingest, "ingest", "/v1/obligations", &obligation).await).await;
    for query in searches_for(1) {
        assert_eq!(app.search_ids(&query).await, Vec::<String>::new(), "search {query} finds nothing");
    }
    for query in searches_for(2) {
        assert_eq!(app.search_ids(&query).await, vec![kept.clone()], "the other party is still found by {query}");
    }
    assert_eq!(app.read_party(Role::Compliance, "compliance_review", &kept).await.0, 200);

    // Every 410 was audited about the party, with its code; the audit holds the opaque id.
    let refusals: i64 = sqlx::query_scalar(
        "SELECT COUNT(*) FROM audit_records r JOIN audit_record_parties p ON p.record_id = r.record_id \
         WHERE p.party_id = $1 AND r.error_code = 'party_erased' AND r.status = 410",
    )
    .bind(&erased)
    .fetch_one(app.db.reader())
    .await
    .unwrap();
    assert_eq!(refusals, 8, "each 410 is in the party's chain (the obligation refused for naming it too)");
    let added = request_records(&app).await - audit_before;
    assert_eq!(added, 8 + 8 + 1, "one record per request (8 refusals, 8 searches, 1 read)");
    let row =
        sqlx::query("SELECT fields, evidence FROM audit_records WHERE action = 'party.erase' AND resource_id = $1")
            .bind(&erased)
            .fetch_one(app.db.reader())
            .await
            .unwrap();
    let evidence: Vec<u8> = row.get("evidence");
    let expected = base64::engine::general_purpose::STANDARD.decode(receipt["evidence_sha256"].as_str().unwrap());
    assert_eq!(evidence, expected.unwrap(), "the erasure record attests the receipt");
    let fields: String = row.get("fields");
    assert!(fields.contains("data_key") && !fields.contains("Wyvernsson"), "{fields}");

    // The person can be ingested again: nothing is left to recognise them by.
    assert_ne!(app.create_party(&party(1)).await, erased);

    let (code, text) = app.cli(&["audit", "seal"]).await;
    assert_eq!(code, 0, "{text}");
    let (code, text) = app.cli(&["audit", "verify", "--tenant", TENANT]).await;
    assert_eq!(code, 0, "audit verify after the erasure: {text}");
    assert!(text.contains(&format!("log {TENANT}: OK")), "{text}");
    app.stop().await;
}

/// Every 16-byte window (at 4-byte steps) of each of `blobs` that occurs in `haystack`.
fn remnants(haystack: &[u8], blobs: &[Vec<u8>]) -> Vec<String> {
    const W: usize = 16;
    let windows: HashSet<&[u8]> = haystack.windows(W).collect();
    let mut found = Vec::new();
    for (i, blob) in blobs.iter().enumerate() {
        for start in (0..blob.len().saturating_sub(W - 1)).step_by(4) {
            if windows.contains(&blob[start..start + W]) {
                found.push(format!("blob {i} at {start}"));
            }
        }
    }
    found
}

fn sqlite_bytes(app: &TestApp) -> Vec<u8> {
    let path = app.database_url.strip_prefix("sqlite://").unwrap().split('?').next().unwrap().to_string();
    let mut bytes = std::fs::read(&path).unwrap();
    if let Ok(wal) = std::fs::read(format!("{path}-wal")) {
        bytes.extend_from_slice(&wal);
    }
    bytes
}

#[tokio::test]
async fn after_erasure_no_byte_of_the_party_is_left_in_the_sqlite_file_or_its_wal() {
    let app = spawn_app().await;
    if app.backend() != Backend::Sqlite {
        return; // PostgreSQL keeps dead tuples: see the rotation test below.
    }
    let on: i64 = sqlx::query_scalar("PRAGMA secure_delete").fetch_one(app.db.reader()).await.unwrap();
    assert_eq!(on, 1, "secure_delete zeroes what a delete frees");
    let (erased, kept) = (app.create_party(&party(1)).await, app.create_party(&party(2)).await);
    // A rectification first: the replaced phone ciphertexts are freed pages' business too.
    let mut bytes = stored_bytes(&app, &erased).await;
    let patch = json!({"phones": [{"id": "mobile", "number": "+573159990001"}]});
    let response =
        app.as_role(Role::Agent, "collection", reqwest::Method::PATCH, &format!("/v1/parties/{erased}")).json(&patch);
    assert_eq!(response.send().await.unwrap().status(), 200);
    bytes.extend(stored_bytes(&app, &erased).await);
    let kept_key = stored_key(&app, &kept).await.wrapped;
    assert!(!remnants(&sqlite_bytes(&app), &bytes).is_empty(), "the scan sees the party before its erasure");

    assert_eq!(app.erase(&erased).await.0, 200);
    let files = sqlite_bytes(&app);
    let left = remnants(&files, &bytes);
    assert!(left.is_empty(), "the database file or WAL still holds bytes of the erased party: {left:?}");
    let mut secrets = party_secrets(1);
    secrets.push("+573159990001".into());
    for secret in &secrets {
        assert!(!files.windows(secret.len()).any(|w| w == secret.as_bytes()), "{secret} is in the files");
    }
    assert!(!remnants(&files, &[kept_key]).is_empty(), "the other party's key is still there: the scan reads it");
    assert_eq!(app.read_party(Role::Compliance, "compliance_review", &kept).await.0, 200);
    app.stop().await;
}

/// Tries `remnant` under every tenant data-key version that still has material; returns
/// the versions it opens under.
async fn versions_opening(app: &TestApp, party: &str, remnant: &WrappedPartyKey) -> Vec<u32> {
    let keys = KeyService::new(Keyring::load_file(&app.key_file).unwrap(), None, app.backend());
    let (tenant, party) = (TenantId::parse(TENANT).unwrap(), PartyId::parse(party).unwrap());
    let live: Vec<i64> = sqlx::query_scalar(
        "SELECT version FROM tenant_keys WHERE tenant_id = $1 AND purpose = 'data' AND wrapped IS NOT NULL ORDER BY version",
    )
    .bind(TENANT)
    .fetch_all(app.db.reader())
    .await
    .unwrap();
    assert!(!live.is_empty());
    let mut conn = app.db.reader().acquire().await.unwrap();
    let mut opening = Vec::new();
    for version in live {
        let version = u32::try_from(version).unwrap();
        let key = keys.tenant_key(&mut conn, &tenant, TenantKeyPurpose::Data, version).await.unwrap();
        // Under its own label and relabelled as each version: the AAD names the version.
        let relabelled = WrappedPartyKey { tenant_key_version: version, ..clone_key(remnant) };
        if open_wrapped_party_key(&key, &tenant, &party, remnant).is_ok()
            || open_wrapped_party_key(&key, &tenant, &party, &relabelled).is_ok()
        {
            opening.push(version);
        }
    }
    opening
}

fn clone_key(key: &WrappedPartyKey) -> WrappedPartyKey {
    WrappedPartyKey {
        key_id: key.key_id.clone(),
        tenant_key_version: key.tenant_key_version,
        wrapped: key.wrapped.clone(),
    }
}

#[tokio::test]
async fn once_the_scheduled_rotation_ran_no_live_tenant_key_opens_the_erased_wrapped_key() {
    let app = spawn_app_with(AppOptions { jobs_worker: false, ..AppOptions::default() }).await;
    let mut parties = Vec::new();
    for n in 1..=6 {
        parties.push(app.create_party(&party(n)).await);
    }
    let erased = parties.remove(0);
    let remnant = stored_key(&app, &erased).await;
    assert_eq!(remnant.tenant_key_version, 1);
    assert_eq!(app.erase(&erased).await.0, 200);

    // What a dead tuple or a backup holds still opens before the rotation...
    assert_eq!(versions_opening(&app, &erased, &remnant).await, vec![1], "the remnant opens before the rotation");
    let (code, jobs) = app.cli(&["keys", "jobs", "--tenant", TENANT]).await;
    assert_eq!(code, 0, "{jobs}");
    assert!(jobs.contains("\trotate_data\tqueued\t2\t0\t"), "one queued rotation retiring versions below 2: {jobs}");

    let (code, text) = app.cli(&["keys", "run-jobs"]).await;
    assert_eq!(code, 0, "{text}");
    assert!(text.contains("1 job(s) run, 0 failed"), "{text}");

    // ...and no live version opens it after.
    assert_eq!(versions_opening(&app, &erased, &remnant).await, Vec::<u32>::new(), "no live key opens the remnant");
    let states: Vec<(i64, String, Option<Vec<u8>>)> = sqlx::query_as(
        "SELECT version, state, wrapped FROM tenant_keys WHERE tenant_id = $1 AND purpose = 'data' ORDER BY version",
    )
    .bind(TENANT)
    .fetch_all(app.db.reader())
    .await
    .unwrap();
    let states: Vec<(i64, String, bool)> = states.into_iter().map(|(v, s, w)| (v, s, w.is_some())).collect();
    assert_eq!(states, vec![(1, "retired".into(), false), (2, "active".into(), true)]);
    let keys = KeyService::new(Keyring::load_file(&app.key_file).unwrap(), None, app.backend());
    let mut conn = app.db.reader().acquire().await.unwrap();
    let tenant = TenantId::parse(TENANT).unwrap();
    let retired = keys.tenant_key(&mut conn, &tenant, TenantKeyPurpose::Data, 1).await;
    assert!(matches!(retired, Err(KeyError::Retired(1))), "version 1 has no material left");
    drop(conn);

    let job = sqlx::query("SELECT state, attempts FROM key_jobs WHERE tenant_id = $1")
        .bind(TENANT)
        .fetch_one(app.db.reader())
        .await
        .unwrap();
    assert_eq!((job.get::<String, _>("state"), job.get::<i64, _>("attempts")), ("done".into(), 1));
    let audited: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM audit_records WHERE action = 'key.rotate.tenant'")
        .fetch_one(app.db.reader())
        .await
        .unwrap();
    assert_eq!(audited, 1, "the rotation is audited");
    for id in &parties {
        assert_eq!(app.read_party(Role::Compliance, "compliance_review", id).await.0, 200, "{id} reads after");
    }
    app.stop().await;
}

#[tokio::test]
async fn the_gateway_s_own_worker_runs_the_rotation_an_erasure_schedules() {
    let app = spawn_app().await;
    let (erased, kept) = (app.create_party(&party(1)).await, app.create_party(&party(2)).await);
    assert_eq!(app.erase(&erased).await.0, 200);
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    loop {
        let state: String = sqlx::query_scalar("SELECT state FROM key_jobs WHERE tenant_id = $1")
            .bind(TENANT)
            .fetch_one(app.db.reader())
            .await
            .unwrap();
        if state == "done" {
            break;
        }
        assert!(std::time::Instant::now() < deadline, "the worker did not run the job");
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    let active: i64 = sqlx::query_scalar(
        "SELECT version FROM tenant_keys WHERE tenant_id = $1 AND purpose = 'data' AND state = 'active'",
    )
    .bind(TENANT)
    .fetch_one(app.db.reader())
    .await
    .unwrap();
    assert_eq!(active, 2);
    assert_eq!(stored_key(&app, &kept).await.tenant_key_version, 2, "the other party's key was rewrapped");
    assert_eq!(app.read_party(Role::Compliance, "compliance_review", &kept).await.0, 200);
    app.stop().await;
}

/// An import that links an existing co-debtor or guarantor is a write about that party:
/// it waits for the party's lock, so an erasure holding it cannot slip in between the
/// import's lookup and its insert and leave an open obligation linked to an erased party.
/// The test holds the lock (on SQLite: the single writer) and erases the party as
/// erasure does; the import, let through afterwards, finds no such person any more and
/// creates a new one.
#[tokio::test]
async fn an_import_waits_for_the_lock_of_a_party_it_links_and_never_links_one_erased_meanwhile() {
    let app = spawn_app().await;
    let guarantor = app.create_party(&party(1)).await;
    let mut holding = app.db.begin_write().await.unwrap();
    custodia::db::lock_party_in(&mut holding, &guarantor).await.unwrap();

    let mut body = party(2);
    body["obligations"] = json!([{
        "external_ref": "OBL-LINK-1", "product": "credit_card", "currency": "COP", "principal": "1000.00",
        "balance": "500.00", "due_date": "2026-01-15", "status": "delinquent",
        "co_parties": [{"role": "guarantor", "party": party(1)}]
    }]);
    let request = app.as_role(Role::Ingest, "ingest", reqwest::Method::POST, "/v1/parties").json(&body);
    let import = tokio::spawn(async move { request.send().await.unwrap().status().as_u16() });
    tokio::time::sleep(std::time::Duration::from_millis(500)).await;
    assert!(!import.is_finished(), "the import waits for the lock of the party it links");

    custodia::vault::erasure::store::shred(&mut holding, TENANT, &guarantor, "2026-11-30T12:00:00.000000Z")
        .await
        .unwrap();
    holding.commit().await.unwrap();
    assert_eq!(import.await.unwrap(), 201);

    let linked: Vec<String> = sqlx::query_scalar("SELECT party_id FROM obligation_parties WHERE role = 'guarantor'")
        .fetch_all(app.db.reader())
        .await
        .unwrap();
    assert_eq!(linked.len(), 1, "the obligation has its guarantor");
    assert_ne!(linked[0], guarantor, "never the party erased while the import waited");
    app.stop().await;
}
