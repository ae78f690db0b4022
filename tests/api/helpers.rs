//! Test harness: `spawn_app()` starts the real router on a random port with a fresh
//! database — a new SQLite file by default, or a new PostgreSQL database when
//! `CUSTODIA_TEST_POSTGRES_URL` names a server (CI runs the suite both ways) — a demo
//! tenant, and one token per role.

#![allow(dead_code, clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use custodia::access::Role;
use custodia::clients;
use custodia::clock::Clock;
use custodia::config::Config;
use custodia::db::{Backend, Db};
use custodia::ids::TenantId;
use custodia::keys::keyring::Keyring;
use custodia::startup::{open_core, Application};
use secrecy::ExposeSecret;
use serde_json::{json, Value};
use std::collections::HashMap;
use std::path::PathBuf;
use tokio::sync::oneshot;

pub const TENANT: &str = "acme";

pub struct TestApp {
    pub base: String,
    pub http: reqwest::Client,
    pub tokens: HashMap<Role, String>,
    pub db: Db,
    pub database_url: String,
    pub dir: tempfile::TempDir,
    pub key_file: PathBuf,
    pub config: Config,
    stop: Option<oneshot::Sender<()>>,
    server: Option<tokio::task::JoinHandle<()>>,
}

/// Which backend the suite runs on.
pub fn postgres_admin_url() -> Option<String> {
    std::env::var("CUSTODIA_TEST_POSTGRES_URL").ok().filter(|u| !u.is_empty())
}

/// A fresh, empty database URL for one test (and the directory holding its files).
pub async fn fresh_database(dir: &std::path::Path) -> String {
    match postgres_admin_url() {
        Some(admin) => {
            let name = format!("custodia_test_{}", uuid::Uuid::new_v4().simple());
            sqlx::any::install_default_drivers();
            let pool = sqlx::AnyPool::connect(&admin).await.expect("connect to PostgreSQL admin database");
            sqlx::query(&format!("CREATE DATABASE {name}")).execute(&pool).await.expect("create test database");
            pool.close().await;
            let base = admin.rsplit_once('/').map(|(b, _)| b.to_string()).unwrap_or(admin);
            format!("{base}/{name}")
        }
        None => format!("sqlite://{}", dir.join("custodia.db").display()),
    }
}

pub struct AppOptions {
    pub clock: Option<&'static str>,
    pub rate_per_second: u32,
    pub burst: u32,
    pub max_body_bytes: usize,
    /// Witness verifier keys whose cosignatures the gateway accepts.
    pub witness_keys: Vec<String>,
    /// Keep encrypted party rows in memory (the default, as in production). Tests that
    /// tamper with the database behind the gateway's back turn it off: a copy in memory
    /// would hide the tampering (serving the untampered value), and they check what the
    /// database path does with it.
    pub party_cache: bool,
    /// Run the key-job worker in the gateway (tests that must see a job before it runs
    /// turn it off and run it themselves).
    pub jobs_worker: bool,
    /// Run the data-subject request sweeper in the gateway (tests that drive it with an
    /// explicit `now`, or run the clock far ahead, turn it off).
    pub dsr_sweeper: bool,
}

impl Default for AppOptions {
    fn default() -> Self {
        Self {
            clock: None,
            rate_per_second: 10_000,
            burst: 10_000,
            max_body_bytes: 1024 * 1024,
            witness_keys: Vec::new(),
            party_cache: true,
            jobs_worker: true,
            dsr_sweeper: true,
        }
    }
}

/// A gateway that reads parties from the database on every request (see
/// [`AppOptions::party_cache`]).
pub async fn spawn_app_reading_the_database() -> TestApp {
    spawn_app_with(AppOptions { party_cache: false, ..AppOptions::default() }).await
}

pub async fn spawn_app() -> TestApp {
    spawn_app_with(AppOptions::default()).await
}

