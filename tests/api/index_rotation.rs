//! Blind-index key rotation, online: searches by national id, phone, e-mail and reference
//! find the same parties between recompute batches and after; a duplicate national id is
//! refused whichever version its owner's digests are under; the old version ends up
//! retired with its digests; idempotency keys made before it are refused once it is gone;
//! and no personal value is written in clear on the way.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use crate::helpers::*;
use custodia::access::Role;
use custodia::clock::{to_db_time, Clock};
use custodia::db::Backend;
use custodia::ids::TenantId;
use custodia::keys::keyring::Keyring;
use custodia::keys::rotation;
use custodia::keys::KeyService;
use custodia::vault::reindex;
use serde_json::{json, Value};

fn tenant() -> TenantId {
    TenantId::parse(TENANT).unwrap()
}

fn operator_keys(app: &TestApp) -> KeyService {
    KeyService::new(Keyring::load_file(&app.key_file).unwrap(), Some(app.key_file.clone()), app.backend())
}

/// Every search for `party(n)` finds exactly `id`.
async fn assert_found(app: &TestApp, n: u32, id: &str) {
    for query in searches_for(n) {
        assert_eq!(app.search_ids(&query).await, vec![id.to_string()], "search {query}");
    }
}

async fn create_status(app: &TestApp, body: &Value) -> (u16, Value) {
    let response = app.post_json(Role::Ingest, "ingest", "/v1/parties", body).await;
    let status = response.status().as_u16();
    (status, response.json().await.unwrap())
}

/// Someone else with `party(n)`'s national id, and someone with its reference: both refused.
async fn assert_unique(app: &TestApp, n: u32) {
    let mut same_id = party(n);
    same_id["external_ref"] = json!(format!("DUP-{n}"));
    let (status, body) = create_status(app, &same_id).await;
    assert_eq!((status, body["error"]["code"].as_str()), (409, Some("duplicate_party")), "party {n}: {body}");
    let mut same_ref = party(9_000 + n);
    same_ref["external_ref"] = json!(format!("CRM-{n:06}"));
    let (status, body) = create_status(app, &same_ref).await;
    assert_eq!((status, body["error"]["code"].as_str()), (409, Some("duplicate_external_ref")), "{body}");
}

async fn idempotent_create(app: &TestApp, key: &str, n: u32) -> reqwest::Response {
    app.as_role(Role::Ingest, "ingest", reqwest::Method::POST, "/v1/parties")
        .header("Idempotency-Key", key)
        .json(&party(n))
        .send()
        .await
        .unwrap()
}

async fn rows_under(app: &TestApp, version: i64) -> i64 {
    sqlx::query_scalar("SELECT COUNT(*) FROM blind_indexes WHERE tenant_id = $1 AND key_version = $2")
        .bind(TENANT)
        .bind(version)
        .fetch_one(app.db.reader())
        .await
        .unwrap()
}

