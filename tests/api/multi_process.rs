//! More than one process on one database: two `custodia serve` gateways sharing a
//! database and a signing key, sealers racing each other from many connections and a
//! second process, and a gateway killed with SIGKILL in the middle of its traffic.
//!
//! The claims under test (DESIGN invariant 3 and `src/audit/sealer.rs`): a tenant has one
//! log however many gateways write to it; its checkpoints form one linear chain (no two
//! sealers ever extend the same tree size); every record sealed gets its own leaf index;
//! and a request that was answered has a durable record, even if its gateway dies right
//! after answering.
//!
//! They run on SQLite (several processes on one file, serialised by `BEGIN IMMEDIATE` and
//! the busy timeout) and on PostgreSQL (a per-log advisory lock, with the `UNIQUE (log_id,
//! prev_size)` fence behind it).

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use crate::helpers::{fresh_database, party, TENANT};
use custodia::audit::signer::{self, AuditSigner};
use custodia::audit::{sealer, service, verify, writer, Actor, AuditEvent, Outcome};
use custodia::clock::{to_db_time, Clock};
use custodia::config::AuditConfig;
use custodia::db::Db;
use custodia::ids::TenantId;
use custodia::keys::keyring::Keyring;
use futures::stream::{self, StreamExt};
use serde_json::Value;
use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

const BIN: &str = env!("CARGO_BIN_EXE_custodia");

// ---------------------------------------------------------------------------------------
// Processes: the CLI and served gateways.
// ---------------------------------------------------------------------------------------

/// Runs the CLI without blocking the test's runtime (other tasks keep going meanwhile).
async fn cli(config: &Path, args: &[&str]) -> std::process::Output {
    tokio::process::Command::new(BIN)
        .arg("--config")
        .arg(config)
        .args(args)
        .env("RUST_LOG", "warn")
        .output()
        .await
        .unwrap()
}

/// Runs the CLI and insists it succeeds; returns stdout and stderr together.
async fn cli_ok(config: &Path, args: &[&str]) -> String {
    let output = cli(config, args).await;
    let text = format!("{}{}", String::from_utf8_lossy(&output.stdout), String::from_utf8_lossy(&output.stderr));
    assert!(output.status.success(), "custodia {args:?} failed ({}): {text}", output.status);
    text
}

/// `custodia audit verify --tenant acme` must exit 0 and report `records` sealed records.
async fn assert_cli_verifies(config: &Path, records: i64) {
    let text = cli_ok(config, &["audit", "verify", "--tenant", TENANT]).await;
    assert!(
        text.contains(&format!("log {TENANT}: OK, {records} records")),
        "audit verify should report {records} sealed records: {text}"
    );
}

/// A `custodia serve` process and its log. Dropping it kills the process, so a failing
/// test never leaves a gateway running behind it.
struct Gateway {
    child: Option<Child>,
    base: String,
    log: PathBuf,
}

