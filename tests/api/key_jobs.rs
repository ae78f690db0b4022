//! The key-job queue (DESIGN "Storage": claimed as a lease with an expiry, `FOR UPDATE
//! SKIP LOCKED` on PostgreSQL): concurrent workers never take the same job, a claim whose
//! holder died is taken over only once its lease expired, a failing job is retried with
//! backoff without stopping the worker, and two real gateway processes on one database
//! run each rotation an erasure schedules exactly once.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use crate::helpers::*;
use crate::processes::{self, assert_quiet, Gateway};
use chrono::{Duration as Span, Utc};
use custodia::clock::{to_db_time, Clock};
use custodia::db::{Backend, Db};
use custodia::ids::TenantId;
use custodia::keys::jobs;
use custodia::keys::keyring::Keyring;
use custodia::keys::worker::{Finished, JobSettings, Worker};
use custodia::keys::KeyService;
use serde_json::Value;
use std::collections::HashSet;
use std::path::PathBuf;
use std::time::{Duration, Instant};
use tokio_util::sync::CancellationToken;

const LEASE: Duration = Duration::from_secs(60);

async fn enqueue(db: &Db, tenant: &str, retire_below: u32) -> String {
    let mut tx = db.begin_write().await.unwrap();
    let id =
        jobs::enqueue_data_rotation(&mut tx, &TenantId::parse(tenant).unwrap(), retire_below, &to_db_time(Utc::now()))
            .await
            .unwrap();
    tx.commit().await.unwrap();
    id
}

/// `claimers` workers, each on its own connection pool, claim until nothing is left at `now`.
async fn claim_all(url: &str, claimers: usize, now: chrono::DateTime<Utc>) -> Vec<(String, String)> {
    let tasks: Vec<_> = (0..claimers)
        .map(|i| {
            let url = url.to_string();
            tokio::spawn(async move {
                let db = Db::connect(&url, 2).await.unwrap();
                let owner = format!("claimer-{i}");
                let mut claimed = Vec::new();
                while let Some(job) = jobs::claim(&db, &owner, now, LEASE).await.unwrap() {
                    claimed.push((job.id, owner.clone()));
                }
                db.close().await;
                claimed
            })
        })
        .collect();
    let mut all = Vec::new();
    for task in tasks {
        all.extend(task.await.unwrap());
    }
    all
}

