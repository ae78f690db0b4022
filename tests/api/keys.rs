//! Online key rotation (DESIGN "Keys"): a tenant data-key rotation and a master-key
//! rotation run while gateways keep reading and writing; nothing fails, everything reads
//! back, the old versions end up retired, and whatever is still wrapped under a retired
//! version is refused, never opened.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use crate::helpers::*;
use custodia::access::Role;
use custodia::clock::{to_db_time, Clock};
use custodia::ids::TenantId;
use custodia::keys::keyring::Keyring;
use custodia::keys::rotation::{self, RotationError};
use custodia::keys::KeyService;
use rand::{Rng, SeedableRng};
use serde_json::Value;
use sqlx::Row;
use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::sync::oneshot;

/// What a client needs to talk to one gateway; cheap to clone into tasks.
#[derive(Clone)]
struct Gateway {
    http: reqwest::Client,
    base: String,
    tokens: HashMap<Role, String>,
}

impl Gateway {
    fn of(app: &TestApp) -> Self {
        Self { http: app.http.clone(), base: app.base.clone(), tokens: app.tokens.clone() }
    }

    /// Reads `party(n)` as compliance review; `Err` says what was wrong.
    async fn check_read(&self, id: &str, n: u32) -> Result<(), String> {
        let response = self
            .http
            .get(format!("{}/v1/parties/{id}", self.base))
            .bearer_auth(&self.tokens[&Role::Compliance])
            .header("X-Purpose", "compliance_review")
            .send()
            .await
            .map_err(|e| format!("read {id}: {e}"))?;
        let status = response.status().as_u16();
        let body: Value = response.json().await.unwrap_or(Value::Null);
        let want = format!("{}", 739_100_000 + n);
        if status == 200 && body["national_id"]["number"] == want.as_str() {
            Ok(())
        } else {
            Err(format!("read {id} (party {n}): {status} {body}"))
        }
    }

    /// Creates `party(n)` as ingest; returns its id.
    async fn create(&self, n: u32) -> Result<String, String> {
        let response = self
            .http
            .post(format!("{}/v1/parties", self.base))
            .bearer_auth(&self.tokens[&Role::Ingest])
            .header("X-Purpose", "ingest")
            .json(&party(n))
            .send()
            .await
            .map_err(|e| format!("create {n}: {e}"))?;
        let status = response.status().as_u16();
        let body: Value = response.json().await.unwrap_or(Value::Null);
        match body["id"].as_str() {
            Some(id) if status == 201 => Ok(id.to_string()),
            _ => Err(format!("create {n}: {status} {body}")),
        }
    }

    /// Reads every party back; returns the failures.
    async fn failed_reads(&self, parties: &[(String, u32)]) -> Vec<String> {
        let mut failures = Vec::new();
        for (id, n) in parties {
            if let Err(e) = self.check_read(id, *n).await {
                failures.push(e);
            }
        }
        failures
    }
}

/// Creates `party(n)` for every `n` in `numbers` with one NDJSON batch; returns (id, n).
async fn import(app: &TestApp, numbers: std::ops::Range<u32>) -> Vec<(String, u32)> {
    let body: String = numbers.clone().map(|n| format!("{}\n", party(n))).collect();
    let response = app
        .as_role(Role::Ingest, "ingest", reqwest::Method::POST, "/v1/parties:batch")
        .header("Content-Type", "application/x-ndjson")
        .body(body)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let report: Value = response.json().await.unwrap();
    assert_eq!(report["created"], numbers.len(), "{report}");
    report["lines"]
        .as_array()
        .unwrap()
        .iter()
        .map(|line| {
            let n = numbers.start + u32::try_from(line["line"].as_u64().unwrap()).unwrap() - 1;
            (line["id"].as_str().unwrap().to_string(), n)
        })
        .collect()
}

