//! Tests that run the real `custodia` binary: the CLI, `serve` with its log output, and
//! `demo`. The personal-data scan lives here because it needs the server's real logs.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use crate::helpers::*;
use serde_json::{json, Value};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

const BIN: &str = env!("CARGO_BIN_EXE_custodia");

fn custodia(config: &Path, args: &[&str]) -> String {
    let output = Command::new(BIN).arg("--config").arg(config).args(args).env("RUST_LOG", "debug").output().unwrap();
    let text = format!("{}{}", String::from_utf8_lossy(&output.stdout), String::from_utf8_lossy(&output.stderr));
    assert!(output.status.success(), "custodia {args:?} failed: {text}");
    text
}

/// A served gateway process with its log file.
struct Served {
    child: Child,
    base: String,
    log: PathBuf,
}

impl Served {
    fn start(config: &Path, log: PathBuf) -> Self {
        let log_file = std::fs::File::create(&log).unwrap();
        let child = Command::new(BIN)
            .arg("--config")
            .arg(config)
            .arg("serve")
            .env("RUST_LOG", "debug")
            .env("CUSTODIA_LOG_FORMAT", "json")
            .stdout(Stdio::from(log_file.try_clone().unwrap()))
            .stderr(Stdio::from(log_file))
            .spawn()
            .unwrap();
        let port = wait_for(|| {
            let text = std::fs::read_to_string(&log).ok()?;
            text.lines()
                .filter_map(|l| serde_json::from_str::<Value>(l).ok())
                .find(|l| l["message"] == "custodia listening")
                .and_then(|l| l["port"].as_u64())
        });
        Self { child, base: format!("http://127.0.0.1:{port}"), log }
    }

    fn stop(mut self) -> String {
        let _ = Command::new("kill").arg("-TERM").arg(self.child.id().to_string()).status();
        let status = self.child.wait().unwrap();
        assert!(status.success(), "gateway did not shut down cleanly: {status}");
        std::fs::read_to_string(&self.log).unwrap()
    }
}

