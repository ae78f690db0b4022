//! Group commit for records written outside a caller's transaction (reads, searches,
//! refusals): one task per gateway takes whatever records have arrived, writes them in
//! one transaction as multi-row statements, and tells each waiting request once the
//! transaction is durable. A request is answered only after its own record committed
//! (DESIGN invariant 3); concurrency turns N commits into one.
//!
//! The same transaction first re-checks what the batch's requests took from memory
//! ([`super::freshness`]); a record whose client was revoked or whose party row changed
//! is left out and its request told so, never written as if it had been answered.
//!
//! If a batch fails, its records are retried one by one, so a single bad record cannot
//! take the others' answers down with it.

use super::freshness::{self, Reliance, Verdict};
use super::store::{self, Draft};
use super::AuditUnavailable;
use crate::db::exec::{Exec, ExecError, SqliteWriter};
use crate::db::Db;
use std::time::Instant;
use tokio::sync::{mpsc, oneshot, Mutex};

/// Records waiting for the writer beyond this many make callers wait to enqueue.
const QUEUE_DEPTH: usize = 16_384;
/// Most records one transaction takes.
const MAX_BATCH: usize = 1_024;
/// Longest a request waits for its record to be durable.
pub const APPEND_DEADLINE: std::time::Duration = std::time::Duration::from_secs(15);

struct Job {
    draft: Draft,
    reliance: Reliance,
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

/// The receiving end of a [`GroupWriter`], consumed by [`run`].
pub struct JobQueue(mpsc::Receiver<Job>);

impl GroupWriter {
    /// A writer handle and the queue [`run`] drains.
    pub fn channel() -> (Self, JobQueue) {
        let (queue, jobs) = mpsc::channel(QUEUE_DEPTH);
        (Self { queue }, JobQueue(jobs))
    }

