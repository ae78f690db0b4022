//! Typed configuration: a TOML file, then `CUSTODIA_*` environment overrides, validated
//! once at start-up. A bad value stops start-up with a message naming the key or the
//! variable. Secrets (the master key, a passphrase) are only ever referenced here by
//! where they come from, and held in types whose `Debug` cannot print them.

use secrecy::SecretString;
use serde::{Deserialize, Serialize};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize, Serialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    #[default]
    Text,
    Json,
}

/// Everything `custodia serve` needs. Field docs are the configuration reference.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// Address to listen on; port 0 picks a free port.
    #[serde(default = "default_listen")]
    pub listen: SocketAddr,
    /// `sqlite://PATH` (embedded default) or `postgres://...`.
    pub database_url: String,
    /// Master keyring file (see `custodia keys`). Alternatively set `CUSTODIA_MASTER_KEY`
    /// or `CUSTODIA_MASTER_PASSPHRASE` (with `master_key_salt`).
    #[serde(default)]
    pub master_key_file: Option<PathBuf>,
    /// Salt for deriving the master key from `CUSTODIA_MASTER_PASSPHRASE` (Argon2id).
    #[serde(default)]
    pub master_key_salt: Option<String>,
    /// Directory with `access.toml`; the built-in policy is used when unset.
    #[serde(default)]
    pub policies_dir: Option<PathBuf>,
    #[serde(default)]
    pub log_format: LogFormat,
    /// Largest accepted request body, in bytes.
    #[serde(default = "default_body_limit")]
    pub max_body_bytes: usize,
    /// Sustained requests per second allowed per API client (per gateway instance).
    #[serde(default = "default_rate")]
    pub rate_limit_per_second: u32,
    /// Burst size per API client.
    #[serde(default = "default_burst")]
    pub rate_limit_burst: u32,
    /// Read connections (SQLite reader pool size; PostgreSQL pool is 4× this).
    #[serde(default = "default_read_connections")]
    pub read_connections: u32,
    /// Must be true for `clock` to be honoured: a simulated clock is for demos and tests.
    #[serde(default)]
    pub simulated_clock_allowed: bool,
    /// Start the clock at this RFC 3339 instant (then it advances in real time).
    #[serde(default)]
    pub clock: Option<String>,
    /// The tamper-evident audit log: signing key, sealing cadence, publication.
    #[serde(default)]
    pub audit: AuditConfig,
    /// What a gateway keeps in memory between requests (API clients, encrypted party rows).
    #[serde(default)]
    pub cache: CacheConfig,
    /// The background key-job worker (scheduled tenant-key rotations).
    #[serde(default)]
    pub jobs: JobsConfig,
    /// The consent ledger: the key that signs proof packages.
    #[serde(default)]
    pub consent: ConsentConfig,
    /// Data-subject requests: the sweeper that acts on passed deadlines.
    #[serde(default)]
    pub dsr: DsrConfig,
    #[serde(skip)]
    pub master_key_env: Option<SecretString>,
    #[serde(skip)]
    pub master_passphrase: Option<SecretString>,
}

/// `[audit]`: how records are sealed into signed checkpoints and where those go.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AuditConfig {
    /// Ed25519 key that signs checkpoints, in the C2SP/Go note format (create it with
    /// `custodia audit keygen`). Its own key, never derived from the master key, so a
    /// leaked master key cannot forge checkpoints and a rotated one does not change them.
    #[serde(default)]
    pub signing_key_file: Option<PathBuf>,
    /// Each log's origin is `<origin_prefix>/<tenant>`.
    #[serde(default = "default_origin_prefix")]
    pub origin_prefix: String,
    /// Seal (and sign a checkpoint) once a log has this many new records...
    #[serde(default = "default_seal_records")]
    pub seal_every_records: usize,
    /// ...or this many milliseconds have passed.
    #[serde(default = "default_seal_ms")]
    pub seal_every_ms: u64,
    /// Directory where every new checkpoint is also written, for witnesses to copy.
    #[serde(default)]
    pub checkpoint_dir: Option<PathBuf>,
    /// How many numbered checkpoints (`<size>.checkpoint`) each log keeps in
    /// `checkpoint_dir` besides the latest (`checkpoint`); older ones are removed as new
    /// ones arrive (0 keeps every one). Under load a log seals several times a second, and
    /// the database keeps every checkpoint anyway (`GET /v1/audit/checkpoints/latest`,
    /// bundles), so an unbounded directory would only fill the disk with files.
    #[serde(default = "default_checkpoint_dir_keep")]
    pub checkpoint_dir_keep: usize,
    /// Verifier keys (`name+id+key`, tlog-cosignature) of witnesses whose cosignatures
    /// the gateway accepts and keeps with its checkpoints.
    #[serde(default)]
    pub witness_keys: Vec<String>,
}