fn assert_each_once(claims: &[(String, String)], jobs: &HashSet<String>) {
    let ids: Vec<&String> = claims.iter().map(|(id, _)| id).collect();
    let distinct: HashSet<String> = ids.iter().map(|id| id.to_string()).collect();
    assert_eq!(ids.len(), distinct.len(), "a job was claimed twice: {claims:?}");
    assert_eq!(&distinct, jobs, "every job was claimed");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_claimers_never_take_the_same_job_and_a_lease_is_taken_over_only_once_it_expired() {
    let app = spawn_app_with(AppOptions { jobs_worker: false, ..AppOptions::default() }).await;
    let mut tenants = vec![TENANT.to_string()];
    for i in 0..11 {
        let name = format!("t{i}");
        app.add_tenant(&name).await;
        tenants.push(name);
    }
    let mut ids = HashSet::new();
    for tenant in &tenants {
        ids.insert(enqueue(&app.db, tenant, 2).await);
    }
    // Queueing again for a tenant raises its queued job's target; it adds no job.
    let acme = enqueue(&app.db, TENANT, 3).await;
    assert!(ids.contains(&acme));
    assert_eq!(enqueue(&app.db, TENANT, 2).await, acme);
    assert_eq!(jobs::get(&app.db, &acme).await.unwrap().unwrap().retire_below, 3, "the higher target is kept");
    assert_eq!(app.count("key_jobs").await, 12);

    let start = Utc::now();
    let first = claim_all(&app.database_url, 6, start).await;
    assert_each_once(&first, &ids);
    for (id, owner) in &first {
        let job = jobs::get(&app.db, id).await.unwrap().unwrap();
        assert_eq!((job.attempts, job.lease_owner.as_deref(), job.status()), (1, Some(owner.as_str()), "running"));
    }
    // The holders "died": nobody renews. Before the leases expire nothing is claimable...
    assert!(jobs::claim(&app.db, "early", start + Span::seconds(59), LEASE).await.unwrap().is_none());
    // ...and once they expired, each is taken over exactly once.
    let expiry = jobs::get(&app.db, &acme).await.unwrap().unwrap().lease_expires_at.unwrap();
    let second = claim_all(&app.database_url, 6, start + Span::seconds(61)).await;
    assert_each_once(&second, &ids);
    let taken = jobs::get(&app.db, &acme).await.unwrap().unwrap();
    assert_eq!(taken.attempts, 2);
    assert!(taken.claimed_at.unwrap() >= expiry, "taken over only after the lease expired");
    // A job queued for a tenant whose job is claimed waits for it.
    enqueue(&app.db, TENANT, 4).await;
    assert!(jobs::claim(&app.db, "other", start + Span::seconds(62), LEASE).await.unwrap().is_none());
    app.stop().await;
}

#[tokio::test]
async fn a_failing_job_is_retried_with_backoff_and_the_worker_runs_the_others() {
    let app = spawn_app_with(AppOptions { jobs_worker: false, ..AppOptions::default() }).await;
    let broken_tokens = app.add_tenant("broken").await;
    app.create_party(&party(1)).await;
    // The broken tenant has a party, so its rotation must open the (corrupted) old key.
    let response = app
        .with_token(&broken_tokens[&custodia::access::Role::Ingest], "ingest", reqwest::Method::POST, "/v1/parties")
        .json(&party(2))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 201);
    let mut tx = app.db.begin_write().await.unwrap();
    sqlx::query("UPDATE tenant_keys SET wrapped = $1 WHERE tenant_id = 'broken' AND purpose = 'data'")
        .bind(vec![1u8; 60])
        .execute(&mut *tx)
        .await
        .unwrap();
    tx.commit().await.unwrap();
    let broken = enqueue(&app.db, "broken", 2).await;
    let good = enqueue(&app.db, TENANT, 2).await;

    let keys = KeyService::new(Keyring::load_file(&app.key_file).unwrap(), None, app.backend());
    let settings = JobSettings { lease: LEASE, ..JobSettings::default() };
    let worker = Worker::new(app.db.clone(), keys.clone(), Clock::system(), settings.clone(), "test");
    let runs = worker.run_due(&CancellationToken::new()).await.unwrap();
    assert_eq!(runs.len(), 2, "both jobs ran in one pass, the failure did not stop it");
    for run in &runs {
        if run.job.id == good {
            assert_eq!(run.result, Ok(Finished::Done { version: 2, retired: vec![1] }));
        } else {
            assert!(run.result.as_ref().unwrap_err().contains("integrity"), "{:?}", run.result);
        }
    }
    let failed = jobs::get(&app.db, &broken).await.unwrap().unwrap();
    assert_eq!((failed.status(), failed.attempts, failed.lease_owner.as_deref()), ("retrying", 1, None));
    assert!(failed.last_error.as_deref().unwrap().contains("integrity"));
    let first_retry = failed.run_after.clone();
    assert!(first_retry > to_db_time(Utc::now()), "the retry waits");
    assert!(worker.run_due(&CancellationToken::new()).await.unwrap().is_empty(), "not due yet");

    // Ten seconds on, it is due again; it fails again and waits twice as long.
    let later = Clock::simulated_from((Utc::now() + Span::seconds(10)).fixed_offset());
    let worker = Worker::new(app.db.clone(), keys, later.clone(), settings, "test");
    let runs = worker.run_due(&CancellationToken::new()).await.unwrap();
    assert_eq!(runs.len(), 1);
    let failed = jobs::get(&app.db, &broken).await.unwrap().unwrap();
    assert_eq!(failed.attempts, 2);
    let waited = chrono::DateTime::parse_from_rfc3339(&failed.run_after).unwrap().with_timezone(&Utc) - later.now();
    assert!(waited > Span::seconds(8) && waited <= Span::seconds(10), "5 s, then 10 s: {waited}");
    assert!(failed.run_after > first_retry);
    app.stop().await;
}

