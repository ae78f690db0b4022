//! Audited read benchmark (`cargo bench --bench read_path`; needs `wrk` on PATH —
//! `scripts/load.sh` installs it and runs this).
//!
//! Serves the real router on SQLite (and on PostgreSQL when `BENCH_POSTGRES_URL` names a
//! server) with the audit durable in the strict sense (SQLite `synchronous=FULL`,
//! PostgreSQL `synchronous_commit=on`), and drives four endpoints of the same server in
//! the same run with wrk at `BENCH_CONNECTIONS` (64) connections for `BENCH_SECONDS` (10):
//!
//! - `GET /healthz` — a bare handler of the same router (same layers);
//! - `GET /bench/db-work/{id}` — only the database work an audited read needs: the one
//!   point select that loads a party (reader pool), plus its share of a batched insert of
//!   one row of the audit record's size, written the way the audit writer writes (its own
//!   thread and runtime; on SQLite its own connection, on PostgreSQL its own pool);
//! - `GET /bench/db-work-indexed/{id}` — the same, plus one entry per record in a
//!   party index keyed like `audit_record_parties` (party id, then record id) in the
//!   same transaction: the one random-key write per record that party search and the
//!   per-party chain require (every other audit index appends at its end);
//! - `GET /bench/commit-per-record/{id}` — the same select and the real audit record,
//!   but one transaction (one durable commit) per record, as before group commit;
//! - `GET /v1/parties/{id}` — the real audited, decrypting read.
//!
//! Prints req/s, p50 and p99 for each and the ratios of the real read to the
//! baselines. `BENCH_SKIP_SQLITE=1` runs PostgreSQL only; `BENCH_PARTIES` (1000) sets
//! the portfolio size; `BENCH_SEAL_EVERY` and `BENCH_SEAL_MS` override the sealing
//! interval (`audit.seal_every_records`, `audit.seal_every_ms`), e.g. to measure without
//! sealing; `BENCH_ONLY=audited` runs the audited read alone.

use axum::extract::{Path, State};
use axum::routing::get;
use axum::Router;
use custodia::access::{AccessPolicy, Role};
use custodia::api::AppState;
use custodia::audit::service::AuditService;
use custodia::audit::signer::{write_new_key, AuditSigner};
use custodia::audit::{Actor, AuditEvent, Outcome};
use custodia::clock::Clock;
use custodia::config::Config;
use custodia::db::exec::{insert_many, Exec, SqliteWriter, Undo};
use custodia::db::{Backend, Db, SqlValue};
use custodia::demo::generator::{portfolio, PortfolioSpec};
use custodia::ids::TenantId;
use custodia::import::{Importer, RejectFile};
use custodia::keys::keyring::Keyring;
use custodia::keys::KeyService;
use custodia::vault::domain::{Invalid, PartyInput};
use secrecy::ExposeSecret;
use std::process::Command;
use tokio::sync::{mpsc, oneshot};

const NOW: &str = "2026-11-23T00:00:00.000000Z";

fn env_or<T: std::str::FromStr>(name: &str, default: T) -> T {
    std::env::var(name).ok().and_then(|v| v.parse().ok()).unwrap_or(default)
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    sqlx::any::install_default_drivers();
    let dir = tempfile::tempdir()?;
    if std::env::var("BENCH_SKIP_SQLITE").is_err() {
        let url = format!("sqlite://{}", dir.path().join("bench.db").display());
        run("SQLite", &url, dir.path()).await?;
    }
    if let Ok(admin) = std::env::var("BENCH_POSTGRES_URL") {
        let name = format!("custodia_bench_{}", uuid::Uuid::new_v4().simple());
        let pool = sqlx::AnyPool::connect(&admin).await?;
        sqlx::query(&format!("CREATE DATABASE {name}")).execute(&pool).await?;
        let base = admin.rsplit_once('/').map(|(b, _)| b.to_string()).unwrap_or(admin.clone());
        run("PostgreSQL", &format!("{base}/{name}"), dir.path()).await?;
        sqlx::query(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)")).execute(&pool).await?;
    }
    Ok(())
}

