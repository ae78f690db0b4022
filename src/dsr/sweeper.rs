//! The sweeper: deadlines that pass act on their own.
//!
//! - an incomplete Colombian claim whose titular did not complete it in time is
//!   `withdrawn` (reason `not_completed`; L.1581 art. 15: 2 months, L.1266 art. 16-II: 1);
//! - a Ley 1266 claim not answered within its term is `deemed_granted` (art. 16-II num. 8,
//!   as amended by Ley 2573 de 2026); carrying the grant out stays with the officer;
//! - a party whose blocked Mexican cancellation reached the end of its retention period
//!   (`vault::retention::due_for_erasure`) is erased, and its blocked requests answered —
//!   unless another hold still applies, in which case it waits for the next pass.
//!
//! Overdue requests need no marking: "overdue" is derived from the terms on every read.
//!
//! Every gateway runs one ([`Sweeper::run`], watching the shutdown token), and
//! `custodia dsr sweep` runs one pass. Several instances on one PostgreSQL share the work
//! safely: candidates are read first without a lock (an idle pass takes no write lock,
//! like the key-job worker's poll), then each is handled in its own transaction that
//! takes the party lock, reads the request again and acts only if it is still due, and
//! writes with a conditional update on the request's `last_seq` — so each transition
//! happens once, whoever gets there first. Every transition is audited with the system
//! actor `dsr-sweeper`.

use super::answer;
use super::domain::{State, Transition};
use super::service::{enter, locked, write_event, Change, IfErased};
use super::{flag, DsrError};
use crate::access::Purpose;
use crate::audit::{Actor, EventContext};
use crate::clock::{to_db_time, Clock};
use crate::db::Db;
use crate::ids::{PartyId, TenantId};
use crate::keys::worker::JobsWake;
use crate::keys::KeyService;
use crate::vault::erasure::{self, ErasureError};
use crate::vault::{retention, PartyCache};
use chrono::{DateTime, Duration, Utc};
use serde::Serialize;
use std::sync::Arc;
use tokio_util::sync::CancellationToken;

/// The system actor of every transition the sweeper makes.
pub const SWEEPER: &str = "dsr-sweeper";

/// What one pass did (request and party ids).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct SweepReport {
    pub withdrawn: Vec<String>,
    pub deemed_granted: Vec<String>,
    /// Parties erased at the end of a blocked cancellation's retention period.
    pub erased: Vec<String>,
    /// Requests answered by those erasures.
    pub answered: Vec<String>,
    /// Candidates another instance handled first, or still held.
    pub skipped: usize,
}

/// A sweeper and what it needs.
#[derive(Clone)]
pub struct Sweeper {
    pub db: Db,
    pub keys: KeyService,
    pub clock: Clock,
    /// How often the background task sweeps.
    pub every: std::time::Duration,
    /// Most candidates of each kind per pass.
    pub batch: i64,
    /// Wakes this gateway's key-job worker after an erasure queued a rotation.
    pub jobs: Option<JobsWake>,
    /// This gateway's party cache, to drop an erased party at once.
    pub parties: Option<Arc<PartyCache>>,
}

fn context(tenant: &TenantId, pass: &str, now: &str) -> EventContext {
    EventContext {
        tenant: tenant.clone(),
        actor: Actor {
            tenant: Some(tenant.clone()),
            client: None,
            role: None,
            on_behalf_of: Some(SWEEPER.into()),
            purpose: Some(Purpose::Dsr),
        },
        request_id: pass.to_string(),
        now: now.to_string(),
    }
}

impl Sweeper {
    /// Sweeps at once, then every `every`, until `cancel` fires. A failing or panicking
    /// pass is logged and the next one runs as usual.
    pub async fn run(self, cancel: CancellationToken) {
        tracing::info!("dsr sweeper started");
        loop {
            let this = self.clone();
            match tokio::spawn(async move { this.sweep(this.clock.now()).await }).await {
                Ok(Ok(report)) if report != SweepReport::default() => tracing::info!(?report, "dsr sweep"),
                Ok(Ok(_)) => {}
                Ok(Err(error)) => tracing::warn!(%error, "dsr sweep failed; will retry"),
                Err(_) => tracing::error!("dsr sweep panicked; will retry"),
            }
            tokio::select! {
                _ = cancel.cancelled() => break,
                _ = tokio::time::sleep(self.every) => {},
            }
        }
        tracing::info!("dsr sweeper stopped");
    }

