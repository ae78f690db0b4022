//! The consent-proof signing key: its own Ed25519 key in a file (`[consent]
//! proof_key_file`, made by `custodia consent keygen`), never the audit key and never
//! derived from the master key (DESIGN.md "Keys": one key, one purpose). Whoever holds
//! the data keys or the audit key still cannot sign a proof package.

use crate::audit::note::{self, NoteError, SigningKey, VerifierKey};
use crate::config::ConsentConfig;
use anyhow::Context;
use std::path::Path;

/// Signs proof packages for every tenant of this gateway.
#[derive(Debug)]
pub struct ProofSigner {
    key: SigningKey,
    verifier: VerifierKey,
}

impl ProofSigner {
    /// Loads `[consent] proof_key_file`, refusing the audit signing key (`audit_key`).
    pub fn load(config: &ConsentConfig, audit_key: &VerifierKey) -> anyhow::Result<Self> {
        let path = config.proof_key_file.as_deref().context(
            "`consent.proof_key_file` is not set (or CUSTODIA_CONSENT_PROOF_KEY_FILE): create a key with `custodia consent keygen --out FILE`",
        )?;
        let signer = Self::new(read_key(path)?);
        if signer.verifier.public_key() == audit_key.public_key() {
            anyhow::bail!(
                "{} holds the audit signing key; the consent-proof key must be a key of its own",
                path.display()
            );
        }
        Ok(signer)
    }

    pub fn new(key: SigningKey) -> Self {
        let verifier = key.verifier();
        Self { key, verifier }
    }

    /// The verifier key string (`name+id+key`) a titular or the SIC checks packages with.
    pub fn verifier(&self) -> &VerifierKey {
        &self.verifier
    }

    /// A signed note over `text`.
    pub fn sign(&self, text: &str) -> Result<String, NoteError> {
        note::sign_note(text, &[&self.key])
    }
}

/// Reads a consent-proof key file (`PRIVATE+KEY+...`).
pub fn read_key(path: &Path) -> anyhow::Result<SigningKey> {
    crate::audit::signer::read_key_file(path, "a consent-proof")
}

/// Creates a new consent-proof key file readable by its owner only; refuses to overwrite one.
pub fn write_new_key(path: &Path, name: &str) -> anyhow::Result<VerifierKey> {
    crate::audit::signer::write_new_key_file(path, name, "the consent-proof")
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn the_audit_key_is_refused_as_the_proof_key() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("k");
        let verifier = write_new_key(&path, "custodia-consent-proof").unwrap();
        let config = ConsentConfig { proof_key_file: Some(path.clone()) };
        let error = ProofSigner::load(&config, &verifier).unwrap_err();
        assert!(error.to_string().contains("key of its own"), "{error}");
        let other = SigningKey::generate("custodia-audit").unwrap().verifier();
        assert_eq!(ProofSigner::load(&config, &other).unwrap().verifier().to_text(), verifier.to_text());
        assert!(write_new_key(&path, "x").is_err(), "never overwrites a key");
    }
}