async fn run(label: &str, url: &str, dir: &std::path::Path) -> anyhow::Result<()> {
    sqlx::any::install_default_drivers();
    let db = Db::connect(url, 4).await?;
    db.migrate().await?;
    let keys = KeyService::new(Keyring::generate(false)?, None, db.backend());
    let tenant = TenantId::parse("bench")?;
    let token = seed(&db, &keys, &tenant).await?;
    let ids = import_parties(&db, &keys, &tenant).await?;
    let ids_file = dir.join(format!("{label}-ids.txt"));
    std::fs::write(&ids_file, ids.join("\n") + "\n")?;

    let mut config = Config::with_database(url.to_string());
    let key_file = dir.join(format!("{label}-audit.key"));
    write_new_key(&key_file, "custodia-bench")?;
    config.audit.signing_key_file = Some(key_file);
    config.audit.seal_every_records = env_or("BENCH_SEAL_EVERY", config.audit.seal_every_records);
    config.audit.seal_every_ms = env_or("BENCH_SEAL_MS", config.audit.seal_every_ms);
    let audit = AuditService::start(&db, AuditSigner::load(&config.audit)?, Clock::system(), &config.audit).await?;
    let proof = custodia::consent::proof::key::ProofSigner::new(custodia::audit::note::SigningKey::generate(
        "custodia-bench-consent-proof",
    )?);
    let state = AppState::new(
        db.clone(),
        keys,
        AccessPolicy::default_policy()?,
        Clock::system(),
        audit,
        proof,
        (1_000_000, 1_000_000),
    );
    custodia::api::init_metrics();
    let batchers =
        Batchers { plain: Batcher::start(db.clone(), false).await?, indexed: Batcher::start(db.clone(), true).await? };
    let bench_routes = Router::new()
        .route("/bench/db-work/{id}", get(db_work))
        .route("/bench/db-work-indexed/{id}", get(db_work_indexed))
        .route("/bench/commit-per-record/{id}", get(commit_per_record))
        .with_state((state.clone(), batchers));
    let router = custodia::api::router(state, 1024 * 1024).merge(bench_routes);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let base = format!("http://127.0.0.1:{}", listener.local_addr()?.port());
    let server = tokio::spawn(async move { axum::serve(listener, router).await });

    let seconds: u32 = env_or("BENCH_SECONDS", 10);
    let connections: u32 = env_or("BENCH_CONNECTIONS", 64);
    println!("{label}: wrk -t2 -c{connections} -d{seconds}s, {} parties", ids.len());
    // BENCH_ONLY=audited runs the audited read alone (for profiling it).
    let only_audited = std::env::var("BENCH_ONLY").is_ok_and(|v| v == "audited");
    let run = |path: &'static str, prefix: Option<&'static str>, label: &'static str| {
        let (base, token, ids_file) = (base.clone(), token.clone(), ids_file.clone());
        async move {
            if only_audited && prefix != Some("/v1/parties/") {
                return Ok::<_, anyhow::Error>(Figures::skipped());
            }
            let figures = wrk(&base, path, prefix, &token, &ids_file, seconds, connections).await?;
            figures.print(label);
            Ok(figures)
        }
    };
    let bare = run("/healthz", None, "bare handler (/healthz)").await?;
    let work = run("", Some("/bench/db-work/"), "database work only").await?;
    let indexed = run("", Some("/bench/db-work-indexed/"), "database work + party index entry").await?;
    let single = run("", Some("/bench/commit-per-record/"), "select + one commit per record").await?;
    let real = run("", Some("/v1/parties/"), "audited GET /v1/parties/{id}").await?;
    print_audit_metrics(&base).await;
    let refused: Vec<(Option<String>, i64, i64)> = sqlx::query_as(
        "SELECT error_code, status, COUNT(*) FROM audit_records WHERE outcome <> 'allowed' GROUP BY error_code, status",
    )
    .fetch_all(db.reader())
    .await?;
    for (code, status, count) in refused {
        println!("  audited refusals: {count} × {status} {}", code.unwrap_or_default());
    }
    println!(
        "{label}: audited/db-work = {:.2}   audited/db-work+index = {:.2}   audited/bare = {:.3}   audited/commit-per-record = {:.2}",
        real.rps / work.rps,
        real.rps / indexed.rps,
        real.rps / bare.rps,
        real.rps / single.rps
    );
    server.abort();
    db.close().await;
    Ok(())
}

