//! The key-job worker: runs due jobs of [`super::jobs`] with the online rotation of
//! [`super::rotation`]. Every gateway starts one (watching the shutdown token), and
//! `custodia keys run-jobs` runs one pass from the command line.
//!
//! A job runs in its own task: an error or a panic in it is caught, recorded in the job's
//! `last_error` and retried with backoff, and never stops the worker. Between rewrap
//! batches the worker renews its lease, and stops (without finishing the job) if the
//! lease was taken over; on shutdown it hands the lease back so another instance goes on
//! at once. A rotation job is idempotent: run again after a crash it continues from
//! whatever the database says (a version already started, keys already rewrapped).

use super::jobs::{self, Job};
use super::rotation::{self, RotationError};
use super::KeyService;
use crate::audit::{self, Actor, AuditEvent, Outcome};
use crate::clock::{to_db_time, Clock};
use crate::db::{Backend, Db};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;
use tracing::Instrument;

/// How the worker runs (`[jobs]` in the configuration).
#[derive(Clone, Debug)]
pub struct JobSettings {
    /// How often an idle worker looks for due jobs (it is also woken by local erasures).
    pub poll: Duration,
    /// How long a claim lasts without renewal; a worker that dies loses its job this long.
    pub lease: Duration,
    /// Party keys per rewrap transaction.
    pub batch: usize,
    /// Longest wait between retries of a failing job.
    pub max_backoff: Duration,
}

impl Default for JobSettings {
    fn default() -> Self {
        Self {
            poll: Duration::from_secs(10),
            lease: Duration::from_secs(60),
            batch: rotation::DEFAULT_BATCH,
            max_backoff: Duration::from_secs(3600),
        }
    }
}

/// Wakes this process's worker (after a local erasure queued a job). Cheap to clone.
#[derive(Clone, Debug, Default)]
pub struct JobsWake(Arc<Notify>);

impl JobsWake {
    pub fn wake(&self) {
        self.0.notify_one();
    }
}

/// How a job run ended when it did not fail.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Finished {
    /// Done: every version below `retire_below` is retired; keys are under `version`.
    Done { version: u32, retired: Vec<u32> },
    /// Shutdown: the lease was handed back, the job goes on elsewhere or later.
    Interrupted,
    /// Another worker took the job over (this one's lease had expired).
    LostLease,
}