pub async fn spawn_app_with(options: AppOptions) -> TestApp {
    let dir = tempfile::tempdir().unwrap();
    let key_file = dir.path().join("master.key");
    Keyring::generate(false).unwrap().save_file(&key_file).unwrap();
    let database_url = fresh_database(dir.path()).await;
    let mut config = Config::with_database(database_url.clone());
    config.listen = "127.0.0.1:0".parse().unwrap();
    config.master_key_file = Some(key_file.clone());
    let audit_key = dir.path().join("audit-signing.key");
    custodia::audit::signer::write_new_key(&audit_key, "custodia-test-audit").unwrap();
    config.audit.signing_key_file = Some(audit_key);
    let proof_key = dir.path().join("consent-proof.key");
    custodia::consent::proof::key::write_new_key(&proof_key, "custodia-test-consent-proof").unwrap();
    config.consent.proof_key_file = Some(proof_key);
    config.audit.checkpoint_dir = Some(dir.path().join("checkpoints"));
    config.audit.seal_every_ms = 200;
    config.audit.witness_keys = options.witness_keys.clone();
    config.rate_limit_per_second = options.rate_per_second;
    config.rate_limit_burst = options.burst;
    config.max_body_bytes = options.max_body_bytes;
    if !options.party_cache {
        config.cache.parties = 0;
    }
    config.jobs.worker = options.jobs_worker;
    config.jobs.poll_ms = 100;
    config.jobs.lease_seconds = 10;
    config.dsr.sweeper = options.dsr_sweeper;
    config.dsr.sweep_every_ms = 250;
    if let Some(clock) = options.clock {
        config.simulated_clock_allowed = true;
        config.clock = Some(clock.to_string());
    }
    config.validate().unwrap();
    let clock = custodia::startup::clock_from(&config).unwrap();
    let core = open_core(&config).await.unwrap();
    let tokens = seed_tenant(&core.db, &core.keys, TENANT).await;
    let db = core.db.clone();
    let app = Application::from_core(core, &config, clock).await.unwrap();
    let base = format!("http://127.0.0.1:{}", app.port());
    let (stop, stopped) = oneshot::channel::<()>();
    let server = tokio::spawn(async move {
        app.run_until_stopped(async {
            let _ = stopped.await;
        })
        .await
        .unwrap();
    });
    TestApp {
        base,
        http: reqwest::Client::new(),
        tokens,
        db,
        database_url,
        dir,
        key_file,
        config,
        stop: Some(stop),
        server: Some(server),
    }
}

/// Creates a tenant with one client per role; returns the tokens.
pub async fn seed_tenant(db: &Db, keys: &custodia::keys::KeyService, tenant: &str) -> HashMap<Role, String> {
    let tenant = TenantId::parse(tenant).unwrap();
    let now = custodia::clock::to_db_time(Clock::system().now());
    let mut tx = db.begin_write().await.unwrap();
    if !clients::tenant_exists(&mut tx, &tenant).await.unwrap() {
        clients::create_tenant(&mut tx, keys, &tenant, tenant.as_str(), &now).await.unwrap();
    }
    let mut tokens = HashMap::new();
    for role in Role::ALL {
        let issued = clients::create_client(&mut tx, &tenant, *role, role.as_str(), &now).await.unwrap();
        tokens.insert(*role, issued.token.expose_secret().to_string());
    }
    tx.commit().await.unwrap();
    tokens
}

impl TestApp {
    pub fn backend(&self) -> Backend {
        self.db.backend()
    }

    /// A request with a role's token and a purpose.
    pub fn as_role(&self, role: Role, purpose: &str, method: reqwest::Method, path: &str) -> reqwest::RequestBuilder {
        self.http
            .request(method, format!("{}{path}", self.base))
            .bearer_auth(&self.tokens[&role])
            .header("X-Purpose", purpose)
    }

    pub async fn post_json(&self, role: Role, purpose: &str, path: &str, body: &Value) -> reqwest::Response {
        self.as_role(role, purpose, reqwest::Method::POST, path).json(body).send().await.unwrap()
    }

    pub async fn get(&self, role: Role, purpose: &str, path: &str) -> reqwest::Response {
        self.as_role(role, purpose, reqwest::Method::GET, path).send().await.unwrap()
    }

    /// Creates a party as `ingest` and returns its id.
    pub async fn create_party(&self, body: &Value) -> String {
        let response = self.post_json(Role::Ingest, "ingest", "/v1/parties", body).await;
        let status = response.status();
        let json: Value = response.json().await.unwrap();
        assert_eq!(status, 201, "{json}");
        json["id"].as_str().unwrap().to_string()
    }