/// A tenant and an agent token.
async fn seed(db: &Db, keys: &KeyService, tenant: &TenantId) -> anyhow::Result<String> {
    let mut tx = db.begin_write().await?;
    custodia::clients::create_tenant(&mut tx, keys, tenant, "bench", NOW).await?;
    let issued = custodia::clients::create_client(&mut tx, tenant, Role::Agent, "bench", NOW).await?;
    tx.commit().await?;
    Ok(issued.token.expose_secret().to_string())
}

/// Imports the generated portfolio on the real path; returns the holders' party ids.
async fn import_parties(db: &Db, keys: &KeyService, tenant: &TenantId) -> anyhow::Result<Vec<String>> {
    let debtors: usize = env_or("BENCH_PARTIES", 1000);
    let today = chrono::NaiveDate::from_ymd_opt(2026, 11, 23).unwrap_or_default();
    let lines = portfolio(&PortfolioSpec { debtors, seed: 11, today }).enumerate().map(|(i, value)| {
        (
            i as u64 + 1,
            serde_json::from_value::<PartyInput>(value)
                .map_err(|_| Invalid::new("invalid_body", "", "bad generated record")),
        )
    });
    let importer = Importer {
        db,
        keys,
        tenant: tenant.clone(),
        today,
        now: NOW.into(),
        batch: custodia::import::DEFAULT_BATCH,
        actor: Actor { tenant: Some(tenant.clone()), ..Actor::default() },
        request_id: "bench".into(),
    };
    importer.run(lines, &mut RejectFile::new(std::io::sink())?, |_| {}).await?;
    Ok(sqlx::query_scalar("SELECT id FROM parties WHERE tenant_id = 'bench' ORDER BY id LIMIT 1000")
        .fetch_all(db.reader())
        .await?)
}

/// A plain group-commit batcher: the insert half of the database-work baselines. It
/// writes the way the real audit writer does, on a thread and runtime of its own: on a
/// SQLite file through a [`SqliteWriter`] of its own, on PostgreSQL through a pool of its
/// own. A baseline on a slower path than the real read's would flatter the ratio.
#[derive(Clone)]
struct Batcher(mpsc::Sender<Job>);

/// One request's row: its payload, the party it is about, and who waits for the commit.
type Job = (Vec<u8>, String, oneshot::Sender<()>);

/// The two baselines' batchers: rows only, and rows plus a party index entry each.
#[derive(Clone)]
struct Batchers {
    plain: Batcher,
    indexed: Batcher,
}

/// Where the baseline's batches go: the same two kinds of connection the audit writer uses.
enum Sink {
    Sqlite(SqliteWriter),
    Pool(Db),
}

/// One transaction's inserts: the rows, and the party index entries (empty for the plain
/// baseline).
struct Batch {
    rows: Vec<Vec<SqlValue>>,
    links: Vec<Vec<SqlValue>>,
}

impl Batch {
    /// The inserts (the statements the audit writer's inserts use).
    async fn insert<E: Exec>(self, tx: &mut E) -> bool {
        insert_many(tx, Undo::Transaction, "bench_rows", &["payload"], self.rows, "").await.is_ok()
            && (self.links.is_empty()
                || insert_many(tx, Undo::Transaction, "bench_party_index", &["party_id", "record_id"], self.links, "")
                    .await
                    .is_ok())
    }
}

impl Sink {
    /// Writes one batch in one transaction; true once it committed.
    async fn write(&mut self, batch: Batch) -> bool {
        match self {
            Sink::Sqlite(writer) => match writer.begin().await {
                Ok(mut tx) => batch.insert(&mut tx).await && tx.commit().is_ok(),
                Err(_) => false,
            },
            Sink::Pool(db) => match db.begin_write().await {
                Ok(mut tx) => batch.insert(&mut *tx).await && tx.commit().await.is_ok(),
                Err(_) => false,
            },
        }
    }
}