fn wait_for<T>(mut probe: impl FnMut() -> Option<T>) -> T {
    for _ in 0..600 {
        if let Some(value) = probe() {
            return value;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    panic!("timed out waiting for the gateway");
}

/// Config, key file and a tenant with ingest and compliance tokens, made through the CLI.
struct Deployment {
    dir: tempfile::TempDir,
    config: PathBuf,
    database_url: String,
    ingest: String,
    compliance: String,
}

async fn deploy() -> Deployment {
    let dir = tempfile::tempdir().unwrap();
    let key = dir.path().join("master.key");
    let out = Command::new(BIN).args(["keys", "generate", "--out"]).arg(&key).output().unwrap();
    assert!(out.status.success());
    let audit_key = dir.path().join("audit-signing.key");
    let out = Command::new(BIN).args(["audit", "keygen", "--out"]).arg(&audit_key).output().unwrap();
    assert!(out.status.success());
    let proof_key = dir.path().join("consent-proof.key");
    let out = Command::new(BIN).args(["consent", "keygen", "--out"]).arg(&proof_key).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let database_url = fresh_database(dir.path()).await;
    let config = dir.path().join("custodia.toml");
    std::fs::write(
        &config,
        format!(
            "database_url = \"{database_url}\"\nmaster_key_file = \"{}\"\nlisten = \"127.0.0.1:0\"\naudit = {{ signing_key_file = \"{}\", seal_every_ms = 200 }}\nconsent = {{ proof_key_file = \"{}\" }}\n",
            key.display(),
            audit_key.display(),
            proof_key.display()
        ),
    )
    .unwrap();
    custodia(&config, &["tenants", "create", TENANT]);
    let token = |role: &str| {
        let text = custodia(&config, &["clients", "create", "--tenant", TENANT, "--role", role]);
        text.lines().find_map(|l| l.strip_prefix("token (shown once, store it now): ")).unwrap().trim().to_string()
    };
    let (ingest, compliance) = (token("ingest"), token("compliance"));
    Deployment { dir, config, database_url, ingest, compliance }
}

fn contains_any(bytes: &[u8], secrets: &[String]) -> bool {
    secrets.iter().any(|secret| bytes.windows(secret.len()).any(|w| w == secret.as_bytes()))
}

fn scan(label: &str, bytes: &[u8], secrets: &[String]) {
    assert!(!contains_any(bytes, secrets), "{label} contains a personal value ({} bytes scanned)", bytes.len());
}

fn sqlite_files(database_url: &str) -> Vec<(String, Vec<u8>)> {
    let path = database_url.trim_start_matches("sqlite://").split('?').next().unwrap().to_string();
    ["", "-wal", "-shm"]
        .iter()
        .filter_map(|suffix| {
            std::fs::read(format!("{path}{suffix}")).ok().map(|b| (format!("database file{suffix}"), b))
        })
        .collect()
}

fn pg_dump(database_url: &str) -> Vec<u8> {
    let output =
        Command::new("pg_dump").arg(database_url).output().expect("pg_dump is installed with the PostgreSQL client");
    assert!(output.status.success(), "pg_dump failed: {}", String::from_utf8_lossy(&output.stderr));
    output.stdout
}

#[tokio::test]
async fn no_personal_value_reaches_the_database_files_the_logs_or_the_reject_files() {
    let d = deploy().await;
    let served = Served::start(&d.config, d.dir.path().join("server.log"));
    let http = reqwest::Client::new();
    let mut secrets: Vec<String> = (1..=12).flat_map(party_secrets).collect();
    for n in 1..=3 {
        let response = http
            .post(format!("{}/v1/parties", served.base))
            .bearer_auth(&d.ingest)
            .header("X-Purpose", "ingest")
            .json(&party(n))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 201);
    }
    // A rejected line through the API: its invalid value must not be echoed anywhere.
    let mut bad = party(4);
    bad["phones"][0]["number"] = json!("+57999888777666");
    secrets.push("999888777666".into());
    let ndjson = [party(5), bad, party(6)].iter().map(|p| p.to_string()).collect::<Vec<_>>().join("\n");
    let response = http
        .post(format!("{}/v1/parties:batch", served.base))
        .bearer_auth(&d.ingest)
        .header("X-Purpose", "ingest")
        .header("Content-Type", "application/x-ndjson")
        .body(ndjson)
        .send()
        .await
        .unwrap();
    let report: Value = response.json().await.unwrap();
    assert_eq!(report["created"], 2, "{report}");
    scan("batch report", report.to_string().as_bytes(), &secrets[secrets.len() - 1..]);
    // Reads and searches decrypt values; they must not log them.
    let found: Value = http
        .post(format!("{}/v1/parties:search", served.base))
        .bearer_auth(&d.compliance)
        .header("X-Purpose", "compliance_review")
        .json(&json!({"phone": "+573157300001"}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(found["results"][0]["national_id"]["number"], "739100001");
    // Import through the CLI, NDJSON and CSV, with rejected rows.
    let ndjson_path = d.dir.path().join("parties.ndjson");
    let mut bad_email = party(8);
    bad_email["emails"][0]["address"] = json!("zz.reject.unique@@bad");
    secrets.push("zz.reject.unique".into());
    std::fs::write(
        &ndjson_path,
        [party(7), bad_email, party(9)].iter().map(|p| p.to_string()).collect::<Vec<_>>().join("\n"),
    )
    .unwrap();
    assert!(contains_any(&std::fs::read(&ndjson_path).unwrap(), &secrets), "the scan finds values where they are");
    let summary = custodia(&d.config, &["import", "--tenant", TENANT, ndjson_path.to_str().unwrap()]);
    assert!(summary.contains("2 created, 1 rejected"), "{summary}");
    let csv_path = d.dir.path().join("parties.csv");
    std::fs::write(&csv_path, csv_rows(&[10, 11, 12])).unwrap();
    secrets.push("4455667788990011".into());
    let summary = custodia(&d.config, &["import", "--tenant", TENANT, csv_path.to_str().unwrap()]);
    assert!(summary.contains("2 created, 1 rejected"), "{summary}");
    scan("CLI output", summary.as_bytes(), &secrets);
    let files = database_bytes(&d.database_url);
    let log = served.stop();
    assert!(log.contains("custodia listening"), "the log was captured");
    scan("server log", log.as_bytes(), &secrets);
    for rejects in ["parties.ndjson.rejects.csv", "parties.csv.rejects.csv"] {
        let text = std::fs::read(d.dir.path().join(rejects)).unwrap();
        assert!(String::from_utf8_lossy(&text).lines().count() >= 2, "the reject file lists the rejected line");
        scan(rejects, &text, &secrets);
    }
    for (label, bytes) in files.into_iter().chain(database_bytes(&d.database_url)) {
        scan(&label, &bytes, &secrets);
    }
}

fn database_bytes(database_url: &str) -> Vec<(String, Vec<u8>)> {
    if database_url.starts_with("sqlite:") {
        sqlite_files(database_url)
    } else {
        vec![("pg_dump".to_string(), pg_dump(database_url))]
    }
}

/// CSV rows for parties `ns`; the middle row carries an invalid national id.
fn csv_rows(ns: &[u32]) -> String {
    let mut out = String::from("external_ref,jurisdiction,timezone,full_name,national_id_type,national_id_number,phone,email,address_line1,address_city,address_region,address_postal_code,address_country,date_of_birth,obligation_ref,product,currency,principal,balance,due_date,status\n");
    for (i, n) in ns.iter().enumerate() {
        let p = party(*n);
        let id = if i == 1 {
            "4455667788990011".to_string()
        } else {
            p["national_id"]["number"].as_str().unwrap().to_string()
        };
        out.push_str(&format!(
            "{},CO,,{},CC,{id},{},{},{},Bogotá,Bogotá D.C.,110231,CO,1933-11-07,OBL-CSV-{n},personal_loan,COP,1000000.00,800000.00,2026-06-01,delinquent\n",
            p["external_ref"].as_str().unwrap(),
            p["full_name"].as_str().unwrap(),
            p["phones"][0]["number"].as_str().unwrap(),
            p["emails"][0]["address"].as_str().unwrap(),
            p["address"]["line1"].as_str().unwrap(),
        ));
    }
    out
}

#[tokio::test]
async fn serve_refuses_a_simulated_clock_unless_the_config_allows_it() {
    let d = deploy().await;
    let text = std::fs::read_to_string(&d.config).unwrap();
    std::fs::write(&d.config, format!("{text}clock = \"2027-03-21T10:00:00-05:00\"\n")).unwrap();
    let output = Command::new(BIN).arg("--config").arg(&d.config).arg("serve").output().unwrap();
    assert!(!output.status.success());
    assert!(String::from_utf8_lossy(&output.stderr).contains("simulated_clock_allowed"));
}

#[tokio::test]
async fn the_demo_serves_a_seeded_portfolio_and_reuses_its_directory() {
    let dir = tempfile::tempdir().unwrap();
    // Waits for credentials.json to name a port other than `stale` (the previous run's).
    let run = |dir: &Path, stale: &str| {
        let child = Command::new(BIN)
            .args(["demo", "--port", "0", "--debtors", "40", "--clock", "2027-03-21T10:00:00-05:00", "--dir"])
            .arg(dir)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let credentials: Value = wait_for(|| {
            let text = std::fs::read_to_string(dir.join("credentials.json")).ok()?;
            let value: Value = serde_json::from_str(&text).ok()?;
            let url = value["base_url"].as_str()?;
            (!url.is_empty() && url != stale).then_some(value)
        });
        (child, credentials)
    };
    let (child, first) = run(dir.path(), "");
    let base = first["base_url"].as_str().unwrap().to_string();
    wait_for(|| std::net::TcpStream::connect(base.trim_start_matches("http://")).ok());
    let http = reqwest::Client::new();
    let search = |token: String| {
        let http = http.clone();
        let base = base.clone();
        async move {
            let response = http
                .post(format!("{base}/v1/parties:search"))
                .bearer_auth(token)
                .header("X-Purpose", "collection")
                .json(&json!({"external_ref": "DEMO-0000001"}))
                .send()
                .await
                .unwrap();
            let clock = response.headers().get("x-custodia-clock").map(|v| v.to_str().unwrap().to_string());
            (clock, response.json::<Value>().await.unwrap())
        }
    };
    let (clock, found) = search(first["keys"]["agent"].as_str().unwrap().to_string()).await;
    assert_eq!(found["results"].as_array().unwrap().len(), 1, "{found}");
    assert!(
        clock.unwrap().starts_with("simulated; now=2027-03-21T15:00"),
        "every response says the clock is simulated"
    );
    assert!(std::fs::read_to_string(dir.path().join("master.key")).unwrap().starts_with("# DEMO MASTER KEY"));
    stop(child);
    let (child, second) = run(dir.path(), &base);
    assert_eq!(first["keys"], second["keys"], "a second run reuses the tokens");
    let base = second["base_url"].as_str().unwrap().to_string();
    wait_for(|| std::net::TcpStream::connect(base.trim_start_matches("http://")).ok());
    let response = http
        .post(format!("{base}/v1/parties:search"))
        .bearer_auth(second["keys"]["agent"].as_str().unwrap())
        .header("X-Purpose", "collection")
        .json(&json!({"external_ref": "DEMO-0000040"}))
        .send()
        .await
        .unwrap();
    let found: Value = response.json().await.unwrap();
    assert_eq!(found["results"].as_array().unwrap().len(), 1, "the portfolio was not seeded twice: {found}");
    stop(child);
}

fn stop(mut child: Child) {
    let _ = Command::new("kill").arg("-TERM").arg(child.id().to_string()).status();
    assert!(child.wait().unwrap().success());
}