#[tokio::test]
async fn searches_and_uniqueness_hold_while_the_index_key_rotates_and_the_old_version_is_retired() {
    let app = spawn_app().await;
    let mut known: Vec<(u32, String)> = Vec::new();
    for n in 1..=30 {
        known.push((n, app.create_party(&party(n)).await));
    }
    let first = idempotent_create(&app, "idem-before-rotation", 500).await;
    assert_eq!(first.status(), 201);
    known.push((500, first.json::<Value>().await.unwrap()["id"].as_str().unwrap().to_string()));
    let keys = operator_keys(&app);
    let target = rotation::start_index_rotation(&app.db, &keys, &tenant(), &to_db_time(Clock::system().now())).await;
    assert_eq!(target.unwrap(), 2);
    let replay = idempotent_create(&app, "idem-before-rotation", 500).await;
    assert_eq!(replay.status(), 201);
    assert_eq!(replay.headers()["idempotent-replayed"], "true", "a retry during the rotation replays");

    // Parties created from here on are written under both versions: the pass stops at `until`.
    let until = reindex::last_party_id(&app.db, &tenant()).await.unwrap().unwrap();
    let (mut cursor, mut batches) = (None, 0u32);
    loop {
        let range = (cursor.as_deref(), until.as_str());
        let (next, handled) = reindex::reindex_batch(&app.db, &keys, &tenant(), 2, range, 7).await.unwrap();
        if handled == 0 {
            break;
        }
        batches += 1;
        cursor = next;
        if batches == 1 {
            let with_new: i64 = sqlx::query_scalar(
                "SELECT COUNT(DISTINCT party_id) FROM blind_indexes WHERE tenant_id = $1 AND key_version = 2",
            )
            .bind(TENANT)
            .fetch_one(app.db.reader())
            .await
            .unwrap();
            assert!(with_new < known.len() as i64, "mid-rotation, most parties have old digests only");
        }
        // Between batches: old and new parties are found, duplicates refused, new ones found.
        for (n, id) in known.iter().step_by(4) {
            assert_found(&app, *n, id).await;
        }
        assert_unique(&app, batches).await;
        let n = 200 + batches;
        let id = app.create_party(&party(n)).await;
        assert_found(&app, n, &id).await;
        known.push((n, id));
        if batches == 2 {
            let (n, id) = known[2].clone();
            let patch = json!({"phones": [{"id": "mobile", "number": format!("+57316{:07}", n)},
                {"id": "home", "number": format!("+57601{:07}", 4_400_000 + n)}]});
            let path = format!("/v1/parties/{id}");
            let response = app.as_role(Role::Agent, "collection", reqwest::Method::PATCH, &path).json(&patch);
            assert_eq!(response.send().await.unwrap().status(), 200);
            assert_eq!(app.search_ids(&json!({"phone": format!("+57316{:07}", n)})).await, vec![id.clone()]);
            assert!(app.search_ids(&json!({"phone": format!("+57315{:07}", 7_300_000 + n)})).await.is_empty());
        }
    }
    assert_eq!(batches, 5, "31 parties in batches of 7; those created meanwhile need no recompute");
    assert_eq!(rotation::retire_index_versions(&app.db, &keys, &tenant(), 2).await.unwrap(), vec![1]);

    assert_eq!(rows_under(&app, 1).await, 0, "the old version's digests are deleted");
    assert_eq!(rows_under(&app, 2).await, known.len() as i64 * 5, "five digests per party, all under version 2");
    let (state, material): (String, Option<Vec<u8>>) = sqlx::query_as(
        "SELECT state, wrapped FROM tenant_keys WHERE tenant_id = $1 AND purpose = 'index' AND version = 1",
    )
    .bind(TENANT)
    .fetch_one(app.db.reader())
    .await
    .unwrap();
    assert_eq!((state.as_str(), material.is_none()), ("retired", true));
    for (n, id) in &known {
        if *n != known[2].0 {
            assert_found(&app, *n, id).await;
        }
    }
    assert_unique(&app, 7).await;

    // A retry of a request first made under the retired version can no longer be checked.
    let before = app.row_counts().await;
    let late = idempotent_create(&app, "idem-before-rotation", 500).await;
    assert_eq!(late.status(), 422);
    assert_eq!(late.json::<Value>().await.unwrap()["error"]["code"], "idempotency_key_expired");
    assert_eq!(app.row_counts().await, before, "refused, not run twice");
    assert_eq!(idempotent_create(&app, "idem-after-rotation", 600).await.status(), 201);
    let again = idempotent_create(&app, "idem-after-rotation", 600).await;
    assert_eq!(again.headers()["idempotent-replayed"], "true");

    // The operator's command does the same in one go.
    let (code, text) = app.cli(&["keys", "rotate", "--tenant", TENANT, "--index", "--batch", "9"]).await;
    assert_eq!(code, 0, "{text}");
    assert!(text.contains("blind-index key rotated to version 3"), "{text}");
    let (_, status) = app.cli(&["keys", "status"]).await;
    let parties = app.count("parties").await;
    assert!(status.contains(&format!("tenant {TENANT} index\t3\tactive\t{parties}")), "{status}");
    assert!(status.contains(&format!("tenant {TENANT} index\t2\tretired\t0")), "{status}");
    for (n, id) in known.iter().step_by(3) {
        if *n != known[2].0 {
            assert_found(&app, *n, id).await;
        }
    }

    // A sample of the parties (the scan is a byte-by-byte search), the rectified one included.
    let mut secrets: Vec<String> = known.iter().step_by(5).flat_map(|(n, _)| party_secrets(*n)).collect();
    secrets.push(format!("316{:07}", known[2].0));
    let stored = match app.backend() {
        Backend::Sqlite => {
            let path = app.database_url.strip_prefix("sqlite://").unwrap().to_string();
            let mut bytes = std::fs::read(&path).unwrap();
            bytes.extend(std::fs::read(format!("{path}-wal")).unwrap_or_default());
            bytes
        }
        Backend::Postgres => {
            let dump = std::process::Command::new("pg_dump").arg(&app.database_url).output().unwrap();
            assert!(dump.status.success());
            dump.stdout
        }
    };
    for secret in &secrets {
        assert!(!stored.windows(secret.len()).any(|w| w == secret.as_bytes()), "{secret} is stored in clear");
    }
    app.stop().await;
}
