//! Real processes for the tests that need them: `custodia serve` gateways started on a
//! deployment's config file, the CLI, and deployments made the way an operator makes
//! them (key files, a config file, tenants and tokens created through the CLI).

#![allow(dead_code, clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use crate::helpers::{fresh_database, BIN};
use custodia::db::Db;
use custodia::keys::keyring::Keyring;
use serde_json::Value;
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// Runs the CLI without blocking the test's runtime (other tasks keep going meanwhile).
pub async fn cli(config: &Path, args: &[&str]) -> std::process::Output {
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
pub async fn cli_ok(config: &Path, args: &[&str]) -> String {
    let output = cli(config, args).await;
    let text = format!("{}{}", String::from_utf8_lossy(&output.stdout), String::from_utf8_lossy(&output.stderr));
    assert!(output.status.success(), "custodia {args:?} failed ({}): {text}", output.status);
    text
}

/// A `custodia serve` process and its log. Dropping it kills the process, so a failing
/// test never leaves a gateway running behind it.
pub struct Gateway {
    child: Option<Child>,
    pub base: String,
    log: PathBuf,
}

impl Gateway {
    /// Starts `serve` on `config` (which listens on port 0) and reads the port it bound
    /// from its `custodia listening` log line.
    pub async fn start(config: &Path, log: PathBuf) -> Self {
        let log_file = std::fs::File::create(&log).unwrap();
        let child = Command::new(BIN)
            .arg("--config")
            .arg(config)
            .arg("serve")
            .env("RUST_LOG", "info,sqlx=warn")
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

    pub fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// SIGKILL: no draining, no shutdown hooks, transactions in flight are lost. Returns
    /// the log written until then.
    pub fn kill(mut self) -> String {
        if let Some(mut child) = self.child.take() {
            child.kill().unwrap();
            child.wait().unwrap();
        }
        self.log_text()
    }

    /// SIGTERM; the gateway must drain and exit cleanly. Returns its log.
    pub async fn stop(mut self) -> String {
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
pub fn assert_quiet(log: &str) {
    let loud: Vec<&str> =
        log.lines().filter(|l| l.contains("\"level\":\"WARN\"") || l.contains("\"level\":\"ERROR\"")).collect();
    assert!(loud.is_empty(), "the gateway logged {} warnings or errors: {:?}", loud.len(), &loud[..loud.len().min(5)]);
}

/// Key files and a fresh database: what every configuration of one deployment shares.
pub struct Deployment {
    pub dir: tempfile::TempDir,
    pub database_url: String,
    pub master_key: PathBuf,
    pub audit_key: PathBuf,
    pub proof_key: PathBuf,
}

impl Deployment {
    pub async fn new() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let master_key = dir.path().join("master.key");
        Keyring::generate(false).unwrap().save_file(&master_key).unwrap();
        let audit_key = dir.path().join("audit-signing.key");
        custodia::audit::signer::write_new_key(&audit_key, "custodia-test-audit").unwrap();
        let proof_key = dir.path().join("consent-proof.key");
        custodia::consent::proof::key::write_new_key(&proof_key, "custodia-test-consent-proof").unwrap();
        let database_url = fresh_database(dir.path()).await;
        Self { dir, database_url, master_key, audit_key, proof_key }
    }

    /// Writes `name.toml`: this deployment's database and keys, port 0, the rate limit
    /// lifted (it is per client and per gateway, and load tests must never be refused),
    /// sealing every 200 ms, then `extra` (more TOML lines).
    pub fn config(&self, name: &str, extra: &str) -> PathBuf {
        let path = self.dir.path().join(format!("{name}.toml"));
        std::fs::write(
            &path,
            format!(
                "database_url = \"{}\"\nmaster_key_file = \"{}\"\nlisten = \"127.0.0.1:0\"\n\
                 rate_limit_per_second = 100000\nrate_limit_burst = 100000\n\
                 audit = {{ signing_key_file = \"{}\", seal_every_ms = 200 }}\n\
                 consent = {{ proof_key_file = \"{}\" }}\n{extra}",
                self.database_url,
                self.master_key.display(),
                self.audit_key.display(),
                self.proof_key.display()
            ),
        )
        .unwrap();
        path
    }

    /// Creates `tenant` and one client per role through the CLI; returns role → token.
    pub async fn tenant(&self, config: &Path, tenant: &str, roles: &[&str]) -> HashMap<String, String> {
        cli_ok(config, &["tenants", "create", tenant]).await;
        let mut tokens = HashMap::new();
        for role in roles {
            let text = cli_ok(config, &["clients", "create", "--tenant", tenant, "--role", role]).await;
            let token = text.lines().find_map(|l| l.strip_prefix("token (shown once, store it now): ")).unwrap();
            tokens.insert(role.to_string(), token.trim().to_string());
        }
        tokens
    }

    /// A connection of the test's own to the deployment's database.
    pub async fn db(&self) -> Db {
        Db::connect(&self.database_url, 2).await.unwrap()
    }
}
