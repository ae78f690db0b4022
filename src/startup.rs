//! Building and running the gateway: one [`Application`] used by `serve`, `demo` and
//! the integration tests alike (binds port 0 when asked, reports the real port, stops
//! gracefully on a signal or a cancellation token).

use crate::access::AccessPolicy;
use crate::api::{self, AppState};
use crate::audit::service::AuditService;
use crate::audit::signer::AuditSigner;
use crate::clock::Clock;
use crate::config::Config;
use crate::consent::proof::key::ProofSigner;
use crate::db::Db;
use crate::keys::keyring::Keyring;
use crate::keys::worker::Worker;
use crate::keys::KeyService;
use anyhow::Context;
use secrecy::ExposeSecret;
use std::future::Future;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

/// Database, keys and policy: what every command that touches data needs.
pub struct Core {
    pub db: Db,
    pub keys: KeyService,
    pub access: AccessPolicy,
}

/// Loads the master keyring, connects, migrates, loads the access policy. The keyring
/// comes first, so that a command refused for want of a key has touched no database.
pub async fn open_core(config: &Config) -> anyhow::Result<Core> {
    let (keyring, path) = load_keyring(config).await?;
    let db = open_db(config).await?;
    if keyring.is_demo() {
        tracing::warn!("USING A DEMO MASTER KEY: this gateway must hold only generated demo data");
    }
    let keys = KeyService::new(keyring, path, db.backend());
    let access = load_access_policy(config)?;
    Ok(Core { db, keys, access })
}

/// Connects and migrates, without the master key: for tools that never decrypt.
pub async fn open_db(config: &Config) -> anyhow::Result<Db> {
    let db = Db::connect(&config.database_url, config.read_connections).await.context("connecting to the database")?;
    db.migrate().await.context("running migrations")?;
    Ok(db)
}

async fn load_keyring(config: &Config) -> anyhow::Result<(Keyring, Option<std::path::PathBuf>)> {
    if let Some(path) = &config.master_key_file {
        return Ok((Keyring::load_file(path)?, Some(path.clone())));
    }
    if let Some(value) = &config.master_key_env {
        return Ok((Keyring::from_env_value(value.expose_secret())?, None));
    }
    let passphrase = config.master_passphrase.clone().context(crate::config::MASTER_KEY_SOURCES)?;
    let salt = config.master_key_salt.clone().unwrap_or_default();
    let ring = tokio::task::spawn_blocking(move || {
        Keyring::from_passphrase(passphrase.expose_secret().as_bytes(), salt.as_bytes())
    })
    .await??;
    Ok((ring, None))
}

fn load_access_policy(config: &Config) -> anyhow::Result<AccessPolicy> {
    match &config.policies_dir {
        Some(dir) => {
            let path = dir.join("access.toml");
            let text = std::fs::read_to_string(&path).with_context(|| format!("reading {}", path.display()))?;
            Ok(AccessPolicy::parse(&path.display().to_string(), &text)?)
        }
        None => Ok(AccessPolicy::default_policy()?),
    }
}

/// The clock the config asks for (validated at load).
pub fn clock_from(config: &Config) -> anyhow::Result<Clock> {
    match &config.clock {
        Some(text) => Ok(Clock::simulated_from(crate::clock::parse_instant(text).context("parsing `clock`")?)),
        None => Ok(Clock::system()),
    }
}

/// A bound, ready-to-run gateway.
pub struct Application {
    listener: TcpListener,
    router: axum::Router,
    state: AppState,
    worker: Option<Worker>,
    sweeper: Option<crate::dsr::Sweeper>,
}

impl Application {
    pub async fn build(config: &Config, clock: Clock) -> anyhow::Result<Self> {
        let core = open_core(config).await?;
        Self::from_core(core, config, clock).await
    }

    pub async fn from_core(core: Core, config: &Config, clock: Clock) -> anyhow::Result<Self> {
        api::init_metrics();
        let signer = AuditSigner::load(&config.audit)?;
        let proof = ProofSigner::load(&config.consent, signer.verifier())?;
        let audit = AuditService::start(&core.db, signer, clock.clone(), &config.audit).await?;
        let limits = (config.rate_limit_per_second, config.rate_limit_burst);
        let mut state = AppState::new(core.db, core.keys, core.access, clock, audit, proof, limits);
        state.set_caches(&config.cache);
        let listener = TcpListener::bind(config.listen).await.with_context(|| format!("binding {}", config.listen))?;
        let router = api::router(state.clone(), config.max_body_bytes);
        let worker = config.jobs.worker.then(|| {
            Worker::new(state.db.clone(), state.keys.clone(), state.clock.clone(), config.jobs.settings(), "gateway")
        });
        let sweeper = config.dsr.sweeper.then(|| crate::dsr::Sweeper {
            db: state.db.clone(),
            keys: state.keys.clone(),
            clock: state.clock.clone(),
            every: std::time::Duration::from_millis(config.dsr.sweep_every_ms),
            batch: config.dsr.batch,
            jobs: Some(state.jobs.clone()),
            parties: Some(state.parties.clone()),
        });
        Ok(Self { listener, router, state, worker, sweeper })
    }

    pub fn port(&self) -> u16 {
        self.listener.local_addr().map(|a| a.port()).unwrap_or(0)
    }

    pub fn state(&self) -> &AppState {
        &self.state
    }

    /// Serves until `shutdown` resolves, then drains in-flight requests. The key-job
    /// worker runs alongside and stops with it (handing back the lease of a job in
    /// progress, so another instance takes it up at once).
    pub async fn run_until_stopped(self, shutdown: impl Future<Output = ()> + Send + 'static) -> std::io::Result<()> {
        tracing::info!(port = self.port(), "custodia listening");
        let db = self.state.db.clone();
        let cancel = CancellationToken::new();
        let worker = self.worker.map(|w| tokio::spawn(w.run(self.state.jobs.clone(), cancel.clone())));
        let sweeper = self.sweeper.map(|s| tokio::spawn(s.run(cancel.clone())));
        let purger = tokio::spawn(purge_caches(self.state.clone(), cancel.clone()));
        let stop = cancel.clone();
        let shutdown = async move {
            shutdown.await;
            stop.cancel();
        };
        let result = axum::serve(self.listener, self.router).with_graceful_shutdown(shutdown).await;
        cancel.cancel();
        if let Some(worker) = worker {
            let _ = worker.await;
        }
        if let Some(sweeper) = sweeper {
            let _ = sweeper.await;
        }
        let _ = purger.await;
        // Requests are drained: stop the writer and the sealer before their database goes.
        self.state.audit.shutdown().await;
        db.close().await;
        result
    }
}

/// Drops expired copies from the caches every half time to live, so an erased party's
/// ciphertexts do not linger in a gateway nobody asks about it again.
async fn purge_caches(state: AppState, cancel: CancellationToken) {
    let every = (state.parties.ttl() / 2).max(std::time::Duration::from_secs(1));
    loop {
        tokio::select! {
            _ = cancel.cancelled() => return,
            _ = tokio::time::sleep(every) => {}
        }
        state.parties.purge_expired();
        state.clients.purge_expired();
    }
}

/// Resolves on SIGINT or SIGTERM.
pub async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {},
        _ = terminate => {},
    }
    tracing::info!("shutdown requested; draining requests");
}
