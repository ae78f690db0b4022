//! The running audit log of one gateway: its group-commit writer, its sealer task and
//! its signing key, started together so a gateway can never write records it does not
//! also seal.

use super::note::WitnessVerifierKey;
use super::sealer::{self, SealError, SealerConfig, SealerHandle};
use super::signer::AuditSigner;
use super::writer::{self, GroupWriter, JobQueue, WriteTarget};
use super::{AuditEvent, AuditUnavailable};
use crate::clock::Clock;
use crate::config::AuditConfig;
use crate::db::exec::SqliteWriter;
use crate::db::{Backend, Db};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{oneshot, Mutex};
use tokio_util::sync::CancellationToken;

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
    thread: Arc<AuditThread>,
}

impl AuditService {
    /// Starts the writer and the sealer on the audit thread; fails when that thread cannot
    /// reach the database within [`START_TIMEOUT`] (a gateway that cannot audit must not
    /// serve).
    pub async fn start(db: &Db, signer: AuditSigner, clock: Clock, config: &AuditConfig) -> anyhow::Result<Self> {
        let witnesses = config
            .witness_keys
            .iter()
            .map(|k| WitnessVerifierKey::parse(k).map_err(|e| anyhow::anyhow!("`audit.witness_keys`: {e}")))
            .collect::<anyhow::Result<Vec<_>>>()?;
        let sealer_config = sealer_config(config);
        let handle = SealerHandle::new(config.seal_every_records);
        let signer = Arc::new(signer);
        let (writer, jobs) = GroupWriter::channel();
        let work = AuditWork { db: db.clone(), jobs, handle, signer: signer.clone(), clock: clock.clone() };
        let thread = spawn_audit_thread(work, sealer_config.clone()).await?;
        let witnesses = Arc::new(witnesses);
        Ok(Self { writer, db: db.clone(), clock, signer, sealer: sealer_config, witnesses, thread: Arc::new(thread) })
    }

    /// Writes the record for `event` and returns once it is durable (reads, refusals).
    pub async fn append(&self, event: &AuditEvent, recorded_at: &str) -> Result<(), AuditUnavailable> {
        self.writer.append(event.to_draft(recorded_at), super::freshness::Reliance::of(event)).await
    }

    /// Seals everything committed so far (exports prove against a fresh checkpoint).
    pub async fn seal_now(&self) -> Result<(), SealError> {
        sealer::seal_all(&self.db, &self.signer, &self.clock, &self.sealer).await
    }

    /// Whether the writer and the sealer are running (readiness).
    pub fn is_running(&self) -> bool {
        self.thread.running.load(Ordering::Relaxed)
    }

    /// Stops the writer and the sealer and waits for the audit thread to end (requests
    /// still in flight must have been drained first).
    pub async fn shutdown(&self) {
        self.thread.stop.cancel();
        let finished = self.thread.finished.lock().ok().and_then(|mut f| f.take());
        if let Some(finished) = finished {
            let _ = tokio::time::timeout(Duration::from_secs(10), finished).await;
        }
    }
}

/// The audit thread as the rest of the gateway sees it.
#[derive(Debug)]
struct AuditThread {
    running: Arc<AtomicBool>,
    stop: CancellationToken,
    finished: std::sync::Mutex<Option<oneshot::Receiver<()>>>,
}

/// What the audit thread runs: the group-commit writer and the sealer.
struct AuditWork {
    db: Db,
    jobs: JobQueue,
    handle: SealerHandle,
    signer: Arc<AuditSigner>,
    clock: Clock,
}

/// How long start-up waits for the audit thread to reach the database.
pub const START_TIMEOUT: Duration = Duration::from_secs(15);

/// Runs the writer and the sealer on a thread and runtime of their own, until stopped or
/// every writer handle is dropped. Their statements go back to back: on the request
/// runtime, each statement's completion (woken from the database driver's thread) waited
/// in the runtime's global queue behind busy request handlers, which stretched every
/// batch, and on SQLite every sealing round held the only write lock that much longer.
async fn spawn_audit_thread(work: AuditWork, config: SealerConfig) -> anyhow::Result<AuditThread> {
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
    let running = Arc::new(AtomicBool::new(false));
    let stop = CancellationToken::new();
    let (ready, connected) = oneshot::channel();
    let (done, finished) = oneshot::channel();
    let (flag, token) = (running.clone(), stop.clone());
    std::thread::Builder::new().name("custodia-audit".into()).spawn(move || {
        runtime.block_on(async move {
            let db = match work.db.for_dedicated_runtime(AUDIT_CONNECTIONS).await {
                Ok(db) => db,
                Err(error) => {
                    let _ = ready.send(Err(anyhow::Error::from(error)));
                    return;
                }
            };
            let own_sqlite = match open_sqlite_writer(&db) {
                Ok(own) => own,
                Err(error) => {
                    let _ = ready.send(Err(error));
                    return;
                }
            };
            let target = own_sqlite.as_ref().map_or(WriteTarget::Pool(&db), WriteTarget::Sqlite);
            flag.store(true, Ordering::Relaxed);
            let _ = ready.send(Ok(()));
            let writing = writer::run(target, work.jobs, work.handle.clone());
            let sealing = sealer::run(db.clone(), target, work.signer, work.clock, config, work.handle);
            tokio::select! {
                _ = writing => {}
                _ = sealing => {}
                _ = token.cancelled() => {}
            }
            flag.store(false, Ordering::Relaxed);
            db.close_dedicated().await;
        });
        let _ = done.send(());
    })?;
    match tokio::time::timeout(START_TIMEOUT, connected).await {
        Ok(Ok(Ok(()))) => Ok(AuditThread { running, stop, finished: std::sync::Mutex::new(Some(finished)) }),
        Ok(Ok(Err(error))) => Err(anyhow::anyhow!("the audit writer cannot reach the database: {error}")),
        Ok(Err(_)) => Err(anyhow::anyhow!("the audit thread stopped while starting")),
        Err(_) => Err(anyhow::anyhow!("the audit writer did not reach the database within {START_TIMEOUT:?}")),
    }
}

/// The audit thread's own SQLite connection, when the database is a SQLite file (see
/// [`SqliteWriter`]); None on PostgreSQL, where the writer uses a pool of its own.
fn open_sqlite_writer(db: &Db) -> anyhow::Result<Option<Mutex<SqliteWriter>>> {
    match db.sqlite_file().filter(|path| path.is_file()) {
        Some(path) if db.backend() == Backend::Sqlite => {
            Ok(Some(Mutex::new(SqliteWriter::open(path, db.write_turns().clone())?)))
        }
        _ => Ok(None),
    }
}

/// PostgreSQL connections the audit thread opens for itself (the writer and the sealer).
const AUDIT_CONNECTIONS: u32 = 2;

/// The sealer settings from `[audit]`.
pub fn sealer_config(config: &AuditConfig) -> SealerConfig {
    SealerConfig {
        every_records: config.seal_every_records,
        every: Duration::from_millis(config.seal_every_ms),
        max_round: 50_000,
        publish_dir: config.checkpoint_dir.clone(),
        publish_keep: config.checkpoint_dir_keep,
    }
}