/// `[dsr]`: the sweeper every gateway runs (withdrawals of incomplete claims, Ley 1266
/// deemed grants, erasure of blocked Mexican cancellations whose period ended).
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DsrConfig {
    /// Run the sweeper in this gateway. Off, deadlines wait for another gateway or for
    /// `custodia dsr sweep`.
    #[serde(default = "default_true")]
    pub sweeper: bool,
    /// How often it sweeps, in milliseconds.
    #[serde(default = "default_sweep_ms")]
    pub sweep_every_ms: u64,
    /// Most requests (and parties) of each kind handled per pass.
    #[serde(default = "default_sweep_batch")]
    pub batch: i64,
}

impl Default for DsrConfig {
    fn default() -> Self {
        Self { sweeper: true, sweep_every_ms: default_sweep_ms(), batch: default_sweep_batch() }
    }
}

fn default_sweep_ms() -> u64 {
    60_000
}
fn default_sweep_batch() -> i64 {
    500
}

/// `[consent]`: the consent-proof signing key.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ConsentConfig {
    /// Ed25519 key that signs consent proof packages (`custodia consent keygen`). Its own
    /// key: never the audit key, never derived from the master key.
    #[serde(default)]
    pub proof_key_file: Option<PathBuf>,
}

impl Default for AuditConfig {
    fn default() -> Self {
        Self {
            signing_key_file: None,
            origin_prefix: default_origin_prefix(),
            seal_every_records: default_seal_records(),
            seal_every_ms: default_seal_ms(),
            checkpoint_dir: None,
            checkpoint_dir_keep: default_checkpoint_dir_keep(),
            witness_keys: Vec::new(),
        }
    }
}

/// `[cache]`: in-memory copies that spare a read its own database round trip. Every
/// request that used one re-checks it inside its audit transaction, so sizes and the
/// time to live change speed and memory, never what a caller is shown.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CacheConfig {
    /// API clients kept by token hash (0 turns the cache off).
    #[serde(default = "default_cached_clients")]
    pub clients: usize,
    /// Encrypted party rows kept (ciphertexts and wrapped keys, never plaintext; 0 turns
    /// the cache off).
    #[serde(default = "default_cached_parties")]
    pub parties: usize,
    /// Longest an entry stays in memory, in seconds.
    #[serde(default = "default_cache_ttl")]
    pub ttl_seconds: u64,
}

impl Default for CacheConfig {
    fn default() -> Self {
        Self { clients: default_cached_clients(), parties: default_cached_parties(), ttl_seconds: default_cache_ttl() }
    }
}

fn default_cached_clients() -> usize {
    10_000
}
fn default_cached_parties() -> usize {
    20_000
}
fn default_cache_ttl() -> u64 {
    60
}

/// `[jobs]`: the key-job worker every gateway runs (rotations that erasures schedule).
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct JobsConfig {
    /// Run the worker in this gateway. Off, jobs wait for another gateway or for
    /// `custodia keys run-jobs`.
    #[serde(default = "default_true")]
    pub worker: bool,
    /// How often an idle worker looks for due jobs, in milliseconds.
    #[serde(default = "default_jobs_poll_ms")]
    pub poll_ms: u64,
    /// How long a claimed job stays claimed without its worker renewing the lease; a
    /// worker that dies loses its job this long after its last renewal.
    #[serde(default = "default_jobs_lease_seconds")]
    pub lease_seconds: u64,
    /// Party keys rewrapped per transaction.
    #[serde(default = "default_jobs_batch")]
    pub batch: usize,
}

impl Default for JobsConfig {
    fn default() -> Self {
        Self {
            worker: true,
            poll_ms: default_jobs_poll_ms(),
            lease_seconds: default_jobs_lease_seconds(),
            batch: default_jobs_batch(),
        }
    }
}

impl JobsConfig {
    pub fn settings(&self) -> crate::keys::worker::JobSettings {
        crate::keys::worker::JobSettings {
            poll: std::time::Duration::from_millis(self.poll_ms),
            lease: std::time::Duration::from_secs(self.lease_seconds),
            batch: self.batch,
            ..crate::keys::worker::JobSettings::default()
        }
    }
}

fn default_true() -> bool {
    true
}
fn default_jobs_poll_ms() -> u64 {
    10_000
}
fn default_jobs_lease_seconds() -> u64 {
    60
}
fn default_jobs_batch() -> usize {
    crate::keys::rotation::DEFAULT_BATCH
}