/// Tasks that keep reading random known parties and creating new ones until stopped.
struct Workload {
    stop: Arc<AtomicBool>,
    ops: Arc<AtomicU64>,
    known: Arc<Mutex<Vec<(String, u32)>>>,
    failures: Arc<Mutex<Vec<String>>>,
    tasks: Vec<tokio::task::JoinHandle<()>>,
}

impl Workload {
    /// `workers` tasks; every third operation of each creates a party numbered from `first_new`.
    fn start(gateway: &Gateway, known: Vec<(String, u32)>, workers: u64, first_new: u32) -> Self {
        let stop = Arc::new(AtomicBool::new(false));
        let ops = Arc::new(AtomicU64::new(0));
        let known = Arc::new(Mutex::new(known));
        let failures = Arc::new(Mutex::new(Vec::new()));
        let next = Arc::new(AtomicU32::new(first_new));
        let tasks = (0..workers)
            .map(|worker| {
                let (gateway, stop, ops) = (gateway.clone(), stop.clone(), ops.clone());
                let (known, failures, next) = (known.clone(), failures.clone(), next.clone());
                tokio::spawn(async move {
                    let mut rng = rand::rngs::StdRng::seed_from_u64(worker);
                    let mut done = 0u64;
                    // Each worker does some work even if the rotation is over at once.
                    while done < 6 || !stop.load(Ordering::SeqCst) {
                        let result = if done % 3 == 2 {
                            let n = next.fetch_add(1, Ordering::SeqCst);
                            gateway.create(n).await.map(|id| known.lock().unwrap().push((id, n)))
                        } else {
                            let (id, n) = {
                                let known = known.lock().unwrap();
                                known[rng.gen_range(0..known.len())].clone()
                            };
                            gateway.check_read(&id, n).await
                        };
                        if let Err(failure) = result {
                            failures.lock().unwrap().push(failure);
                        }
                        done += 1;
                        ops.fetch_add(1, Ordering::SeqCst);
                    }
                })
            })
            .collect();
        Self { stop, ops, known, failures, tasks }
    }

    /// Blocks this thread until the workload has done `more` operations (called from
    /// rotation progress callbacks, so work provably happens between rotation batches).
    fn wait_for_ops(ops: &AtomicU64, more: u64) {
        let target = ops.load(Ordering::SeqCst) + more;
        let deadline = Instant::now() + Duration::from_secs(60);
        tokio::task::block_in_place(|| {
            while ops.load(Ordering::SeqCst) < target && Instant::now() < deadline {
                std::thread::sleep(Duration::from_millis(1));
            }
        });
    }

    /// Waits (asynchronously) until the workload has done `more` operations.
    async fn advance(&self, more: u64) {
        let target = self.ops.load(Ordering::SeqCst) + more;
        while self.ops.load(Ordering::SeqCst) < target {
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
    }

    /// Stops the tasks; returns every party known (old and created) and the failures.
    async fn finish(self) -> (Vec<(String, u32)>, Vec<String>, u64) {
        self.stop.store(true, Ordering::SeqCst);
        for task in self.tasks {
            task.await.unwrap();
        }
        let known = self.known.lock().unwrap().clone();
        let failures = self.failures.lock().unwrap().clone();
        (known, failures, self.ops.load(Ordering::SeqCst))
    }
}

/// A key service as `custodia keys rotate` builds it: from the key file.
fn operator_keys(app: &TestApp) -> KeyService {
    KeyService::new(Keyring::load_file(&app.key_file).unwrap(), Some(app.key_file.clone()), app.backend())
}

fn tenant() -> TenantId {
    TenantId::parse(TENANT).unwrap()
}

fn now() -> String {
    to_db_time(Clock::system().now())
}

/// Another gateway process on the same database and key file, as a second instance or
/// a restart would be: its own pools, keyring and (empty) key cache.
struct OtherGateway {
    gateway: Gateway,
    stop: oneshot::Sender<()>,
    server: tokio::task::JoinHandle<()>,
}

impl OtherGateway {
    async fn start(app: &TestApp) -> Self {
        let core = custodia::startup::open_core(&app.config).await.unwrap();
        let clock = custodia::startup::clock_from(&app.config).unwrap();
        let application = custodia::startup::Application::from_core(core, &app.config, clock).await.unwrap();
        let base = format!("http://127.0.0.1:{}", application.port());
        let (stop, stopped) = oneshot::channel::<()>();
        let server = tokio::spawn(async move {
            application
                .run_until_stopped(async {
                    let _ = stopped.await;
                })
                .await
                .unwrap();
        });
        Self { gateway: Gateway { base, ..Gateway::of(app) }, stop, server }
    }