impl Gateway {
    /// Starts `serve` on `config` (which listens on port 0) and reads the port it bound
    /// from its `custodia listening` log line.
    async fn start(config: &Path, log: PathBuf) -> Self {
        let log_file = std::fs::File::create(&log).unwrap();
        let child = Command::new(BIN)
            .arg("--config")
            .arg(config)
            .arg("serve")
            .env("RUST_LOG", "info")
            .env("CUSTODIA_LOG_FORMAT", "json")
            .stdout(Stdio::from(log_file.try_clone().unwrap()))
            .stderr(Stdio::from(log_file))
            .spawn()
            .unwrap();
        let mut gateway = Self { child: Some(child), base: String::new(), log };
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            if let Some(port) = gateway.bound_port() {
                gateway.base = format!("http://127.0.0.1:{port}");
                return gateway;
            }
            if let Some(status) = gateway.child.as_mut().and_then(|c| c.try_wait().unwrap()) {
                panic!("the gateway exited before listening ({status}): {}", gateway.log_text());
            }
            assert!(Instant::now() < deadline, "the gateway did not start: {}", gateway.log_text());
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    fn bound_port(&self) -> Option<u64> {
        self.log_text()
            .lines()
            .filter_map(|l| serde_json::from_str::<Value>(l).ok())
            .find(|l| l["message"] == "custodia listening")
            .and_then(|l| l["port"].as_u64())
    }

    fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// SIGKILL: no draining, no shutdown hooks, transactions in flight are lost. Returns
    /// the log written until then.
    fn kill(mut self) -> String {
        if let Some(mut child) = self.child.take() {
            child.kill().unwrap();
            child.wait().unwrap();
        }
        self.log_text()
    }

    /// SIGTERM; the gateway must drain and exit cleanly. Returns its log.
    async fn stop(mut self) -> String {
        if let Some(mut child) = self.child.take() {
            let _ = Command::new("kill").arg("-TERM").arg(child.id().to_string()).status();
            let status = tokio::task::spawn_blocking(move || child.wait().unwrap()).await.unwrap();
            assert!(status.success(), "gateway did not shut down cleanly ({status}): {}", self.log_text());
        }
        self.log_text()
    }
}

impl Drop for Gateway {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// A gateway's log has no warning or error: a failed sealing round, an audit batch
/// retried record by record, a failed publication would all show up here.
fn assert_quiet(log: &str) {
    let loud: Vec<&str> =
        log.lines().filter(|l| l.contains("\"level\":\"WARN\"") || l.contains("\"level\":\"ERROR\"")).collect();
    assert!(loud.is_empty(), "the gateway logged {} warnings or errors: {:?}", loud.len(), &loud[..loud.len().min(5)]);
}

/// A deployment made the way an operator makes one: key files, a config file on a fresh
/// database, and a tenant with ingest and agent tokens created through the CLI.
struct Deployment {
    dir: tempfile::TempDir,
    config: PathBuf,
    database_url: String,
    ingest: String,
    agent: String,
}

async fn deploy() -> Deployment {
    let dir = tempfile::tempdir().unwrap();
    let master_key = dir.path().join("master.key");
    Keyring::generate(false).unwrap().save_file(&master_key).unwrap();
    let audit_key = dir.path().join("audit-signing.key");
    signer::write_new_key(&audit_key, "custodia-test-audit").unwrap();
    let proof_key = dir.path().join("consent-proof.key");
    custodia::consent::proof::key::write_new_key(&proof_key, "custodia-test-consent-proof").unwrap();
    let database_url = fresh_database(dir.path()).await;
    let config = dir.path().join("custodia.toml");
    // The rate limit is per client and per gateway: lifted so the load is never refused.
    std::fs::write(
        &config,
        format!(
            "database_url = \"{database_url}\"\nmaster_key_file = \"{}\"\nlisten = \"127.0.0.1:0\"\n\
             rate_limit_per_second = 100000\nrate_limit_burst = 100000\n\
             audit = {{ signing_key_file = \"{}\", seal_every_ms = 200 }}\n\
             consent = {{ proof_key_file = \"{}\" }}\n",
            master_key.display(),
            audit_key.display(),
            proof_key.display()
        ),
    )
    .unwrap();
    cli_ok(&config, &["tenants", "create", TENANT]).await;
    let mut tokens = Vec::new();
    for role in ["ingest", "agent"] {
        let text = cli_ok(&config, &["clients", "create", "--tenant", TENANT, "--role", role]).await;
        let token = text.lines().find_map(|l| l.strip_prefix("token (shown once, store it now): ")).unwrap();
        tokens.push(token.trim().to_string());
    }
    let agent = tokens.pop().unwrap();
    let ingest = tokens.pop().unwrap();
    Deployment { dir, config, database_url, ingest, agent }
}

// ---------------------------------------------------------------------------------------
// Traffic.
// ---------------------------------------------------------------------------------------

/// What one request of the load does.
#[derive(Clone, Debug)]
enum Op {
    /// GET /v1/parties/{id} as agent, purpose collection.
    Read(String),
    /// POST /v1/parties as ingest with `party(n)`.
    Create(u32),
}

/// Sends one request with our own `X-Request-Id`; returns the status, or None when no
/// answer came back (the connection died).
async fn send(http: &reqwest::Client, d: &Deployment, base: &str, op: &Op, request_id: &str) -> Option<u16> {
    let request = match op {
        Op::Read(id) => {
            http.get(format!("{base}/v1/parties/{id}")).bearer_auth(&d.agent).header("X-Purpose", "collection")
        }
        Op::Create(n) => http
            .post(format!("{base}/v1/parties"))
            .bearer_auth(&d.ingest)
            .header("X-Purpose", "ingest")
            .json(&party(*n)),
    };
    let response = request.header("X-Request-Id", request_id).send().await.ok()?;
    let echoed = response.headers().get("x-request-id").and_then(|v| v.to_str().ok()).map(str::to_string);
    assert_eq!(echoed.as_deref(), Some(request_id), "the gateway echoes the request id");
    let status = response.status().as_u16();
    // Only a complete answer counts as answered.
    response.bytes().await.ok()?;
    Some(status)
}

/// Creates `count` parties (numbers from `first`) one by one; returns their ids and the
/// request ids of the creations.
async fn create_parties(d: &Deployment, base: &str, first: u32, count: u32) -> (Vec<String>, Vec<String>) {
    let http = reqwest::Client::new();
    let (mut ids, mut requests) = (Vec::new(), Vec::new());
    for n in first..first + count {
        let request_id = format!("setup-create-{n:06}");
        let response = http
            .post(format!("{base}/v1/parties"))
            .bearer_auth(&d.ingest)
            .header("X-Purpose", "ingest")
            .header("X-Request-Id", &request_id)
            .json(&party(n))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 201);
        let body: Value = response.json().await.unwrap();
        ids.push(body["id"].as_str().unwrap().to_string());
        requests.push(request_id);
    }
    (ids, requests)
}

// ---------------------------------------------------------------------------------------
// The database, read directly.
// ---------------------------------------------------------------------------------------

async fn scalar(db: &Db, sql: &str) -> i64 {
    sqlx::query_scalar(sql).bind(TENANT).fetch_one(db.reader()).await.unwrap()
}

/// Records in the tenant's log, and how many of them are not sealed yet.
async fn record_counts(db: &Db) -> (i64, i64) {
    let total = scalar(db, "SELECT COUNT(*) FROM audit_records WHERE log_id = $1").await;
    let unsealed = scalar(db, "SELECT COUNT(*) FROM audit_records WHERE log_id = $1 AND leaf_index IS NULL").await;
    (total, unsealed)
}

/// Waits until the tenant's log holds at least `at_least` records and all are sealed
/// (by whichever gateway's sealer gets there); returns the number of records.
async fn wait_until_sealed(db: &Db, at_least: i64) -> i64 {
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        let (total, unsealed) = record_counts(db).await;
        if total >= at_least && unsealed == 0 {
            return total;
        }
        assert!(
            Instant::now() < deadline,
            "not sealed in time: {total} records (want {at_least}), {unsealed} unsealed"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// The logs the tenant's records were written to.
async fn logs_of_tenant_records(db: &Db) -> Vec<String> {
    sqlx::query_scalar("SELECT DISTINCT log_id FROM audit_records WHERE tenant_id = $1")
        .bind(TENANT)
        .fetch_all(db.reader())
        .await
        .unwrap()
}

/// The checkpoints form one chain: no size twice, no predecessor twice, and each
/// `prev_size` is the size before it, from 0 to the latest. Returns the latest size.
/// Checked here rather than trusted to the schema's constraints, which are under test.
async fn assert_linear_checkpoints(db: &Db) -> i64 {
    let rows: Vec<(i64, i64)> = sqlx::query_as(
        "SELECT tree_size, prev_size FROM audit_checkpoints WHERE log_id = $1 ORDER BY tree_size, prev_size",
    )
    .bind(TENANT)
    .fetch_all(db.reader())
    .await
    .unwrap();
    assert!(!rows.is_empty(), "the log was sealed at least once");
    let sizes: HashSet<i64> = rows.iter().map(|r| r.0).collect();
    let prevs: HashSet<i64> = rows.iter().map(|r| r.1).collect();
    assert_eq!(sizes.len(), rows.len(), "two checkpoints share a tree size: {rows:?}");
    assert_eq!(prevs.len(), rows.len(), "two checkpoints extend the same tree (a fork): {rows:?}");
    let mut expected_prev = 0;
    for (size, prev) in &rows {
        assert_eq!(*prev, expected_prev, "checkpoint {size} does not extend {expected_prev}: {rows:?}");
        assert!(size > prev, "checkpoint {size} does not grow the log");
        expected_prev = *size;
    }
    expected_prev
}

/// Every record of the log is sealed, at its own index, and the indices are exactly
/// 0..n. Returns n.
async fn assert_dense_leaf_indices(db: &Db) -> i64 {
    let mut indices: Vec<Option<i64>> = sqlx::query_scalar("SELECT leaf_index FROM audit_records WHERE log_id = $1")
        .bind(TENANT)
        .fetch_all(db.reader())
        .await
        .unwrap();
    assert!(indices.iter().all(Option::is_some), "every record is sealed");
    indices.sort();
    let n = indices.len() as i64;
    let expected: Vec<Option<i64>> = (0..n).map(Some).collect();
    assert!(indices == expected, "leaf indices are not exactly 0..{n} (duplicates or gaps)");
    n
}

/// Request ids of the tenant's records, with how many records each has.
async fn recorded_request_ids(db: &Db) -> HashMap<String, i64> {
    let rows: Vec<(String, i64)> =
        sqlx::query_as("SELECT request_id, COUNT(*) FROM audit_records WHERE log_id = $1 GROUP BY request_id")
            .bind(TENANT)
            .fetch_all(db.reader())
            .await
            .unwrap();
    rows.into_iter().collect()
}

/// Every answered request has exactly one record in the log.
async fn assert_each_answered_request_recorded(db: &Db, answered: &[String]) {
    let recorded = recorded_request_ids(db).await;
    let missing: Vec<&String> = answered.iter().filter(|id| !recorded.contains_key(*id)).collect();
    assert!(
        missing.is_empty(),
        "{} answered requests have no audit record, e.g. {:?}",
        missing.len(),
        &missing[..missing.len().min(5)]
    );
    let doubled: Vec<&String> = answered.iter().filter(|id| recorded.get(*id).copied().unwrap_or(0) > 1).collect();
    assert!(doubled.is_empty(), "requests recorded twice: {doubled:?}");
}

// ---------------------------------------------------------------------------------------
// 1. Two gateways, one database.
// ---------------------------------------------------------------------------------------

/// Two gateway processes share a database and a signing key and take traffic at the
/// same time: both write records into the tenant's one log and both run a sealer, yet
/// the result is a single log whose checkpoints chain linearly, which verifies, and which
/// holds exactly one record per answered request.
#[tokio::test]
async fn two_gateways_on_one_database_build_one_log_that_verifies() {
    let started = Instant::now();
    let d = deploy().await;
    let db = Db::connect(&d.database_url, 2).await.unwrap();
    // The CLI's own records: tenant.create and two client.create.
    let (admin_records, _) = record_counts(&db).await;
    let a = Gateway::start(&d.config, d.dir.path().join("a.log")).await;
    let b = Gateway::start(&d.config, d.dir.path().join("b.log")).await;
    assert_ne!(a.base, b.base);

    let (parties, mut answered) = create_parties(&d, &a.base, 1, 8).await;
    // 320 reads and 80 creations, alternating between the gateways, 48 at a time.
    let http = reqwest::Client::new();
    let ops: Vec<(String, &str, Op)> = (0..400u32)
        .map(|i| {
            let base = if i % 2 == 0 { a.base.as_str() } else { b.base.as_str() };
            let op =
                if i % 5 == 4 { Op::Create(1000 + i) } else { Op::Read(parties[i as usize % parties.len()].clone()) };
            (format!("two-gw-{i:05}"), base, op)
        })
        .collect();
    let results: Vec<(String, Option<u16>)> = stream::iter(ops)
        .map(|(request_id, base, op)| {
            let (http, d) = (&http, &d);
            async move {
                let status = send(http, d, base, &op, &request_id).await;
                (request_id, status)
            }
        })
        .buffer_unordered(48)
        .collect()
        .await;
    let refused: Vec<&(String, Option<u16>)> = results.iter().filter(|(_, s)| !matches!(s, Some(200..=299))).collect();
    assert!(refused.is_empty(), "every request is answered with success: {refused:?}");
    answered.extend(results.into_iter().map(|(id, _)| id));

    let expected = admin_records + answered.len() as i64;
    let sealed = wait_until_sealed(&db, expected).await;
    assert_quiet(&a.stop().await);
    assert_quiet(&b.stop().await);

    assert_eq!(sealed, expected, "one record per answered request (plus {admin_records} from the CLI)");
    assert_eq!(logs_of_tenant_records(&db).await, vec![TENANT.to_string()], "the tenant's records are in one log");
    assert_eq!(verify::logs(&db).await.unwrap(), vec![TENANT.to_string()], "and it is the only log in the database");
    assert_each_answered_request_recorded(&db, &answered).await;
    assert_eq!(assert_dense_leaf_indices(&db).await, expected);
    assert_eq!(assert_linear_checkpoints(&db).await, expected, "the latest checkpoint covers every record");
    assert_cli_verifies(&d.config, expected).await;
    db.close().await;
    eprintln!(
        "two gateways: {} answered requests, {expected} records sealed in {:.1?}",
        answered.len(),
        started.elapsed()
    );
}

// ---------------------------------------------------------------------------------------
// 2. Racing sealers.
// ---------------------------------------------------------------------------------------

/// A database with the audit schema, a signer, and a config file a second process (the
/// CLI) can use to seal the same log.
struct SealingSetup {
    _dir: tempfile::TempDir,
    url: String,
    config: PathBuf,
    signer: Arc<AuditSigner>,
    sealing: sealer::SealerConfig,
}

async fn sealing_setup() -> SealingSetup {
    let dir = tempfile::tempdir().unwrap();
    let url = fresh_database(dir.path()).await;
    let db = Db::connect(&url, 1).await.unwrap();
    db.migrate().await.unwrap();
    // The sealer seals the logs of known tenants (and the gateway's).
    sqlx::query("INSERT INTO tenants (id, name, created_at) VALUES ($1, $1, '2026-11-23T00:00:00.000000Z')")
        .bind(TENANT)
        .execute(db.reader())
        .await
        .unwrap();
    db.close().await;
    let master_key = dir.path().join("master.key");
    Keyring::generate(false).unwrap().save_file(&master_key).unwrap();
    let audit_key = dir.path().join("audit-signing.key");
    signer::write_new_key(&audit_key, "custodia-test-audit").unwrap();
    let config = dir.path().join("custodia.toml");
    std::fs::write(
        &config,
        format!(
            "database_url = \"{url}\"\nmaster_key_file = \"{}\"\naudit = {{ signing_key_file = \"{}\" }}\n",
            master_key.display(),
            audit_key.display()
        ),
    )
    .unwrap();
    let audit = AuditConfig { signing_key_file: Some(audit_key), ..AuditConfig::default() };
    let signer = Arc::new(AuditSigner::load(&audit).unwrap());
    // Small rounds, so one round rarely takes everything and sealers keep meeting.
    let sealing = sealer::SealerConfig { max_round: 7, ..service::sealer_config(&audit) };
    SealingSetup { _dir: dir, url, config, signer, sealing }
}

/// A read record about one or two of a handful of parties, so the per-party chains are
/// extended by writers racing each other too.
fn read_event(writer: usize, n: u64) -> AuditEvent {
    let party = |k: u64| format!("party_race{}", k % 5);
    let mut parties = vec![party(n)];
    if n % 3 == 0 {
        parties.push(party(n + 1));
    }
    AuditEvent {
        actor: Actor { tenant: Some(TenantId::parse(TENANT).unwrap()), ..Actor::default() },
        action: "party.read",
        resource_id: Some(party(n)),
        parties: Vec::new(),
        evidence: None,
        fields: vec!["full_name:clear".to_string()],
        outcome: Outcome::Allowed,
        status: 200,
        error_code: None,
        request_id: format!("race-w{writer}-{n:06}"),
    }
    .about_parties(parties)
}

/// What the racing sealers saw.
#[derive(Default)]
struct Tally {
    rounds: AtomicU64,
    idle: AtomicU64,
    fenced: AtomicU64,
    cli_runs: AtomicU64,
    errors: Mutex<Vec<String>>,
}

/// Eight sealers on their own connections (and, from another process, `custodia audit
/// seal` in a loop) seal one log while writers keep appending to it. Whatever order
/// their rounds land in, the log must come out as one linear chain of checkpoints over
/// densely numbered leaves, every stored root recomputable from the records.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn racing_sealers_never_fork_a_log() {
    let started = Instant::now();
    let setup = Arc::new(sealing_setup().await);
    let writing = Arc::new(AtomicBool::new(true));
    let sealing = Arc::new(AtomicBool::new(true));
    let tally = Arc::new(Tally::default());
    let appended = Arc::new(AtomicU64::new(0));

    let mut writers = Vec::new();
    for w in 0..3 {
        let (setup, writing, appended, tally) = (setup.clone(), writing.clone(), appended.clone(), tally.clone());
        writers.push(tokio::spawn(async move {
            let db = Db::connect(&setup.url, 1).await.unwrap();
            let mut n = 0;
            while writing.load(Ordering::Relaxed) {
                let draft = read_event(w, n).to_draft(&to_db_time(Clock::system().now()));
                match writer::append_alone(&db, draft).await {
                    Ok(()) => {
                        appended.fetch_add(1, Ordering::Relaxed);
                    }
                    Err(e) => tally.errors.lock().unwrap().push(format!("writer {w}: {e}")),
                }
                n += 1;
            }
            db.close().await;
        }));
    }
    let mut sealers = Vec::new();
    for s in 0..8u64 {
        let (setup, sealing, tally) = (setup.clone(), sealing.clone(), tally.clone());
        sealers.push(tokio::spawn(async move {
            let db = Db::connect(&setup.url, 4).await.unwrap();
            let clock = Clock::system();
            while sealing.load(Ordering::Relaxed) {
                match sealer::seal_round(&db, &setup.signer, &clock, &setup.sealing, TENANT).await {
                    Ok(Some(_)) => tally.rounds.fetch_add(1, Ordering::Relaxed),
                    Ok(None) => tally.idle.fetch_add(1, Ordering::Relaxed),
                    Err(sealer::SealError::Fenced { .. }) => tally.fenced.fetch_add(1, Ordering::Relaxed),
                    Err(e) => {
                        tally.errors.lock().unwrap().push(format!("sealer {s}: {e}"));
                        0
                    }
                };
                // Staggered, so the sealers meet at every phase of each other's rounds.
                tokio::time::sleep(Duration::from_millis(1 + s)).await;
            }
            db.close().await;
        }));
    }
    // Another process sealing the same log the way an operator would.
    let cli_sealer = {
        let (setup, sealing, tally) = (setup.clone(), sealing.clone(), tally.clone());
        tokio::spawn(async move {
            while sealing.load(Ordering::Relaxed) {
                let output = cli(&setup.config, &["audit", "seal"]).await;
                if output.status.success() {
                    tally.cli_runs.fetch_add(1, Ordering::Relaxed);
                } else {
                    let text = String::from_utf8_lossy(&output.stderr).to_string();
                    tally.errors.lock().unwrap().push(format!("custodia audit seal: {text}"));
                }
            }
        })
    };

    tokio::time::sleep(Duration::from_secs(4)).await;
    writing.store(false, Ordering::Relaxed);
    for task in writers {
        task.await.unwrap();
    }
    // Let the racers finish off what the writers left before stopping them.
    let db = Db::connect(&setup.url, 2).await.unwrap();
    let total = appended.load(Ordering::Relaxed) as i64;
    wait_until_sealed(&db, total).await;
    sealing.store(false, Ordering::Relaxed);
    for task in sealers {
        task.await.unwrap();
    }
    cli_sealer.await.unwrap();

    let errors = tally.errors.lock().unwrap().clone();
    assert!(errors.is_empty(), "{} errors while racing, e.g. {:?}", errors.len(), &errors[..errors.len().min(5)]);
    let rounds = tally.rounds.load(Ordering::Relaxed);
    assert!(total > 100 && rounds > 10, "the race had something to race over: {total} records, {rounds} rounds");
    assert_eq!(assert_dense_leaf_indices(&db).await, total, "every appended record sealed once");
    assert_eq!(assert_linear_checkpoints(&db).await, total);
    let report = verify::verify_log(&db, setup.signer.verifier(), &setup.signer.origin(TENANT), TENANT, None)
        .await
        .unwrap_or_else(|e| panic!("the raced log does not verify: {e}"));
    assert_eq!(report.records as i64, total);
    assert_eq!(report.unsealed, 0);
    let checkpoints = scalar(&db, "SELECT COUNT(*) FROM audit_checkpoints WHERE log_id = $1").await;
    assert_eq!(report.checkpoints as i64, checkpoints, "every stored checkpoint's root was recomputed");
    db.close().await;
    eprintln!(
        "racing sealers: {total} records, {checkpoints} checkpoints, {rounds} in-process rounds, {} idle, {} fenced, {} CLI seals, {:.1?}",
        tally.idle.load(Ordering::Relaxed),
        tally.fenced.load(Ordering::Relaxed),
        tally.cli_runs.load(Ordering::Relaxed),
        started.elapsed()
    );
}

// ---------------------------------------------------------------------------------------
// 3. A gateway killed under load.
// ---------------------------------------------------------------------------------------

/// Load against one gateway until `stop`: `tasks` clients in a loop, reads with every
/// fourth request a creation. Returns the request ids answered with success and the
/// statuses of any other answer.
async fn load_until(
    d: Arc<Deployment>,
    base: String,
    parties: Arc<Vec<String>>,
    tasks: u32,
    stop: Arc<AtomicBool>,
) -> (Vec<String>, Vec<(String, u16)>) {
    let mut handles = Vec::new();
    for t in 0..tasks {
        let (d, base, parties, stop) = (d.clone(), base.clone(), parties.clone(), stop.clone());
        handles.push(tokio::spawn(async move {
            let http = reqwest::Client::new();
            let (mut answered, mut other) = (Vec::new(), Vec::new());
            let mut i = 0u32;
            while !stop.load(Ordering::Relaxed) {
                let op = if i % 4 == 3 {
                    Op::Create(10_000 + t * 100_000 + i)
                } else {
                    Op::Read(parties[(i as usize + t as usize) % parties.len()].clone())
                };
                let request_id = format!("kill-t{t}-{i:06}");
                match send(&http, &d, &base, &op, &request_id).await {
                    Some(200..=299) => answered.push(request_id),
                    Some(status) => other.push((request_id, status)),
                    None => tokio::time::sleep(Duration::from_millis(5)).await,
                }
                i += 1;
            }
            (answered, other)
        }));
    }
    let (mut answered, mut other) = (Vec::new(), Vec::new());
    for handle in handles {
        let (a, o) = handle.await.unwrap();
        answered.extend(a);
        other.extend(o);
    }
    (answered, other)
}

/// SIGKILL in the middle of traffic: no draining, the group writer's batch and any
/// sealing round cut off. Every request that got an answer must still have its record
/// (answers wait for durability), and a gateway restarted on the same config seals
/// what the dead one left and goes on sealing.
#[tokio::test]
async fn a_gateway_killed_under_load_loses_no_answered_record() {
    let started = Instant::now();
    let d = Arc::new(deploy().await);
    let db = Db::connect(&d.database_url, 2).await.unwrap();
    let first = Gateway::start(&d.config, d.dir.path().join("first.log")).await;
    let (parties, mut answered) = create_parties(&d, &first.base, 1, 5).await;

    let stop = Arc::new(AtomicBool::new(false));
    let load = tokio::spawn(load_until(d.clone(), first.base.clone(), Arc::new(parties.clone()), 6, stop.clone()));
    tokio::time::sleep(Duration::from_millis(2500)).await;
    assert_quiet(&first.kill());
    // The clients keep trying a moment longer: whatever was in flight gets no answer.
    tokio::time::sleep(Duration::from_millis(200)).await;
    stop.store(true, Ordering::Relaxed);
    let (under_load, other) = load.await.unwrap();
    assert!(other.is_empty(), "no request was refused before the kill: {other:?}");
    assert!(under_load.len() > 50, "the gateway was under load: {} answers", under_load.len());
    answered.extend(under_load);

    // Durable before any restart: nothing after the kill could have written them.
    assert_each_answered_request_recorded(&db, &answered).await;
    let second = Gateway::start(&d.config, d.dir.path().join("second.log")).await;
    let (total, _) = record_counts(&db).await;
    let sealed = wait_until_sealed(&db, total).await;
    assert_eq!(assert_linear_checkpoints(&db).await, sealed, "the restarted gateway sealed what the dead one left");
    assert_eq!(assert_dense_leaf_indices(&db).await, sealed);
    assert_cli_verifies(&d.config, sealed).await;

    // New traffic keeps being sealed after the restart.
    let http = reqwest::Client::new();
    for i in 0..20 {
        let status =
            send(&http, &d, &second.base, &Op::Read(parties[i % parties.len()].clone()), &format!("after-{i:04}"))
                .await;
        assert_eq!(status, Some(200));
    }
    let resealed = wait_until_sealed(&db, sealed + 20).await;
    let latest = assert_linear_checkpoints(&db).await;
    assert!(latest >= sealed + 20, "the latest checkpoint grew from {sealed} to {latest}");
    assert_eq!(latest, resealed);
    assert_quiet(&second.stop().await);
    assert_cli_verifies(&d.config, resealed).await;
    db.close().await;
    eprintln!(
        "killed under load: {} answered before the kill, {sealed} sealed after restart, {resealed} after more traffic, {:.1?}",
        answered.len(),
        started.elapsed()
    );
}

/// `audit verify` run against a live log while a sealer keeps extending it never reports
/// tampering: records sealed after it read the checkpoint are judged against a fresher one.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn verifying_while_a_sealer_runs_raises_no_false_alarm() {
    let setup = Arc::new(sealing_setup().await);
    let stop = Arc::new(AtomicBool::new(false));
    let sealing = {
        let (setup, stop) = (setup.clone(), stop.clone());
        tokio::spawn(async move {
            let db = Db::connect(&setup.url, 1).await.unwrap();
            let clock = Clock::system();
            let mut n = 0;
            while !stop.load(Ordering::Relaxed) {
                for _ in 0..3 {
                    writer::append_alone(&db, read_event(0, n).to_draft(&to_db_time(clock.now()))).await.unwrap();
                    n += 1;
                }
                sealer::seal_round(&db, &setup.signer, &clock, &setup.sealing, TENANT).await.unwrap();
            }
        })
    };
    let db = Db::connect(&setup.url, 2).await.unwrap();
    let (mut runs, mut failures) = (0, Vec::new());
    let until = Instant::now() + Duration::from_secs(3);
    while Instant::now() < until {
        runs += 1;
        if let Err(e) =
            verify::verify_log(&db, setup.signer.verifier(), &setup.signer.origin(TENANT), TENANT, None).await
        {
            failures.push(e.to_string());
        }
    }
    stop.store(true, Ordering::Relaxed);
    sealing.await.unwrap();
    assert!(runs > 10, "verify ran {runs} times");
    assert!(failures.is_empty(), "{} of {runs} runs failed; first: {:?}", failures.len(), failures.first());
}