    /// One pass at `now` (module docs).
    pub async fn sweep(&self, now: DateTime<Utc>) -> Result<SweepReport, DsrError> {
        let mut report = SweepReport::default();
        let pass = format!("sweep-{}", uuid::Uuid::now_v7().simple());
        let now_text = to_db_time(now);
        // A term is met up to and including its last second.
        let cutoff = to_db_time(now - Duration::seconds(1));
        let mut conn = self.db.reader().acquire().await?;
        let due = super::store::due_for_sweep(&mut conn, &cutoff, self.batch).await?;
        // The latest local date anywhere (UTC+14): erase_in checks each party's own date.
        let latest_today = (now + Duration::hours(14)).date_naive();
        let blocked = retention::due_for_erasure(&mut conn, latest_today, self.batch).await?;
        drop(conn);
        for (tenant, id, _party) in due {
            let ctx = context(&TenantId::from_db(tenant), &pass, &now_text);
            match self.lapse(&ctx, &id, &cutoff).await {
                Ok(Some(State::Withdrawn)) => report.withdrawn.push(id),
                Ok(Some(_)) => report.deemed_granted.push(id),
                Ok(None) => report.skipped += 1,
                Err(error) => {
                    tracing::warn!(request_id = %id, %error, "dsr sweep could not act on a request");
                    report.skipped += 1;
                }
            }
        }
        for (tenant, party) in blocked {
            let ctx = context(&tenant, &pass, &now_text);
            match self.erase(&ctx, &party).await {
                Ok(Some(answered)) => {
                    report.erased.push(party.to_string());
                    report.answered.extend(answered);
                }
                Ok(None) => report.skipped += 1,
                Err(error) => {
                    tracing::warn!(party_id = %party, %error, "dsr sweep could not erase a blocked party");
                    report.skipped += 1;
                }
            }
        }
        Ok(report)
    }

    /// Withdraws or deems granted one request if it is still due; the state it reached.
    async fn lapse(&self, ctx: &EventContext, id: &str, cutoff: &str) -> Result<Option<State>, DsrError> {
        let mut tx = self.db.begin_write().await?;
        let before = match locked(&mut tx, ctx, id, IfErased::Close).await {
            Ok(request) => request,
            Err(DsrError::NoParty | DsrError::NoRequest) => return Ok(None),
            Err(error) => return Err(error),
        };
        let past = |at: &Option<String>| at.as_deref().is_some_and(|t| t < cutoff);
        let (transition, action, reason) = if before.state == State::AwaitingTitular && past(&before.withdraw_at) {
            (Transition::Withdraw, "withdraw", "not_completed")
        } else if before.state.term_runs() && past(&before.due_at) {
            (Transition::DeemGranted, "deem_granted", "not_answered_in_time")
        } else {
            // Another instance got there first (or the officer acted): nothing is due.
            return Ok(None);
        };
        let mut change = Change::new(&before, action);
        enter(&mut change, transition, &ctx.now)?;
        change.after.state_reason = Some(reason.into());
        change.reason = Some(reason.into());
        if let Some(due) = before.withdraw_at.clone().filter(|_| transition == Transition::Withdraw) {
            change.detail("withdraw_at", due);
        }
        if let Some(due) = before.due_at.clone().filter(|_| transition == Transition::DeemGranted) {
            change.detail("due_at", due);
        }
        flag::sync(&mut tx, ctx, &change.after).await?;
        let audit_action = if transition == Transition::Withdraw { "dsr.withdraw" } else { "dsr.deem_granted" };
        write_event(&mut tx, ctx, Some(&before), &change, audit_action, 200).await?;
        tx.commit().await?;
        Ok(Some(change.after.state))
    }

    /// Erases a party whose blocked cancellation is due; the requests it answered, or
    /// None when it was not erased (still held, or already erased by another instance).
    async fn erase(&self, ctx: &EventContext, party: &PartyId) -> Result<Option<Vec<String>>, DsrError> {
        let mut tx = self.db.begin_write().await?;
        let (_, answered) = match answer::erase_blocked(&mut tx, &self.keys, ctx, party).await {
            Ok(done) => done,
            Err(DsrError::Erasure(ErasureError::Held(_) | ErasureError::AlreadyErased | ErasureError::NoParty)) => {
                return Ok(None)
            }
            Err(error) => return Err(error),
        };
        tx.commit().await?;
        if let Some(cache) = &self.parties {
            cache.remove(&(ctx.tenant.to_string(), party.to_string()));
        }
        if let Err(error) = erasure::after_commit(&self.db).await {
            tracing::warn!(%error, "WAL checkpoint after a sweeper erasure failed");
        }
        if let Some(jobs) = &self.jobs {
            jobs.wake();
        }
        Ok(Some(answered.into_iter().map(|r| r.id).collect()))
    }
}