    async fn stop(self) {
        let _ = self.stop.send(());
        self.server.await.unwrap();
    }
}

/// (state, keys using it) of each version of the tenant's data key, from `keys status`.
async fn data_key_versions(app: &TestApp, keys: &KeyService) -> Vec<(u32, String, i64)> {
    rotation::status(&app.db, keys)
        .await
        .unwrap()
        .into_iter()
        .filter(|line| line.scope == format!("tenant {TENANT} data"))
        .map(|line| (line.version, line.state, line.keys_using_it))
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 6)]
async fn a_tenant_key_rotation_under_live_reads_and_writes_loses_nothing_and_retires_the_old_version() {
    let app = spawn_app().await;
    let before = import(&app, 1..301).await;
    let workload = Workload::start(&Gateway::of(&app), before.clone(), 4, 10_000);
    let ops = workload.ops.clone();
    let keys = operator_keys(&app);
    let rotated = tokio::spawn({
        let (db, keys) = (app.db.clone(), keys.clone());
        async move {
            let mut batches = 0;
            let target = rotation::rotate_tenant(&db, &keys, &tenant(), &now(), 50, |_, _| {
                batches += 1;
                Workload::wait_for_ops(&ops, 8);
            })
            .await;
            (target, batches)
        }
    })
    .await
    .unwrap();
    let (all, failures, done) = workload.finish().await;
    let (target, batches) = (rotated.0.unwrap(), rotated.1);
    assert_eq!(target, 2);
    assert!(batches >= 6, "300 keys in batches of 50, work between each: {batches}");
    assert!(failures.is_empty(), "{} of {done} operations failed during rotation: {failures:#?}", failures.len());
    assert!(all.len() > before.len(), "the workload created parties");

    assert_eq!(Gateway::of(&app).failed_reads(&all).await, Vec::<String>::new());
    let parties = app.count("parties").await;
    assert_eq!(parties, i64::try_from(all.len()).unwrap());
    assert_eq!(
        data_key_versions(&app, &keys).await,
        vec![(1, "retired".to_string(), 0), (2, "active".to_string(), parties)]
    );
    let retired_material: i64 = sqlx::query_scalar(
        "SELECT COUNT(*) FROM tenant_keys WHERE tenant_id = $1 AND purpose = 'data' AND version = 1 AND wrapped IS NULL",
    )
    .bind(TENANT)
    .fetch_one(app.db.reader())
    .await
    .unwrap();
    assert_eq!(retired_material, 1, "the retired version's wrapped key is deleted");
    app.stop().await;
}

/// Sets a party's stored data key (key id, tenant-key version, wrapped bytes).
async fn set_party_key(app: &TestApp, party_id: &str, (key_id, version, wrapped): &(String, i64, Vec<u8>)) {
    let mut tx = app.db.begin_write().await.unwrap();
    let updated =
        sqlx::query("UPDATE party_keys SET key_id = $1, tenant_key_version = $2, wrapped = $3 WHERE party_id = $4")
            .bind(key_id)
            .bind(version)
            .bind(wrapped)
            .bind(party_id)
            .execute(&mut *tx)
            .await
            .unwrap();
    assert_eq!(updated.rows_affected(), 1);
    tx.commit().await.unwrap();
}

