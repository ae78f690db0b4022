//! `custodia consent ...`: the consent-proof signing key and the offline verifier of
//! proof packages (what a titular, the SIC or an auditor runs, trusting nothing but the
//! two verifier keys).

use crate::audit::note::VerifierKey;
use crate::config::Config;
use crate::consent::proof::{key, verify};
use anyhow::Context;
use clap::Subcommand;
use std::path::{Path, PathBuf};

#[derive(Subcommand, Debug)]
pub enum ConsentCommand {
    /// Create the consent-proof signing key (Ed25519, C2SP note format); prints its verifier key.
    Keygen {
        #[arg(long)]
        out: PathBuf,
        /// Key name shown in every signature line.
        #[arg(long, default_value = "custodia-consent-proof")]
        name: String,
    },
    /// Print the verifier key string (C2SP `name+id+key`) of the configured proof key.
    PublicKey,
    /// Check a proof package offline: the package signature, each event's hash, that hash
    /// in its audit record, the record's inclusion proof and the checkpoint signature.
    VerifyProof {
        file: PathBuf,
        /// Consent-proof verifier key string, or @FILE holding it.
        #[arg(long)]
        key: String,
        /// Audit verifier key string (`custodia audit public-key`), or @FILE holding it.
        #[arg(long)]
        audit_key: String,
    },
}

/// Runs a consent subcommand; returns the exit code (1 when a package does not verify).
pub fn run(config_path: Option<&Path>, command: ConsentCommand) -> anyhow::Result<i32> {
    match command {
        ConsentCommand::Keygen { out, name } => {
            let verifier = key::write_new_key(&out, &name)?;
            println!("{}", verifier.to_text());
            Ok(0)
        }
        ConsentCommand::PublicKey => {
            let config = Config::load(config_path)?;
            let path = config
                .consent
                .proof_key_file
                .as_deref()
                .context("`consent.proof_key_file` is not set (or CUSTODIA_CONSENT_PROOF_KEY_FILE)")?;
            println!("{}", key::read_key(path)?.verifier().to_text());
            Ok(0)
        }
        ConsentCommand::VerifyProof { file, key, audit_key } => {
            let bytes = std::fs::read(&file).with_context(|| format!("reading {}", file.display()))?;
            let (proof_key, audit_key) = (verifier_key(&key)?, verifier_key(&audit_key)?);
            match verify::verify_package(&bytes, &proof_key, &audit_key) {
                Ok(report) => {
                    println!(
                        "proof OK: tenant {}, party {}: {} consent events, {} notices served, {} notices, \
                         against the signed audit checkpoint of size {}",
                        report.tenant, report.party, report.events, report.served, report.notices, report.tree_size
                    );
                    Ok(0)
                }
                Err(failure) => {
                    eprintln!("proof FAILED: {failure}");
                    Ok(1)
                }
            }
        }
    }
}

fn verifier_key(text: &str) -> anyhow::Result<VerifierKey> {
    let text = match text.strip_prefix('@') {
        Some(path) => std::fs::read_to_string(path).with_context(|| format!("reading {path}"))?,
        None => text.to_string(),
    };
    VerifierKey::parse(text.trim()).context("not a verifier key (`name+id+key`)")
}