impl Batcher {
    /// Starts a batcher; `indexed` also gives each row an entry in a party index.
    async fn start(db: Db, indexed: bool) -> anyhow::Result<Self> {
        sqlx::query("CREATE TABLE IF NOT EXISTS bench_rows (payload BYTEA NOT NULL)").execute(db.reader()).await?;
        // Shaped as `audit_record_parties`: a random key (the party) first, so each record
        // writes into a leaf page of its own.
        let without_rowid = if db.backend() == Backend::Sqlite { " WITHOUT ROWID" } else { "" };
        sqlx::query(&format!(
            "CREATE TABLE IF NOT EXISTS bench_party_index (party_id TEXT NOT NULL, record_id BYTEA NOT NULL, \
             PRIMARY KEY (party_id, record_id)){without_rowid}"
        ))
        .execute(db.reader())
        .await?;
        let (queue, jobs) = mpsc::channel(16_384);
        let writer = match db.sqlite_file().filter(|_| db.backend() == Backend::Sqlite) {
            Some(path) => Some(SqliteWriter::open(path, db.write_turns().clone())?),
            None => None,
        };
        let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
        std::thread::spawn(move || {
            runtime.block_on(async move {
                let sink = match writer {
                    Some(writer) => Sink::Sqlite(writer),
                    None => match db.for_dedicated_runtime(1).await {
                        Ok(own) => Sink::Pool(own),
                        Err(error) => return eprintln!("database-work baseline: no connection of its own: {error}"),
                    },
                };
                Self::run(sink, jobs, indexed).await;
            })
        });
        Ok(Self(queue))
    }

    /// Writes whatever has arrived as one batch; a failed batch drops its senders (500).
    async fn run(mut sink: Sink, mut jobs: mpsc::Receiver<Job>, indexed: bool) {
        let mut jobs_in_batch = Vec::new();
        while jobs.recv_many(&mut jobs_in_batch, 1024).await > 0 {
            let mut batch = Batch { rows: Vec::new(), links: Vec::new() };
            for (payload, party, _) in &jobs_in_batch {
                batch.rows.push(vec![SqlValue::Blob(payload.clone())]);
                if indexed {
                    let record_id = uuid::Uuid::now_v7().as_bytes().to_vec();
                    batch.links.push(vec![SqlValue::Text(party.clone()), SqlValue::Blob(record_id)]);
                }
            }
            let written = sink.write(batch).await;
            for (_, _, done) in jobs_in_batch.drain(..) {
                if written {
                    let _ = done.send(());
                }
            }
        }
    }

    async fn append(&self, payload: Vec<u8>, party: &str) -> bool {
        let (done, wait) = oneshot::channel();
        self.0.send((payload, party.to_string(), done)).await.is_ok() && wait.await.is_ok()
    }
}

type BenchState = (AppState, Batchers);

async fn load(state: &AppState, id: &str) -> bool {
    let Ok(mut conn) = state.db.reader().acquire().await else { return false };
    matches!(custodia::vault::store::load_party(&mut conn, "bench", id).await, Ok(Some(_)))
}

fn event(id: &str) -> AuditEvent {
    AuditEvent {
        actor: Actor { tenant: TenantId::parse("bench").ok(), role: Some(Role::Agent), ..Actor::default() },
        action: "party.read",
        resource_id: Some(id.to_string()),
        parties: vec![id.to_string()],
        evidence: None,
        fields: vec!["full_name:clear".into(), "phones:masked".into()],
        outcome: Outcome::Allowed,
        status: 200,
        error_code: None,
        request_id: uuid::Uuid::now_v7().simple().to_string(),
        seen_versions: Vec::new(),
    }
}

async fn db_work(State((state, batchers)): State<BenchState>, Path(id): Path<String>) -> axum::http::StatusCode {
    select_and_append(&state, &batchers.plain, &id).await
}

async fn db_work_indexed(
    State((state, batchers)): State<BenchState>,
    Path(id): Path<String>,
) -> axum::http::StatusCode {
    select_and_append(&state, &batchers.indexed, &id).await
}

/// The database-work baselines: load the party, then wait for its row to be durable.
async fn select_and_append(state: &AppState, batcher: &Batcher, id: &str) -> axum::http::StatusCode {
    let payload = event(id).to_draft(NOW).record.encode();
    if load(state, id).await && batcher.append(payload, id).await {
        axum::http::StatusCode::OK
    } else {
        axum::http::StatusCode::INTERNAL_SERVER_ERROR
    }
}