async fn party_key(app: &TestApp, party_id: &str) -> (String, i64, Vec<u8>) {
    let row = sqlx::query("SELECT key_id, tenant_key_version, wrapped FROM party_keys WHERE party_id = $1")
        .bind(party_id)
        .fetch_one(app.db.reader())
        .await
        .unwrap();
    (row.get("key_id"), row.get("tenant_key_version"), row.get("wrapped"))
}

/// The read is refused as an integrity error and releases nothing of party `n`.
async fn assert_refused(gateway: &Gateway, what: &str, id: &str, n: u32) {
    let response = gateway
        .http
        .get(format!("{}/v1/parties/{id}", gateway.base))
        .bearer_auth(&gateway.tokens[&Role::Compliance])
        .header("X-Purpose", "compliance_review")
        .send()
        .await
        .unwrap();
    let status = response.status().as_u16();
    let body: Value = response.json().await.unwrap_or(Value::Null);
    assert_eq!((status, &body["error"]["code"]), (500, &Value::from("integrity_error")), "{what}: {body}");
    let text = body.to_string();
    for secret in party_secrets(n) {
        assert!(!text.contains(&secret), "{what}: the refusal leaks {secret}: {text}");
    }
}

#[tokio::test]
async fn a_party_key_still_wrapped_under_a_retired_tenant_key_version_is_refused() {
    let app = spawn_app_reading_the_database().await;
    let parties = import(&app, 1..21).await;
    let (id, n) = parties[0].clone();
    let gateway = Gateway::of(&app);
    // The running gateway has used version 1 (and keeps it cached) before the rotation.
    assert_eq!(gateway.failed_reads(&parties).await, Vec::<String>::new());
    let under_v1 = party_key(&app, &id).await;
    assert_eq!(under_v1.1, 1);
    let keys = operator_keys(&app);
    assert_eq!(rotation::rotate_tenant(&app.db, &keys, &tenant(), &now(), 50, |_, _| {}).await.unwrap(), 2);
    let under_v2 = party_key(&app, &id).await;
    assert_eq!(under_v2.1, 2);
    let restarted = OtherGateway::start(&app).await;

    // Only the version number put back: the key does not open under version 1.
    set_party_key(&app, &id, &(under_v2.0.clone(), 1, under_v2.2.clone())).await;
    assert_refused(&gateway, "v2 key labelled v1, running gateway", &id, n).await;
    assert_refused(&restarted.gateway, "v2 key labelled v1, restarted gateway", &id, n).await;

    // The key as it was wrapped under version 1 (a backup restored after the rotation).
    set_party_key(&app, &id, &under_v1).await;
    assert_refused(&gateway, "v1 key, running gateway", &id, n).await;
    assert_refused(&restarted.gateway, "v1 key, restarted gateway", &id, n).await;

    // The current key still opens: the refusals were about the retired version.
    set_party_key(&app, &id, &under_v2).await;
    gateway.check_read(&id, n).await.unwrap();
    restarted.gateway.check_read(&id, n).await.unwrap();
    restarted.stop().await;
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 6)]
async fn a_master_key_rotation_under_live_reads_keeps_every_gateway_reading_and_the_old_version_retires() {
    let app = spawn_app().await;
    let before = import(&app, 1..101).await;
    let keys = operator_keys(&app);
    assert_eq!(rotation::rotate_tenant(&app.db, &keys, &tenant(), &now(), 50, |_, _| {}).await.unwrap(), 2);
    assert!(
        matches!(rotation::retire_master(&app.db, &keys, 1).await, Err(RotationError::ActiveVersion(1))),
        "the only master version is active"
    );
    // A second gateway that starts now knows only master version 1 and has no key cached.
    let second = OtherGateway::start(&app).await;

    let workload = Workload::start(&Gateway::of(&app), before.clone(), 4, 10_000);
    workload.advance(12).await;
    let new_master = rotation::rotate_master(&app.db, &keys).await.unwrap();
    workload.advance(12).await;
    let (all, failures, done) = workload.finish().await;
    assert_eq!(new_master, 2);
    assert!(failures.is_empty(), "{} of {done} operations failed during rotation: {failures:#?}", failures.len());

    let ring = Keyring::load_file(&app.key_file).unwrap();
    assert_eq!((ring.versions().collect::<Vec<_>>(), ring.active_version()), (vec![1, 2], 2));
    let under: Vec<(i64, i64)> = sqlx::query(
        "SELECT master_version, COUNT(*) AS n FROM tenant_keys WHERE wrapped IS NOT NULL GROUP BY master_version",
    )
    .fetch_all(app.db.reader())
    .await
    .unwrap()
    .iter()
    .map(|r| (r.get("master_version"), r.get("n")))
    .collect();
    assert_eq!(under, vec![(2, 2)], "the live data key and the index key are rewrapped under master version 2");

    // The second gateway meets master version 2 and reloads the key file to read.
    assert_eq!(second.gateway.failed_reads(&all).await, Vec::<String>::new());

    assert!(matches!(rotation::retire_master(&app.db, &keys, 2).await, Err(RotationError::ActiveVersion(2))));
    rotation::retire_master(&app.db, &keys, 1).await.unwrap();
    let ring = Keyring::load_file(&app.key_file).unwrap();
    assert_eq!(ring.versions().collect::<Vec<_>>(), vec![2]);

    // Every gateway still reads everything: the running one, the second, and one
    // started after the retirement with only master version 2.
    let third = OtherGateway::start(&app).await;
    for (name, gateway) in [("running", &Gateway::of(&app)), ("second", &second.gateway), ("third", &third.gateway)] {
        assert_eq!(gateway.failed_reads(&all).await, Vec::<String>::new(), "{name} gateway");
    }
    third.gateway.create(20_000).await.unwrap();
    second.stop().await;
    third.stop().await;
    app.stop().await;
}