    /// Reads a party with a role and purpose; returns status and body.
    pub async fn read_party(&self, role: Role, purpose: &str, id: &str) -> (u16, Value) {
        let response = self.get(role, purpose, &format!("/v1/parties/{id}")).await;
        let status = response.status().as_u16();
        (status, response.json().await.unwrap_or(Value::Null))
    }

    pub async fn count(&self, table: &str) -> i64 {
        sqlx::query_scalar(&format!("SELECT COUNT(*) FROM {table}")).fetch_one(self.db.reader()).await.unwrap()
    }

    /// Row counts of every data table, to prove a refused request wrote nothing.
    pub async fn row_counts(&self) -> Vec<(String, i64)> {
        let mut out = Vec::new();
        for table in [
            "parties",
            "party_keys",
            "party_fields",
            "blind_indexes",
            "obligations",
            "obligation_parties",
            "payments",
            "promises",
            "idempotency_keys",
            "retention_holds",
            "key_jobs",
            "tenant_keys",
            "privacy_notices",
            "consent_events",
            "notice_served_events",
            "party_flag_events",
            "dsr_requests",
            "dsr_events",
        ] {
            out.push((table.to_string(), self.count(table).await));
        }
        out
    }

    pub async fn audit_count(&self) -> i64 {
        self.count("audit_records").await
    }

    pub async fn stop(mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(server) = self.server.take() {
            let _ = server.await;
        }
    }
}

/// A complete, valid Colombian party with distinctive values derived from `n`.
pub fn party(n: u32) -> Value {
    json!({
        "external_ref": format!("CRM-{n:06}"),
        "jurisdiction": "CO",
        "full_name": format!("Zebulón Quíxotez {} Wyvernsson", ["Aldana", "Barreto", "Cifuentes", "Duarte", "Escobar"][n as usize % 5]),
        "national_id": {"type": "CC", "number": format!("{}", 739_100_000 + n)},
        "phones": [{"id": "mobile", "number": format!("+57315{:07}", 7_300_000 + n)}, {"id": "home", "number": format!("+57601{:07}", 4_400_000 + n)}],
        "emails": [{"id": "personal", "address": format!("zq.wyvern{n}@example.co")}],
        "address": {"line1": format!("Calle {n}Q # 71-46 Zzyzx"), "city": "Bogotá", "region": "Bogotá D.C.", "postal_code": "110231", "country": "CO"},
        "date_of_birth": "1933-11-07"
    })
}

/// The personal values of `party(n)`, as they would appear in clear.
pub fn party_secrets(n: u32) -> Vec<String> {
    vec![
        format!("{}", 739_100_000 + n),
        format!("315{:07}", 7_300_000 + n),
        format!("601{:07}", 4_400_000 + n),
        format!("zq.wyvern{n}@example.co"),
        format!("Calle {n}Q # 71-46 Zzyzx"),
        "Wyvernsson".to_string(),
        "1933-11-07".to_string(),
    ]
}

/// Makes every insert into the audit log fail, as a full disk or a broken audit
/// store would, without touching the gateway's code.
pub async fn break_audit_log(app: &TestApp) {
    let statements: Vec<&str> = match app.backend() {
        Backend::Sqlite => vec!["CREATE TRIGGER audit_broken BEFORE INSERT ON audit_records BEGIN SELECT RAISE(ABORT, 'audit store unavailable'); END"],
        Backend::Postgres => vec![
            "CREATE FUNCTION audit_broken() RETURNS trigger AS $$ BEGIN RAISE EXCEPTION 'audit store unavailable'; END $$ LANGUAGE plpgsql",
            "CREATE TRIGGER audit_broken BEFORE INSERT ON audit_records FOR EACH ROW EXECUTE FUNCTION audit_broken()",
        ],
    };
    let mut tx = app.db.begin_write().await.unwrap();
    for statement in statements {
        sqlx::query(statement).execute(&mut *tx).await.unwrap();
    }
    tx.commit().await.unwrap();
}