async fn commit_per_record(State((state, _)): State<BenchState>, Path(id): Path<String>) -> axum::http::StatusCode {
    let found = load(&state, &id).await;
    let written = custodia::audit::writer::append_alone(&state.db, event(&id).to_draft(&state.now_db())).await;
    if found && written.is_ok() {
        axum::http::StatusCode::OK
    } else {
        axum::http::StatusCode::INTERNAL_SERVER_ERROR
    }
}

struct Figures {
    rps: f64,
    p50: String,
    p99: String,
    errors: String,
}

impl Figures {
    fn skipped() -> Self {
        Self { rps: f64::NAN, p50: "-".into(), p99: "-".into(), errors: "-".into() }
    }

    fn print(&self, label: &str) {
        println!(
            "  {label:<34} {:>10.0} req/s   p50 {:>9}   p99 {:>9}   non-2xx {}",
            self.rps, self.p50, self.p99, self.errors
        );
    }
}

/// Runs wrk against `path`, or against random ids from the ids file under `prefix`.
async fn wrk(
    base: &str,
    path: &str,
    prefix: Option<&str>,
    token: &str,
    ids_file: &std::path::Path,
    seconds: u32,
    connections: u32,
) -> anyhow::Result<Figures> {
    let script = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("scripts").join("get_party.lua");
    let mut command = Command::new("wrk");
    command.args(["-t2", &format!("-c{connections}"), &format!("-d{seconds}s"), "--latency"]);
    if let Some(prefix) = prefix {
        command.arg("-s").arg(script).env("IDS_FILE", ids_file).env("TOKEN", token).env("PATH_PREFIX", prefix);
    }
    command.arg(format!("{base}{path}"));
    let output = tokio::task::spawn_blocking(move || command.output()).await??;
    let text = String::from_utf8_lossy(&output.stdout).to_string();
    let field = |key: &str, col: usize| {
        text.lines()
            .find(|l| l.trim_start().starts_with(key))
            .and_then(|l| l.split_whitespace().nth(col))
            .unwrap_or("?")
            .to_string()
    };
    Ok(Figures {
        rps: field("Requests/sec", 1).parse().unwrap_or(0.0),
        p50: field("50%", 1),
        p99: field("99%", 1),
        errors: text
            .lines()
            .find(|l| l.contains("Non-2xx"))
            .and_then(|l| l.split_whitespace().last())
            .unwrap_or("0")
            .to_string(),
    })
}

/// Group-commit figures from the gateway's own metrics: mean batch size and time.
async fn print_audit_metrics(base: &str) {
    let Ok(response) = reqwest::get(format!("{base}/metrics")).await else { return };
    let Ok(text) = response.text().await else { return };
    let value = |name: &str| {
        text.lines()
            .find(|l| l.starts_with(name))
            .and_then(|l| l.split_whitespace().last())
            .and_then(|v| v.parse::<f64>().ok())
            .unwrap_or(0.0)
    };
    for line in text.lines().filter(|l| l.starts_with("custodia_http_requests_total") && !l.contains("status=\"200\""))
    {
        println!("  unexpected answers: {line}");
    }
    let rounds = value("custodia_audit_seal_seconds_count");
    if rounds > 0.0 {
        println!(
            "  sealing: {rounds:.0} rounds, {:.0} records/round, {:.2} ms/round in the write transaction",
            value("custodia_audit_sealed_records_total") / rounds,
            value("custodia_audit_seal_seconds_sum") / rounds * 1000.0
        );
    }
    let batches = value("custodia_audit_batch_records_count");
    if batches > 0.0 {
        // The tail matters more than the mean: a slow batch holds every request in flight.
        let within = |bound: &str| value(&format!("custodia_audit_batch_seconds_bucket{{le=\"{bound}\"}}"));
        println!(
            "  group commit: {batches:.0} batches, {:.1} records/batch, {:.2} ms/batch, {:.0} over 5 ms, {:.0} over 10 ms",
            value("custodia_audit_batch_records_sum") / batches,
            value("custodia_audit_batch_seconds_sum") / batches * 1000.0,
            batches - within("0.005"),
            batches - within("0.01")
        );
    }
}