/// Most parties each writer creates before it gives up waiting for the rotation.
const WRITER_CAP: u32 = 100;

#[tokio::test(flavor = "multi_thread", worker_threads = 8)]
async fn a_tenant_key_rotation_completes_while_parties_are_created_without_pause() {
    let app = spawn_app().await;
    let mut all = import(&app, 1..21).await;
    let gateway = Gateway::of(&app);
    let rotated = Arc::new(AtomicBool::new(false));
    let writers: Vec<_> = (0..8u32)
        .map(|writer| {
            let (gateway, rotated) = (gateway.clone(), rotated.clone());
            tokio::spawn(async move {
                let mut created = Vec::new();
                for i in 0..WRITER_CAP {
                    if rotated.load(Ordering::SeqCst) {
                        return (created, false);
                    }
                    let n = 1_000 + writer * WRITER_CAP + i;
                    created.push(gateway.create(n).await.map(|id| (id, n)));
                }
                (created, true)
            })
        })
        .collect();
    let keys = operator_keys(&app);
    let target = rotation::rotate_tenant(&app.db, &keys, &tenant(), &now(), 50, |_, _| {}).await.unwrap();
    rotated.store(true, Ordering::SeqCst);
    let (mut starved, mut failures) = (0, Vec::new());
    for writer in writers {
        let (created, hit_cap) = writer.await.unwrap();
        starved += usize::from(hit_cap);
        for result in created {
            match result {
                Ok(created) => all.push(created),
                Err(failure) => failures.push(failure),
            }
        }
    }
    assert_eq!(failures, Vec::<String>::new(), "creates failed while the active version changed");
    assert_eq!(starved, 0, "the rotation only finished once writers ran out of work: they starved it");
    assert_eq!(gateway.failed_reads(&all).await, Vec::<String>::new());
    let parties = i64::try_from(all.len()).unwrap();
    assert_eq!(
        data_key_versions(&app, &keys).await,
        vec![(1, "retired".to_string(), 0), (target, "active".to_string(), parties)]
    );
    app.stop().await;
}