fn default_origin_prefix() -> String {
    "custodia.local/audit".into()
}
fn default_seal_records() -> usize {
    1000
}
fn default_seal_ms() -> u64 {
    1000
}
fn default_checkpoint_dir_keep() -> usize {
    1000
}

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read config file {path}: {source}")]
    Read { path: String, source: std::io::Error },
    #[error("config file {path}: {message}")]
    Parse { path: String, message: String },
    #[error("environment variable {var}: {message}")]
    Env { var: &'static str, message: String },
    #[error("{0}")]
    Invalid(String),
}

fn default_listen() -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], 8080))
}
fn default_body_limit() -> usize {
    1024 * 1024
}
fn default_rate() -> u32 {
    1000
}
fn default_burst() -> u32 {
    2000
}
fn default_read_connections() -> u32 {
    4
}

/// What a gateway or tool that decrypts must be given: one master key source, no more.
pub const MASTER_KEY_SOURCES: &str =
    "exactly one master key source is needed: `master_key_file`, CUSTODIA_MASTER_KEY or CUSTODIA_MASTER_PASSPHRASE";

impl Config {
    /// A config for `database_url` with every default (used by the demo and tests).
    pub fn with_database(database_url: String) -> Self {
        Self {
            listen: default_listen(),
            database_url,
            master_key_file: None,
            master_key_salt: None,
            policies_dir: None,
            log_format: LogFormat::Text,
            max_body_bytes: default_body_limit(),
            rate_limit_per_second: default_rate(),
            rate_limit_burst: default_burst(),
            read_connections: default_read_connections(),
            simulated_clock_allowed: false,
            clock: None,
            audit: AuditConfig::default(),
            cache: CacheConfig::default(),
            jobs: JobsConfig::default(),
            consent: ConsentConfig::default(),
            dsr: DsrConfig::default(),
            master_key_env: None,
            master_passphrase: None,
        }
    }

    /// Reads the file (if any), applies environment overrides, validates.
    pub fn load(path: Option<&Path>) -> Result<Self, ConfigError> {
        let mut config = match path {
            Some(path) => Self::from_file(path)?,
            None => {
                let url = std::env::var("CUSTODIA_DATABASE_URL").map_err(|_| {
                    ConfigError::Invalid("no config file given and CUSTODIA_DATABASE_URL is not set".into())
                })?;
                Self::with_database(url)
            }
        };
        config.apply_env(|name| std::env::var(name).ok())?;
        config.validate()?;
        Ok(config)
    }