#[derive(Debug, thiserror::Error)]
pub enum JobError {
    #[error(transparent)]
    Rotation(#[from] RotationError),
    #[error(transparent)]
    Db(#[from] sqlx::Error),
    #[error("versions {0:?} below the target are still in use; retrying")]
    NotRetired(Vec<u32>),
    #[error("unknown job kind `{0}`")]
    UnknownKind(String),
    #[error("the job panicked")]
    Panicked,
    #[error("the job's audit record could not be written")]
    Audit(#[from] audit::AuditUnavailable),
}

/// What one pass did with one job.
#[derive(Debug)]
pub struct JobRun {
    pub job: Job,
    pub result: Result<Finished, String>,
}

/// A worker: who it is (`owner`, unique per process) and what it needs.
#[derive(Clone)]
pub struct Worker {
    pub db: Db,
    pub keys: KeyService,
    pub clock: Clock,
    pub settings: JobSettings,
    pub owner: String,
}

impl Worker {
    pub fn new(db: Db, keys: KeyService, clock: Clock, settings: JobSettings, role: &str) -> Self {
        let host = std::env::var("HOSTNAME").unwrap_or_else(|_| "host".into());
        let suffix = super::crypto::random_bytes::<4>().map(hex::encode).unwrap_or_default();
        let owner = format!("{role}-{host}-{}-{suffix}", std::process::id());
        Self { db, keys, clock, settings, owner }
    }

    /// Runs due jobs until none is left (or `cancel` fires); returns what each did.
    pub async fn run_due(&self, cancel: &CancellationToken) -> Result<Vec<JobRun>, sqlx::Error> {
        let mut runs = Vec::new();
        let mut conn = self.db.reader().acquire().await?;
        if let Err(error) = self.keys.forget_retired(&mut conn).await {
            tracing::warn!(%error, "could not refresh retired key versions");
        }
        drop(conn);
        while !cancel.is_cancelled() {
            let Some(job) = jobs::claim(&self.db, &self.owner, self.clock.now(), self.settings.lease).await? else {
                break;
            };
            runs.push(self.run_one(job, cancel.clone()).await);
        }
        Ok(runs)
    }

    /// Runs due jobs now, then whenever woken or every `poll`, until `cancel` fires.
    pub async fn run(self, wake: JobsWake, cancel: CancellationToken) {
        tracing::info!(owner = %self.owner, "key job worker started");
        loop {
            if let Err(error) = self.run_due(&cancel).await {
                tracing::warn!(%error, "key job pass failed; will retry");
            }
            tokio::select! {
                _ = cancel.cancelled() => break,
                _ = tokio::time::sleep(self.settings.poll) => {},
                _ = wake.0.notified() => {},
            }
        }
        tracing::info!(owner = %self.owner, "key job worker stopped");
    }

    /// Runs one claimed job in its own task, so that a panic is caught like an error.
    async fn run_one(&self, job: Job, cancel: CancellationToken) -> JobRun {
        let span = tracing::info_span!("key_job", job_id = %job.id, tenant = %job.tenant, kind = %job.kind);
        let result = guarded(execute(self.clone(), job.clone(), cancel).instrument(span)).await;
        match result {
            Ok(finished) => {
                tracing::info!(job_id = %job.id, ?finished, "key job ran");
                JobRun { job, result: Ok(finished) }
            }
            Err(error) => {
                let message = error.to_string();
                let now = self.clock.now();
                let wait = jobs::backoff(job.attempts, self.settings.max_backoff);
                let retry_at = now + chrono::Duration::from_std(wait).unwrap_or(chrono::Duration::zero());
                tracing::warn!(job_id = %job.id, error = %message, retry_in_s = wait.as_secs(), "key job failed; will retry");
                if let Err(db) = jobs::release(&self.db, &job.id, &self.owner, now, retry_at, Some(&message)).await {
                    tracing::warn!(error = %db, "could not record the key job failure; its lease will expire");
                }
                JobRun { job, result: Err(message) }
            }
        }
    }
}

/// Runs `work` in a task of its own, so that a panic in it is an error like any other.
async fn guarded<F>(work: F) -> Result<Finished, JobError>
where
    F: std::future::Future<Output = Result<Finished, JobError>> + Send + 'static,
{
    match tokio::spawn(work).await {
        Ok(result) => result,
        Err(_) => Err(JobError::Panicked),
    }
}

async fn execute(worker: Worker, job: Job, cancel: CancellationToken) -> Result<Finished, JobError> {
    if job.kind != jobs::ROTATE_DATA {
        return Err(JobError::UnknownKind(job.kind.clone()));
    }
    let (db, keys, tenant) = (&worker.db, &worker.keys, job.tenant_id());
    if rotation::active_data_version(db, &tenant).await? < job.retire_below {
        let now = to_db_time(worker.clock.now());
        rotation::start_tenant_rotation(db, keys, &tenant, &now).await?;
    }
    loop {
        if cancel.is_cancelled() {
            let now = worker.clock.now();
            jobs::release(db, &job.id, &worker.owner, now, now, None).await?;
            return Ok(Finished::Interrupted);
        }
        if !jobs::renew(db, &job.id, &worker.owner, worker.clock.now(), worker.settings.lease).await? {
            return Ok(Finished::LostLease);
        }
        let (_, moved) = rotation::rewrap_batch(db, keys, &tenant, worker.settings.batch).await?;
        if moved == 0 {
            break;
        }
    }
    let retired = rotation::retire_unused_tenant_versions(db, keys, &tenant).await?;
    let left = rotation::unretired_below(db, &tenant, job.retire_below).await?;
    if !left.is_empty() {
        return Err(JobError::NotRetired(left));
    }
    let version = rotation::active_data_version(db, &tenant).await?;
    if !finish(&worker, &job, version).await? {
        return Ok(Finished::LostLease);
    }
    if db.backend() == Backend::Sqlite {
        // The rewrap rewrote every party-key row: flush the old page images out of the WAL.
        let _ = db.checkpoint().await;
    }
    Ok(Finished::Done { version, retired })
}

/// Marks the job done together with its audit record (a key rotation is an admin action).
async fn finish(worker: &Worker, job: &Job, version: u32) -> Result<bool, JobError> {
    let now = to_db_time(worker.clock.now());
    let mut tx = worker.db.begin_write().await?;
    if !jobs::complete(&mut tx, &job.id, &worker.owner, &now).await? {
        return Ok(false);
    }
    let event = AuditEvent {
        actor: Actor { tenant: Some(job.tenant_id()), on_behalf_of: Some("key-job-worker".into()), ..Actor::default() },
        action: "key.rotate.tenant",
        resource_id: Some(job.id.clone()),
        parties: Vec::new(),
        evidence: None,
        fields: vec![format!("data_key:v{version}")],
        outcome: Outcome::Allowed,
        status: 0,
        error_code: None,
        request_id: format!("job-{}", job.id),
        seen_versions: Vec::new(),
    };
    audit::append(&mut tx, &event, &now).await?;
    tx.commit().await?;
    Ok(true)
}

#[cfg(test)]
#[allow(clippy::panic)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_panicking_job_is_an_error_and_the_caller_goes_on() {
        let panicked = guarded(async { panic!("boom") }).await;
        assert!(matches!(panicked, Err(JobError::Panicked)));
        let fine = guarded(async { Ok(Finished::Interrupted) }).await;
        assert!(matches!(fine, Ok(Finished::Interrupted)));
    }
}