// ---------------------------------------------------------------------------------------
// Real gateway processes.
// ---------------------------------------------------------------------------------------

/// A deployment made with the CLI: `tenants`, each with ingest and compliance tokens.
struct Deployment {
    base: processes::Deployment,
    tokens: Vec<(String, String, String)>,
}

impl Deployment {
    async fn new(tenants: usize) -> Self {
        let base = processes::Deployment::new().await;
        let mut d = Self { base, tokens: Vec::new() };
        let config = d.config("setup", true);
        for i in 0..tenants {
            let tenant = format!("t{i}");
            let mut tokens = d.base.tenant(&config, &tenant, &["ingest", "compliance"]).await;
            let (ingest, compliance) = (tokens.remove("ingest").unwrap(), tokens.remove("compliance").unwrap());
            d.tokens.push((tenant, ingest, compliance));
        }
        d
    }

    /// A config file `name.toml`; `worker` says whether the gateway runs the key-job worker.
    fn config(&self, name: &str, worker: bool) -> PathBuf {
        self.base
            .config(name, &format!("jobs = {{ worker = {worker}, poll_ms = 100, lease_seconds = 3, batch = 4 }}\n"))
    }

    fn log(&self, name: &str) -> PathBuf {
        self.base.dir.path().join(name)
    }

    async fn db(&self) -> Db {
        self.base.db().await
    }
}

/// Creates parties 1..=n for a tenant through `base`; returns their ids.
async fn create_parties(http: &reqwest::Client, base: &str, ingest: &str, n: u32) -> Vec<String> {
    let body: String = (1..=n).map(|i| format!("{}\n", party(i))).collect();
    let response = http
        .post(format!("{base}/v1/parties:batch"))
        .bearer_auth(ingest)
        .header("X-Purpose", "ingest")
        .header("Content-Type", "application/x-ndjson")
        .body(body)
        .send()
        .await
        .unwrap();
    let report: Value = response.json().await.unwrap();
    report["lines"].as_array().unwrap().iter().map(|l| l["id"].as_str().unwrap().to_string()).collect()
}

async fn erase(http: &reqwest::Client, base: &str, compliance: &str, party: &str) {
    let response = http
        .post(format!("{base}/v1/parties/{party}/erasure"))
        .bearer_auth(compliance)
        .header("X-Purpose", "dsr")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
}

async fn read_status(http: &reqwest::Client, base: &str, compliance: &str, party: &str) -> u16 {
    let response = http
        .get(format!("{base}/v1/parties/{party}"))
        .bearer_auth(compliance)
        .header("X-Purpose", "compliance_review")
        .send()
        .await
        .unwrap();
    response.status().as_u16()
}

