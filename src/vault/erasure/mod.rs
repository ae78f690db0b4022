//! Erasure (supresión, cancelación, GDPR art. 17) by crypto-shredding.
//!
//! [`erase_in`] refuses while any retention hold applies (`crate::vault::retention`),
//! naming each. Otherwise, in the caller's transaction and under the party lock, it
//! deletes the party's wrapped data key — without it none of the party's ciphertexts
//! opens, wherever a copy survives — its field ciphertexts and its blind-index digests;
//! sets `erased_at` and bumps the party version; queues the tenant data-key rotation that
//! retires the key version the wrapped key was under (`crate::keys::jobs`); and appends the
//! `party.erase` audit record, whose evidence is the SHA-256 of the erasure receipt
//! ([`domain`]). After the commit, [`after_commit`] truncates SQLite's WAL so the deleted
//! bytes (zeroed in their pages by `secure_delete`) also leave the files.
//!
//! What stays, on purpose: the party row (opaque id, jurisdiction, time zone, dates) so
//! every later request about it answers 410 Gone (`party_erased`) instead of 404 and the
//! audit log's per-party chain stays whole; its obligations, payments and promises
//! (amounts, dates, states, products and the creditor's obligation reference), which are
//! not personal fields, are linked only to the opaque id, and are what the creditor's
//! accounting and statistics keep (DESIGN invariant 1); and the audit log, which holds
//! only opaque ids and field names and must still verify. Retention periods stay too
//! (they name laws, not people). Re-ingesting the same person afterwards creates a new
//! party: nothing is left to recognise them by.
//!
//! On PostgreSQL the deleted rows live on as dead tuples until vacuumed and overwritten,
//! and in WAL archives and backups; the queued rotation is what makes the remnant wrapped
//! key useless (no live tenant-key version opens it). See README "Operations".

pub mod domain;
pub mod http;
pub mod store;

pub use domain::{ErasureReceipt, ErasureView};

use super::domain::api_field_name;
use super::retention::{self, Hold};
use super::store::{party_state, PartyState};
use crate::audit::{self, EventContext};
use crate::db::{lock_party_in, Checkpoint, Conn, Db};
use crate::ids::PartyId;
use crate::keys::{jobs, KeyError, KeyService, TenantKeyPurpose};
use std::time::Duration;

#[derive(Debug, thiserror::Error)]
pub enum ErasureError {
    #[error("no such party")]
    NoParty,
    #[error("the party was already erased")]
    AlreadyErased,
    /// Refused: the data must be kept. Every hold that applies, with its basis and end.
    #[error("{}", retention::domain::refusal_message(.0))]
    Held(Vec<Hold>),
    #[error(transparent)]
    Key(#[from] KeyError),
    #[error(transparent)]
    Db(#[from] sqlx::Error),
    #[error(transparent)]
    Audit(#[from] audit::AuditUnavailable),
}

/// Erases `party` in the caller's transaction (module docs); takes the party lock itself.
/// On `Err` the caller rolls back: nothing was written.
pub async fn erase_in(
    tx: &mut Conn,
    keys: &KeyService,
    ctx: &EventContext,
    party: &PartyId,
) -> Result<ErasureReceipt, ErasureError> {
    lock_party_in(tx, party.as_str()).await?;
    match party_state(tx, ctx.tenant.as_str(), party.as_str()).await? {
        Some(PartyState::Active) => {}
        Some(PartyState::Erased) => return Err(ErasureError::AlreadyErased),
        None => return Err(ErasureError::NoParty),
    }
    let holds = retention::holds(tx, &ctx.tenant, party, &ctx.now).await?;
    if !holds.is_empty() {
        return Err(ErasureError::Held(holds));
    }
    // Share-locked like every writer's read of it (PostgreSQL): a rotation cannot start
    // until this commits, so no key of this tenant is rewrapped under a version newer than
    // the one read here while the party's key is being deleted.
    let active = keys.active_version(tx, &ctx.tenant, TenantKeyPurpose::Data).await?;
    let shredded = store::shred(tx, ctx.tenant.as_str(), party.as_str(), &ctx.now).await?;
    let retire_below = active.max(shredded.wrapped_under.unwrap_or(0)) + 1;
    let job_id = jobs::enqueue_data_rotation(tx, &ctx.tenant, retire_below, &ctx.now).await?;
    let fields: Vec<String> = shredded.fields.iter().map(|f| api_field_name(f).to_string()).collect();
    let receipt = ErasureReceipt {
        tenant: ctx.tenant.to_string(),
        party: party.to_string(),
        erased_at: ctx.now.clone(),
        request_id: ctx.request_id.clone(),
        data_key_id: shredded.key_id,
        wrapped_under: shredded.wrapped_under,
        field_values: shredded.field_values,
        blind_indexes: shredded.blind_indexes,
        fields,
        retire_below,
        job_id,
    };
    let mut audited = vec!["data_key".to_string()];
    audited.extend(receipt.fields.iter().cloned());
    let event = ctx.event("party.erase", party.as_str(), audited, Some(receipt.sha256()));
    audit::append(tx, &event, &ctx.now).await?;
    Ok(receipt)
}

/// How many times [`after_commit`] tries the WAL checkpoint before leaving it to the next.
const CHECKPOINT_ATTEMPTS: u32 = 5;

/// Once an erasure committed: on SQLite, checkpoint the WAL into the main file and
/// truncate it, so the deleted rows' old page images leave the WAL (`secure_delete`, on
/// for every connection, has zeroed them in the pages themselves). A reader in the middle
/// of a read transaction blocks it; it is retried a few times, and otherwise left to the
/// next checkpoint (the key job worker runs one after each rotation). No-op on PostgreSQL.
pub async fn after_commit(db: &Db) -> Result<Checkpoint, sqlx::Error> {
    for attempt in 1..=CHECKPOINT_ATTEMPTS {
        if db.checkpoint().await? == Checkpoint::Completed {
            return Ok(Checkpoint::Completed);
        }
        tracing::debug!(attempt, "WAL checkpoint blocked by a reader; retrying");
        tokio::time::sleep(Duration::from_millis(50 * u64::from(attempt))).await;
    }
    tracing::warn!("WAL checkpoint after an erasure stayed blocked; the next checkpoint will truncate it");
    Ok(Checkpoint::Blocked)
}
