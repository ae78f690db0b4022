//! `custodia demo`: a working gateway in one command, on an embedded SQLite file, with a
//! demo tenant, one API key per role and a generated Colombian portfolio.
//!
//! Everything lives in one directory: `custodia.toml`, a master key file marked as a
//! demo key, `custodia.db`, and `credentials.json` with the base URL and the tokens.
//! Running it again on the same directory reuses all of it.

pub mod generator;
mod words;

use crate::access::Role;
use crate::audit::Actor;
use crate::clients;
use crate::config::Config;
use crate::ids::TenantId;
use crate::import::{Importer, RejectFile};
use crate::keys::keyring::Keyring;
use crate::startup::{open_core, shutdown_signal, Application, Core};
use crate::vault::domain::{Invalid, PartyInput};
use anyhow::Context;
use secrecy::ExposeSecret;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

pub const DEMO_TENANT: &str = "demo";
/// Fixed so every demo portfolio is the same, run after run.
pub const DEMO_SEED: u64 = 20_231_208;

pub struct DemoOptions {
    pub dir: PathBuf,
    pub port: u16,
    pub debtors: usize,
    pub clock: Option<String>,
}

/// What a client of the demo needs: where it is and a token per role.
#[derive(Serialize, Deserialize)]
pub struct Credentials {
    pub base_url: String,
    pub tenant: String,
    pub keys: BTreeMap<String, String>,
}

pub async fn run(options: DemoOptions) -> anyhow::Result<()> {
    let config = prepare_dir(&options)?;
    let clock = crate::startup::clock_from(&config)?;
    let core = open_core(&config).await?;
    let credentials_path = options.dir.join("credentials.json");
    let mut credentials = ensure_seeded(&core, &credentials_path, options.debtors, clock.now()).await?;
    let app = Application::from_core(core, &config, clock).await?;
    credentials.base_url = format!("http://127.0.0.1:{}", app.port());
    write_credentials(&credentials_path, &credentials)?;
    println!("Custodia demo listening on {}", credentials.base_url);
    println!("Credentials (one token per role): {}", credentials_path.display());
    println!("DEMO MASTER KEY in use: generated data only. Stop with Ctrl-C.");
    app.run_until_stopped(shutdown_signal()).await?;
    Ok(())
}

/// Creates the directory, the demo key and the config on first use.
fn prepare_dir(options: &DemoOptions) -> anyhow::Result<Config> {
    std::fs::create_dir_all(&options.dir).with_context(|| format!("creating {}", options.dir.display()))?;
    let dir = options.dir.canonicalize()?;
    let key_path = dir.join("master.key");
    if !key_path.exists() {
        Keyring::generate(true)?.save_file(&key_path)?;
    }
    let config_path = dir.join("custodia.toml");
    if !config_path.exists() {
        let text = format!(
            "# Custodia demo configuration (generated). See README.md for every option.\ndatabase_url = \"sqlite://{}\"\nmaster_key_file = \"{}\"\nlisten = \"127.0.0.1:8080\"\nsimulated_clock_allowed = true\n",
            dir.join("custodia.db").display(),
            key_path.display()
        );
        std::fs::write(&config_path, text)?;
    }
    let mut config = Config::from_file(&config_path)?;
    if config.audit.signing_key_file.is_none() {
        // Demo directories made before the audit log had a signing key get one here.
        let audit_key = dir.join("audit-signing.key");
        if !audit_key.exists() {
            crate::audit::signer::write_new_key(&audit_key, "custodia-demo-audit")?;
        }
        config.audit.signing_key_file = Some(audit_key);
        config.audit.checkpoint_dir = Some(dir.join("checkpoints"));
    }
    if config.consent.proof_key_file.is_none() {
        // Demo directories made before consent proofs had a signing key get one here.
        let proof_key = dir.join("consent-proof.key");
        if !proof_key.exists() {
            crate::consent::proof::key::write_new_key(&proof_key, "custodia-demo-consent-proof")?;
        }
        config.consent.proof_key_file = Some(proof_key);
    }
    config.listen = std::net::SocketAddr::from(([127, 0, 0, 1], options.port));
    config.clock = options.clock.clone();
    config.validate()?;
    Ok(config)
}

async fn ensure_seeded(
    core: &Core,
    path: &Path,
    debtors: usize,
    now: chrono::DateTime<chrono::Utc>,
) -> anyhow::Result<Credentials> {
    if let Ok(text) = std::fs::read_to_string(path) {
        return serde_json::from_str(&text).context("reading credentials.json");
    }
    let tenant = TenantId::parse(DEMO_TENANT)?;
    let now_db = crate::clock::to_db_time(now);
    let mut tx = core.db.begin_write().await?;
    if !clients::tenant_exists(&mut tx, &tenant).await? {
        clients::create_tenant(&mut tx, &core.keys, &tenant, "Demo collections tenant", &now_db).await?;
    }
    let mut keys = BTreeMap::new();
    for role in Role::ALL {
        let issued = clients::create_client(&mut tx, &tenant, *role, &format!("demo {role}"), &now_db).await?;
        keys.insert(role.to_string(), issued.token.expose_secret().to_string());
    }
    tx.commit().await?;
    seed_portfolio(core, &tenant, debtors, now).await?;
    let credentials = Credentials { base_url: String::new(), tenant: tenant.to_string(), keys };
    write_credentials(path, &credentials)?;
    Ok(credentials)
}

async fn seed_portfolio(
    core: &Core,
    tenant: &TenantId,
    debtors: usize,
    now: chrono::DateTime<chrono::Utc>,
) -> anyhow::Result<()> {
    let spec = generator::PortfolioSpec { debtors, seed: DEMO_SEED, today: now.date_naive() };
    let lines = generator::portfolio(&spec).enumerate().map(|(i, value)| {
        let parsed = serde_json::from_value::<PartyInput>(value)
            .map_err(|_| Invalid::new("invalid_body", "", "generated record does not match the API shape"));
        (i as u64 + 1, parsed)
    });
    let importer = Importer {
        db: &core.db,
        keys: &core.keys,
        tenant: tenant.clone(),
        today: now.date_naive(),
        now: crate::clock::to_db_time(now),
        batch: crate::import::DEFAULT_BATCH,
        actor: Actor {
            tenant: Some(tenant.clone()),
            role: Some(Role::Admin),
            on_behalf_of: Some("custodia-demo".into()),
            ..Actor::default()
        },
        request_id: "demo-seed".into(),
    };
    let mut rejects = RejectFile::new(std::io::sink())?;
    let summary = importer.run(lines, &mut rejects, |_| {}).await?;
    println!("Seeded {} demo debtors ({} rejected).", summary.created, summary.rejected);
    Ok(())
}

fn write_credentials(path: &Path, credentials: &Credentials) -> anyhow::Result<()> {
    use std::io::Write;
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    let mut file = options.open(path)?;
    file.write_all(&serde_json::to_vec_pretty(credentials)?)?;
    Ok(())
}