    pub fn from_file(path: &Path) -> Result<Self, ConfigError> {
        let shown = path.display().to_string();
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read { path: shown.clone(), source })?;
        toml::from_str(&text).map_err(|e| ConfigError::Parse { path: shown, message: e.to_string() })
    }

    /// `CUSTODIA_LISTEN`, `CUSTODIA_DATABASE_URL`, `CUSTODIA_MASTER_KEY_FILE`, `CUSTODIA_AUDIT_SIGNING_KEY_FILE`,
    /// `CUSTODIA_CONSENT_PROOF_KEY_FILE`,
    /// `CUSTODIA_MASTER_KEY`, `CUSTODIA_MASTER_PASSPHRASE`, `CUSTODIA_LOG_FORMAT`,
    /// `CUSTODIA_POLICIES_DIR` override the file.
    pub fn apply_env(&mut self, var: impl Fn(&str) -> Option<String>) -> Result<(), ConfigError> {
        if let Some(v) = var("CUSTODIA_LISTEN") {
            self.listen = v
                .parse()
                .map_err(|_| ConfigError::Env { var: "CUSTODIA_LISTEN", message: "expected HOST:PORT".into() })?;
        }
        if let Some(v) = var("CUSTODIA_DATABASE_URL") {
            self.database_url = v;
        }
        if let Some(v) = var("CUSTODIA_MASTER_KEY_FILE") {
            self.master_key_file = Some(PathBuf::from(v));
        }
        if let Some(v) = var("CUSTODIA_AUDIT_SIGNING_KEY_FILE") {
            self.audit.signing_key_file = Some(PathBuf::from(v));
        }
        if let Some(v) = var("CUSTODIA_CONSENT_PROOF_KEY_FILE") {
            self.consent.proof_key_file = Some(PathBuf::from(v));
        }
        if let Some(v) = var("CUSTODIA_POLICIES_DIR") {
            self.policies_dir = Some(PathBuf::from(v));
        }
        if let Some(v) = var("CUSTODIA_LOG_FORMAT") {
            self.log_format = match v.as_str() {
                "json" => LogFormat::Json,
                "text" => LogFormat::Text,
                _ => {
                    return Err(ConfigError::Env {
                        var: "CUSTODIA_LOG_FORMAT",
                        message: "expected `text` or `json`".into(),
                    })
                }
            };
        }
        self.master_key_env = var("CUSTODIA_MASTER_KEY").map(SecretString::from);
        self.master_passphrase = var("CUSTODIA_MASTER_PASSPHRASE").map(SecretString::from);
        Ok(())
    }

    pub fn validate(&self) -> Result<(), ConfigError> {
        if self.clock.is_some() && !self.simulated_clock_allowed {
            return Err(ConfigError::Invalid("`clock` is set but `simulated_clock_allowed = true` is not: a simulated clock is for demos and tests only".into()));
        }
        if let Some(clock) = &self.clock {
            crate::clock::parse_instant(clock).map_err(|_| {
                ConfigError::Invalid("`clock` must be an RFC 3339 instant such as 2027-03-23T10:00:00-05:00".into())
            })?;
        }
        // None is fine here: commands that never decrypt (`audit verify`, say) need no master
        // key, and whatever loads the keyring says so when there is none. Two are ambiguous.
        let sources = [self.master_key_file.is_some(), self.master_key_env.is_some(), self.master_passphrase.is_some()];
        if sources.iter().filter(|s| **s).count() > 1 {
            return Err(ConfigError::Invalid(MASTER_KEY_SOURCES.into()));
        }
        if self.master_passphrase.is_some() && self.master_key_salt.as_deref().is_none_or(|s| s.len() < 16) {
            return Err(ConfigError::Invalid(
                "CUSTODIA_MASTER_PASSPHRASE needs `master_key_salt` of at least 16 characters".into(),
            ));
        }
        if self.jobs.poll_ms == 0 || self.jobs.lease_seconds == 0 || self.jobs.batch == 0 {
            return Err(ConfigError::Invalid(
                "`jobs.poll_ms`, `jobs.lease_seconds` and `jobs.batch` must be > 0".into(),
            ));
        }
        if self.dsr.sweep_every_ms == 0 || self.dsr.batch <= 0 {
            return Err(ConfigError::Invalid("`dsr.sweep_every_ms` and `dsr.batch` must be > 0".into()));
        }
        if self.audit.seal_every_records == 0 || self.audit.seal_every_ms == 0 {
            return Err(ConfigError::Invalid(
                "`audit.seal_every_records` and `audit.seal_every_ms` must be > 0".into(),
            ));
        }
        let prefix = &self.audit.origin_prefix;
        if prefix.is_empty() || prefix.chars().any(|c| c.is_whitespace() || c == '+') {
            return Err(ConfigError::Invalid("`audit.origin_prefix` must be non-empty, without spaces and `+`".into()));
        }
        if self.max_body_bytes < 1024 || self.rate_limit_per_second == 0 || self.rate_limit_burst == 0 {
            return Err(ConfigError::Invalid("`max_body_bytes` must be ≥ 1024 and rate limits > 0".into()));
        }
        Ok(())
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn base() -> Config {
        let mut c = Config::with_database("sqlite://x.db".into());
        c.master_key_file = Some("k".into());
        c
    }

    #[test]
    fn a_simulated_clock_needs_explicit_permission() {
        let mut c = base();
        c.clock = Some("2027-03-21T10:00:00-05:00".into());
        assert!(c.validate().unwrap_err().to_string().contains("simulated_clock_allowed"));
        c.simulated_clock_allowed = true;
        assert!(c.validate().is_ok());
    }

    #[test]
    fn environment_overrides_name_the_bad_variable() {
        let mut c = base();
        let err = c.apply_env(|n| (n == "CUSTODIA_LISTEN").then(|| "nope".to_string())).unwrap_err();
        assert!(err.to_string().contains("CUSTODIA_LISTEN"));
    }

    #[test]
    fn unknown_keys_in_the_file_are_errors() {
        let err = toml::from_str::<Config>("database_url = \"sqlite://x\"\nlisten_port = 3\n").unwrap_err();
        assert!(err.to_string().contains("listen_port"));
    }

    #[test]
    fn two_master_key_sources_are_refused_and_none_is_left_to_whatever_decrypts() {
        let mut c = base();
        c.master_key_env = Some(SecretString::from("x"));
        assert!(c.validate().unwrap_err().to_string().contains(MASTER_KEY_SOURCES));
        let mut none = base();
        none.master_key_file = None;
        assert!(none.validate().is_ok());
    }
}
