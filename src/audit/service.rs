//! The running audit log of one gateway: its group-commit writer, its sealer task and
//! its signing key, started together so a gateway can never write records it does not
//! also seal.

use super::note::WitnessVerifierKey;
use super::sealer::{self, SealError, SealerConfig, SealerHandle};
use super::signer::AuditSigner;
use super::writer::GroupWriter;
use super::{AuditEvent, AuditUnavailable};
use crate::clock::Clock;
use crate::config::AuditConfig;
use crate::db::Db;
use std::sync::Arc;
use std::time::Duration;

/// Handle to the audit log, shared by every request. Cheap to clone.
#[derive(Clone, Debug)]
pub struct AuditService {
    writer: GroupWriter,
    db: Db,
    clock: Clock,
    pub signer: Arc<AuditSigner>,
    pub sealer: SealerConfig,
    /// Witnesses whose cosignatures are accepted (`[audit] witness_keys`).
    pub witnesses: Arc<Vec<WitnessVerifierKey>>,
}

impl AuditService {
    /// Starts the writer and the sealer task on the current runtime.
    pub fn start(db: &Db, signer: AuditSigner, clock: Clock, config: &AuditConfig) -> anyhow::Result<Self> {
        let witnesses = config
            .witness_keys
            .iter()
            .map(|k| WitnessVerifierKey::parse(k).map_err(|e| anyhow::anyhow!("`audit.witness_keys`: {e}")))
            .collect::<anyhow::Result<Vec<_>>>()?;
        let sealer_config = sealer_config(config);
        let handle = SealerHandle::new(config.seal_every_records);
        let signer = Arc::new(signer);
        tokio::spawn(sealer::run(db.clone(), signer.clone(), clock.clone(), sealer_config.clone(), handle.clone()));
        let writer = GroupWriter::start(db.clone(), handle);
        let witnesses = Arc::new(witnesses);
        Ok(Self { writer, db: db.clone(), clock, signer, sealer: sealer_config, witnesses })
    }

    /// Writes the record for `event` and returns once it is durable (reads, refusals).
    pub async fn append(&self, event: &AuditEvent, recorded_at: &str) -> Result<(), AuditUnavailable> {
        self.writer.append(event.to_draft(recorded_at)).await
    }

    /// Seals everything committed so far (exports prove against a fresh checkpoint).
    pub async fn seal_now(&self) -> Result<(), SealError> {
        sealer::seal_all(&self.db, &self.signer, &self.clock, &self.sealer).await
    }
}

/// The sealer settings from `[audit]`.
pub fn sealer_config(config: &AuditConfig) -> SealerConfig {
    SealerConfig {
        every_records: config.seal_every_records,
        every: Duration::from_millis(config.seal_every_ms),
        max_round: 50_000,
        publish_dir: config.checkpoint_dir.clone(),
    }
}
