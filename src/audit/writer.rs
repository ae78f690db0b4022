//! Group commit for records written outside a caller's transaction (reads, searches,
//! refusals): one task per gateway takes whatever records have arrived, writes them in
//! one transaction as multi-row statements, and tells each waiting request once the
//! transaction is durable. A request is answered only after its own record committed
//! (DESIGN invariant 3); concurrency turns N commits into one.
//!
//! If a batch fails, its records are retried one by one, so a single bad record cannot
//! take the others' answers down with it.

use super::store::{self, Draft};
use super::AuditUnavailable;
use crate::db::Db;
use std::time::Instant;
use tokio::sync::{mpsc, oneshot};

/// Records waiting for the writer beyond this many make callers wait to enqueue.
const QUEUE_DEPTH: usize = 16_384;
/// Most records one transaction takes.
const MAX_BATCH: usize = 1_024;

struct Job {
    draft: Draft,
    done: oneshot::Sender<Result<(), AuditUnavailable>>,
}

/// Handle to the group-commit task. Cheap to clone.
#[derive(Clone, Debug)]
pub struct GroupWriter {
    queue: mpsc::Sender<Job>,
}

impl std::fmt::Debug for Job {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Job")
    }
}

impl GroupWriter {
    /// Starts the writer task on the current runtime. It ends when every handle is dropped.
    pub fn start(db: Db, sealer: super::sealer::SealerHandle) -> Self {
        let (queue, jobs) = mpsc::channel(QUEUE_DEPTH);
        tokio::spawn(run(db, jobs, sealer));
        Self { queue }
    }

    /// Writes `draft` and returns once it is durable.
    pub async fn append(&self, draft: Draft) -> Result<(), AuditUnavailable> {
        let (done, wait) = oneshot::channel();
        self.queue.send(Job { draft, done }).await.map_err(|_| AuditUnavailable::WriterStopped)?;
        wait.await.map_err(|_| AuditUnavailable::WriterStopped)?
    }
}

async fn run(db: Db, mut jobs: mpsc::Receiver<Job>, sealer: super::sealer::SealerHandle) {
    let mut batch = Vec::with_capacity(MAX_BATCH);
    while jobs.recv_many(&mut batch, MAX_BATCH).await > 0 {
        let started = Instant::now();
        let size = batch.len();
        let logs: Vec<String> = batch.iter().map(|j| j.draft.record.log.clone()).collect();
        write_batch(&db, std::mem::take(&mut batch)).await;
        metrics::histogram!("custodia_audit_batch_seconds").record(started.elapsed().as_secs_f64());
        metrics::histogram!("custodia_audit_batch_records").record(size as f64);
        sealer.note_appended(&logs);
    }
}

async fn write_batch(db: &Db, batch: Vec<Job>) {
    let (mut drafts, waiters): (Vec<Draft>, Vec<_>) = batch.into_iter().map(|j| (j.draft, j.done)).unzip();
    match commit(db, &mut drafts).await {
        Ok(()) => {
            for waiter in waiters {
                let _ = waiter.send(Ok(()));
            }
        }
        Err(error) => match drafts.len() {
            2.. => {
                tracing::warn!(%error, records = waiters.len(), "audit batch failed; retrying records one by one");
                for (draft, waiter) in drafts.iter_mut().zip(waiters) {
                    let _ = waiter.send(commit(db, std::slice::from_mut(draft)).await.map_err(AuditUnavailable::Store));
                }
            }
            _ => {
                tracing::error!(%error, "audit record could not be written");
                for waiter in waiters {
                    let _ = waiter.send(Err(AuditUnavailable::WriteFailed));
                }
            }
        },
    }
}

async fn commit(db: &Db, drafts: &mut [Draft]) -> Result<(), sqlx::Error> {
    let mut tx = db.begin_write().await?;
    store::insert(&mut tx, drafts).await?;
    tx.commit().await
}

/// Writes records without the group writer, one transaction per call: for tools (CLI)
/// that have no running gateway.
pub async fn append_alone(db: &Db, mut draft: Draft) -> Result<(), AuditUnavailable> {
    commit(db, std::slice::from_mut(&mut draft)).await.map_err(AuditUnavailable::Store)
}