/// Waits until every key job is done; returns them.
async fn wait_all_done(db: &Db, expected: usize) -> Vec<jobs::Job> {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let all = jobs::list(db, None, 100).await.unwrap();
        if all.len() == expected && all.iter().all(|j| j.state == "done") {
            return all;
        }
        assert!(Instant::now() < deadline, "jobs not done in time: {all:?}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// (version, state) of a tenant's data-key versions.
async fn data_versions(db: &Db, tenant: &str) -> Vec<(i64, String)> {
    sqlx::query_as("SELECT version, state FROM tenant_keys WHERE tenant_id = $1 AND purpose = 'data' ORDER BY version")
        .bind(tenant)
        .fetch_all(db.reader())
        .await
        .unwrap()
}

#[tokio::test]
async fn two_gateway_processes_on_one_database_run_each_scheduled_rotation_exactly_once() {
    let d = Deployment::new(4).await;
    let config = d.config("gateway", true);
    let a = Gateway::start(&config, d.log("a.log")).await;
    let b = Gateway::start(&config, d.log("b.log")).await;
    let http = reqwest::Client::new();
    let mut kept = Vec::new();
    for (i, (tenant, ingest, compliance)) in d.tokens.iter().enumerate() {
        let mut ids = create_parties(&http, &a.base, ingest, 12).await;
        let base = if i % 2 == 0 { &a.base } else { &b.base };
        erase(&http, base, compliance, &ids.remove(0)).await;
        kept.push((tenant.clone(), compliance.clone(), ids));
    }
    let db = d.db().await;
    let done = wait_all_done(&db, 4).await;
    for job in &done {
        assert_eq!(job.attempts, 1, "job {} of {} was claimed more than once", job.id, job.tenant);
    }
    for (tenant, compliance, ids) in &kept {
        assert_eq!(
            data_versions(&db, tenant).await,
            vec![(1, "retired".into()), (2, "active".into())],
            "tenant {tenant}: one rotation, never two at once"
        );
        for id in ids {
            assert_eq!(read_status(&http, &b.base, compliance, id).await, 200);
        }
    }
    assert_quiet(&a.stop().await);
    assert_quiet(&b.stop().await);
    db.close().await;
}

#[tokio::test]
async fn a_job_whose_gateway_died_is_taken_over_by_another_once_its_lease_expired() {
    let d = Deployment::new(1).await;
    let (_, ingest, compliance) = d.tokens[0].clone();
    let http = reqwest::Client::new();
    let front = Gateway::start(&d.config("front", false), d.log("front.log")).await;
    let mut ids = create_parties(&http, &front.base, &ingest, 10).await;
    erase(&http, &front.base, &compliance, &ids.remove(0)).await;
    front.stop().await;
    let db = d.db().await;
    let job = jobs::list(&db, None, 10).await.unwrap().remove(0);
    assert_eq!(job.status(), "queued");

    let (dead_owner, dead_expiry) = match db.backend() {
        Backend::Postgres => {
            // Hold the tenant-key table so the gateway blocks right after claiming the job
            // (starting the rotation needs this lock), then kill it there.
            let mut blocker = db.begin_write().await.unwrap();
            sqlx::query("LOCK TABLE tenant_keys IN EXCLUSIVE MODE").execute(&mut *blocker).await.unwrap();
            let doomed = Gateway::start(&d.config("doomed", true), d.log("doomed.log")).await;
            let deadline = Instant::now() + Duration::from_secs(20);
            let claimed = loop {
                let now = jobs::get(&db, &job.id).await.unwrap().unwrap();
                if now.lease_owner.is_some() {
                    break now;
                }
                assert!(Instant::now() < deadline, "the doomed gateway never claimed the job");
                tokio::time::sleep(Duration::from_millis(20)).await;
            };
            doomed.kill();
            blocker.rollback().await.unwrap();
            (claimed.lease_owner.unwrap(), claimed.lease_expires_at.unwrap())
        }
        Backend::Sqlite => {
            // A worker that claimed the job and died at once, as the row it leaves says.
            let now = Utc::now();
            let expiry = to_db_time(now + Span::seconds(3));
            let mut tx = db.begin_write().await.unwrap();
            sqlx::query("UPDATE key_jobs SET state = 'claimed', lease_owner = 'gateway-dead-1', lease_expires_at = $1, claimed_at = $2, attempts = 1 WHERE id = $3")
                .bind(&expiry)
                .bind(to_db_time(now))
                .bind(&job.id)
                .execute(&mut *tx)
                .await
                .unwrap();
            tx.commit().await.unwrap();
            ("gateway-dead-1".to_string(), expiry)
        }
    };

    let heir = Gateway::start(&d.config("heir", true), d.log("heir.log")).await;
    let done = wait_all_done(&db, 1).await.remove(0);
    assert_eq!(done.attempts, 2, "claimed by the dead gateway, then once by the heir");
    assert_ne!(done.lease_owner.as_deref(), Some(dead_owner.as_str()), "the heir finished it");
    assert!(done.claimed_at.unwrap() >= dead_expiry, "taken over only once the dead claim's lease expired");
    assert_eq!(data_versions(&db, "t0").await, vec![(1, "retired".into()), (2, "active".into())]);
    for id in &ids {
        assert_eq!(read_status(&http, &heir.base, &compliance, id).await, 200);
    }
    assert_quiet(&heir.stop().await);
    db.close().await;
}