    /// Writes `draft` and returns once it is durable, or says why it was left out. Gives
    /// up after [`APPEND_DEADLINE`]: a request whose record is not durable by then is
    /// refused (503), never left hanging, and nothing of it is released. (Its record may
    /// still commit later; the log then records an access that was refused, never the
    /// other way round.)
    pub async fn append(&self, draft: Draft, reliance: Reliance) -> Result<(), AuditUnavailable> {
        let (done, wait) = oneshot::channel();
        let queued = async {
            self.queue.send(Job { draft, reliance, done }).await.map_err(|_| AuditUnavailable::WriterStopped)?;
            wait.await.map_err(|_| AuditUnavailable::WriterStopped)?
        };
        tokio::time::timeout(APPEND_DEADLINE, queued).await.map_err(|_| AuditUnavailable::TimedOut)?
    }
}

/// Where the audit thread's write transactions run.
#[derive(Clone, Copy, Debug)]
pub enum WriteTarget<'a> {
    /// The shared sqlx writer: PostgreSQL, a SQLite database without a file, tools.
    Pool(&'a Db),
    /// The audit thread's own SQLite connection ([`SqliteWriter`]): statements run on the
    /// calling thread, one after another, with no hand-off to a driver thread.
    Sqlite(&'a Mutex<SqliteWriter>),
}

/// Runs `$body` (which uses `$tx: &mut impl Exec`) in one write transaction on `$target`
/// and commits it; an error inside `$body` returns from the enclosing function and rolls
/// the transaction back. (A macro, because the body is generic over the connection type.)
macro_rules! in_write_tx {
    ($target:expr, |$tx:ident| $body:expr) => {
        match $target {
            $crate::audit::writer::WriteTarget::Pool(db) => {
                let mut transaction = db.begin_write().await?;
                let $tx = &mut *transaction;
                let out = $body;
                transaction.commit().await?;
                out
            }
            $crate::audit::writer::WriteTarget::Sqlite(writer) => {
                let mut writer = writer.lock().await;
                let mut transaction = writer.begin().await?;
                let $tx = &mut transaction;
                let out = $body;
                transaction.commit()?;
                out
            }
        }
    };
}
pub(crate) use in_write_tx;

/// Writes batches until every [`GroupWriter`] handle is dropped.
pub async fn run(target: WriteTarget<'_>, JobQueue(mut jobs): JobQueue, sealer: super::sealer::SealerHandle) {
    let mut batch = Vec::with_capacity(MAX_BATCH);
    while jobs.recv_many(&mut batch, MAX_BATCH).await > 0 {
        let started = Instant::now();
        let size = batch.len();
        let logs: Vec<String> = batch.iter().map(|j| j.draft.record.log.clone()).collect();
        write_batch(target, std::mem::take(&mut batch)).await;
        metrics::histogram!("custodia_audit_batch_seconds").record(started.elapsed().as_secs_f64());
        metrics::histogram!("custodia_audit_batch_records").record(size as f64);
        sealer.note_appended(&logs);
        // On the audit thread's own SQLite connection nothing above waits, so let the
        // sealer (same thread) run between batches instead of starving behind them.
        tokio::task::yield_now().await;
    }
}

async fn write_batch(target: WriteTarget<'_>, batch: Vec<Job>) {
    let (mut drafts, rest): (Vec<Draft>, Vec<_>) = batch.into_iter().map(|j| (j.draft, (j.reliance, j.done))).unzip();
    let (reliances, waiters): (Vec<Reliance>, Vec<_>) = rest.into_iter().unzip();
    match commit(target, &mut drafts, &reliances).await {
        Ok(verdicts) => {
            for (waiter, verdict) in waiters.into_iter().zip(verdicts) {
                let _ = waiter.send(verdict.refusal().map_or(Ok(()), Err));
            }
        }
        // A record-specific failure (a constraint, bad data) must not take the others down:
        // retry them one by one. A failure of the database itself (pool, I/O, lock timeout)
        // would only repeat for each: fail the batch at once.
        Err(error) => match drafts.len() {
            2.. if error.is_about_the_data() => {
                tracing::warn!(%error, records = waiters.len(), "audit batch failed; retrying records one by one");
                for ((draft, reliance), waiter) in drafts.iter_mut().zip(reliances).zip(waiters) {
                    let outcome = commit(target, std::slice::from_mut(draft), std::slice::from_ref(&reliance)).await;
                    let _ = waiter.send(match outcome {
                        Ok(verdicts) => verdicts.first().and_then(|v| v.refusal()).map_or(Ok(()), Err),
                        Err(error) => Err(AuditUnavailable::Store(error)),
                    });
                }
            }
            _ => {
                tracing::error!(%error, records = waiters.len(), "audit records could not be written");
                for waiter in waiters {
                    let _ = waiter.send(Err(AuditUnavailable::WriteFailed));
                }
            }
        },
    }
}

/// Checks the batch's reliances, writes the records that passed, commits; returns the
/// verdict of each record in order (a refused one was not written).
async fn commit(
    target: WriteTarget<'_>,
    drafts: &mut [Draft],
    reliances: &[Reliance],
) -> Result<Vec<Verdict>, ExecError> {
    Ok(in_write_tx!(target, |tx| write(tx, drafts, reliances).await?))
}

async fn write<E: Exec>(tx: &mut E, drafts: &mut [Draft], reliances: &[Reliance]) -> Result<Vec<Verdict>, ExecError> {
    let verdicts = freshness::check(tx, reliances).await?;
    if verdicts.iter().all(|v| *v == Verdict::Fresh) {
        store::insert(tx, drafts).await?;
    } else {
        let mut fresh: Vec<Draft> =
            drafts.iter().zip(&verdicts).filter(|(_, v)| **v == Verdict::Fresh).map(|(d, _)| d.clone()).collect();
        store::insert(tx, &mut fresh).await?;
    }
    Ok(verdicts)
}

/// Writes records without the group writer, one transaction per call: for tools (CLI)
/// that have no running gateway.
pub async fn append_alone(db: &Db, mut draft: Draft) -> Result<(), AuditUnavailable> {
    in_write_tx!(WriteTarget::Pool(db), |tx| write(tx, std::slice::from_mut(&mut draft), &[Reliance::default()])
        .await?);
    Ok(())
}