impl TestApp {
    /// Creates another tenant in the same database, with its own keys (wrapped by the same
    /// master key file) and one client per role; returns its tokens.
    pub async fn add_tenant(&self, name: &str) -> HashMap<Role, String> {
        let keyring = Keyring::load_file(&self.key_file).unwrap();
        let keys = custodia::keys::KeyService::new(keyring, Some(self.key_file.clone()), self.backend());
        seed_tenant(&self.db, &keys, name).await
    }

    /// A request with an explicit token (another tenant's, say) and a purpose.
    pub fn with_token(
        &self,
        token: &str,
        purpose: &str,
        method: reqwest::Method,
        path: &str,
    ) -> reqwest::RequestBuilder {
        self.http.request(method, format!("{}{path}", self.base)).bearer_auth(token).header("X-Purpose", purpose)
    }
}

/// The real binary, for tests that run the CLI.
pub const BIN: &str = env!("CARGO_BIN_EXE_custodia");

impl TestApp {
    /// Writes a configuration file for the CLI naming this app's database and keys.
    pub fn config_file(&self) -> PathBuf {
        let path = self.dir.path().join("custodia.toml");
        let audit_key = self.config.audit.signing_key_file.clone().unwrap();
        std::fs::write(
            &path,
            format!(
                "database_url = \"{}\"\nmaster_key_file = \"{}\"\naudit = {{ signing_key_file = \"{}\" }}\n",
                self.database_url,
                self.key_file.display(),
                audit_key.display()
            ),
        )
        .unwrap();
        path
    }

    /// Runs `custodia --config <this app> ARGS`; returns (exit code, stdout + stderr).
    pub async fn cli(&self, args: &[&str]) -> (i32, String) {
        let output = tokio::process::Command::new(BIN)
            .arg("--config")
            .arg(self.config_file())
            .args(args)
            .env("RUST_LOG", "warn")
            .output()
            .await
            .unwrap();
        let text = format!("{}{}", String::from_utf8_lossy(&output.stdout), String::from_utf8_lossy(&output.stderr));
        (output.status.code().unwrap_or(-1), text)
    }

    /// Creates an obligation with `status` linking `parties` as (id, role); returns its id.
    pub async fn create_obligation(&self, reference: &str, status: &str, parties: &[(&str, &str)]) -> String {
        let links: Vec<Value> = parties.iter().map(|(id, role)| json!({"party_id": id, "role": role})).collect();
        let body = json!({
            "external_ref": reference, "product": "credit_card", "currency": "COP", "principal": "1000000.00",
            "balance": "500000.00", "due_date": "2026-09-15", "status": status, "parties": links,
        });
        let response = self.post_json(Role::Ingest, "ingest", "/v1/obligations", &body).await;
        let status = response.status();
        let json: Value = response.json().await.unwrap();
        assert_eq!(status, 201, "{json}");
        json["id"].as_str().unwrap().to_string()
    }

    /// POST /v1/parties/{id}/erasure as compliance with purpose `dsr`; returns status and body.
    pub async fn erase(&self, id: &str) -> (u16, Value) {
        let response = self
            .as_role(Role::Compliance, "dsr", reqwest::Method::POST, &format!("/v1/parties/{id}/erasure"))
            .send()
            .await
            .unwrap();
        let status = response.status().as_u16();
        (status, response.json().await.unwrap_or(Value::Null))
    }

    /// Searches as compliance review; returns the ids found.
    pub async fn search_ids(&self, query: &Value) -> Vec<String> {
        let response = self.post_json(Role::Compliance, "compliance_review", "/v1/parties:search", query).await;
        assert_eq!(response.status(), 200, "search {query}");
        let body: Value = response.json().await.unwrap();
        body["results"].as_array().unwrap().iter().map(|r| r["id"].as_str().unwrap().to_string()).collect()
    }
}

/// The four searches that find `party(n)`: national id, both phones' mobile, e-mail, reference.
pub fn searches_for(n: u32) -> Vec<Value> {
    vec![
        json!({"national_id": {"type": "CC", "number": format!("{}", 739_100_000 + n)}}),
        json!({"phone": format!("+57315{:07}", 7_300_000 + n)}),
        json!({"email": format!("zq.wyvern{n}@example.co")}),
        json!({"external_ref": format!("CRM-{n:06}")}),
    ]
}
