//! The checkpoint signing key and what it signs: checkpoints (C2SP tlog-checkpoint as a
//! signed note) and bundle manifests.
//!
//! The key is its own Ed25519 key in a file (DESIGN.md "Keys": never derived from the
//! master key), so rotating or leaking the master key neither changes nor forges
//! checkpoints. Its verifier key string is what regulators pin.

use super::merkle::Hash;
use super::note::{self, Checkpoint, NoteError, SigningKey, VerifierKey};
use crate::config::AuditConfig;
use anyhow::Context;
use chrono::{DateTime, Utc};
use std::path::Path;

/// Signs for every log of this gateway.
#[derive(Debug)]
pub struct AuditSigner {
    key: SigningKey,
    verifier: VerifierKey,
    origin_prefix: String,
}

impl AuditSigner {
    /// Loads the key named by `[audit] signing_key_file`.
    pub fn load(config: &AuditConfig) -> anyhow::Result<Self> {
        let path = config.signing_key_file.as_deref().context(
            "`audit.signing_key_file` is not set (or CUSTODIA_AUDIT_SIGNING_KEY_FILE): create a key with `custodia audit keygen --out FILE`",
        )?;
        Ok(Self::new(read_key(path)?, &config.origin_prefix))
    }

    pub fn new(key: SigningKey, origin_prefix: &str) -> Self {
        let verifier = key.verifier();
        Self { key, verifier, origin_prefix: origin_prefix.to_string() }
    }

    /// The log's origin line: `<prefix>/<log>`.
    pub fn origin(&self, log: &str) -> String {
        format!("{}/{log}", self.origin_prefix)
    }

    /// The log id an origin names, if it is one of ours.
    pub fn log_of<'a>(&self, origin: &'a str) -> Option<&'a str> {
        origin.strip_prefix(&self.origin_prefix)?.strip_prefix('/')
    }

    pub fn verifier(&self) -> &VerifierKey {
        &self.verifier
    }

    /// A signed checkpoint note for `log` at `size` with `root`, stamped `now`.
    pub fn sign_checkpoint(&self, log: &str, size: u64, root: &Hash, now: DateTime<Utc>) -> Result<String, NoteError> {
        let checkpoint = Checkpoint {
            origin: self.origin(log),
            size,
            root: *root,
            extensions: vec![format!("time {}", now.format("%Y-%m-%dT%H:%M:%SZ"))],
        };
        note::sign_note(&checkpoint.to_text(), &[&self.key])
    }

    /// Signs arbitrary note text (bundle manifests).
    pub fn sign_text(&self, text: &str) -> Result<String, NoteError> {
        note::sign_note(text, &[&self.key])
    }
}

/// Reads the audit signing key file (`PRIVATE+KEY+...`).
pub fn read_key(path: &Path) -> anyhow::Result<SigningKey> {
    read_key_file(path, "an audit")
}

/// Creates a new audit signing key file readable by its owner only; refuses to overwrite.
pub fn write_new_key(path: &Path, name: &str) -> anyhow::Result<VerifierKey> {
    write_new_key_file(path, name, "the audit")
}

/// Reads a signing key file (`PRIVATE+KEY+...`); `what` names its purpose in errors
/// ("an audit", "a consent-proof").
pub fn read_key_file(path: &Path, what: &str) -> anyhow::Result<SigningKey> {
    let text = std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
    SigningKey::parse(text.trim()).with_context(|| format!("{} is not {what} signing key", path.display()))
}

/// Creates a new signing key file readable by its owner only; refuses to overwrite one.
/// `what` names its purpose in errors ("the audit", "the consent-proof").
pub fn write_new_key_file(path: &Path, name: &str, what: &str) -> anyhow::Result<VerifierKey> {
    let key = SigningKey::generate(name).with_context(|| format!("generating {what} signing key"))?;
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let mut file = options.open(path).with_context(|| format!("creating {}", path.display()))?;
    std::io::Write::write_all(&mut file, format!("{}\n", key.to_text().expose_secret()).as_bytes())?;
    file.sync_all()?;
    Ok(key.verifier())
}
