//! Retention holds: what keeps a party's data from being erased (supresión, cancelación,
//! GDPR art. 17), and from having its authorization to process data revoked.
//!
//! A hold applies now when (a) the party is holder, co-debtor or guarantor of an
//! obligation that is not `paid` or `closed` (Decreto 1377 de 2013 art. 9: a contractual
//! duty to remain in the database), or (b) a legal retention period stored for the party
//! (basis naming the law, e.g. "Ley 1266 de 2008 art. 13"; first and last day) is in
//! force on the party's local date and not released. [`holds`] returns every hold that
//! applies; erasure and consent revocation refuse with them.
//!
//! Periods are added and released through the API (`/v1/parties/{id}/retention-holds`)
//! or by [`add_in`] / [`release_in`] inside another module's transaction (a data-subject
//! request that blocks a Mexican cancellation adds a period with `erase_at_end`; once it
//! ends, [`due_for_erasure`] lists the party for the sweeper that erases it). Every write
//! takes the party lock and commits with its audit record, whose evidence is the SHA-256
//! of the event's canonical encoding (see [`domain`]). Nothing stored here is personal.

pub mod domain;
pub mod http;
pub mod store;

pub use domain::{Hold, HoldInput, NewPeriod, StoredPeriod};

use crate::audit::{self, EventContext};
use crate::db::{lock_party_in, Conn};
use crate::ids::{PartyId, TenantId};
use crate::keys::crypto::sha256;
use crate::vault::store::{party_state, PartyState};
use chrono::NaiveDate;

#[derive(Debug, thiserror::Error)]
pub enum RetentionError {
    #[error("no such party")]
    NoParty,
    #[error("the party was erased")]
    Erased,
    #[error("no such retention hold")]
    NoHold,
    #[error("the retention hold was already released")]
    AlreadyReleased,
    #[error(transparent)]
    Invalid(#[from] domain::HoldInvalid),
    #[error(transparent)]
    Db(#[from] sqlx::Error),
    #[error(transparent)]
    Audit(#[from] audit::AuditUnavailable),
}

/// The party's local date at `now` (database time text): a retention period is counted in
/// the days of the person it is about. UTC when the zone cannot be read.
pub fn local_date(now: &str, timezone: &str) -> NaiveDate {
    let instant = chrono::DateTime::parse_from_rfc3339(now).map(|t| t.with_timezone(&chrono::Utc));
    let instant = instant.unwrap_or_else(|_| chrono::Utc::now());
    match timezone.parse::<chrono_tz::Tz>() {
        Ok(zone) => instant.with_timezone(&zone).date_naive(),
        Err(_) => instant.date_naive(),
    }
}

/// The party's local date at `now` (UTC when the tenant has no such party).
pub async fn party_today(
    conn: &mut Conn,
    tenant: &TenantId,
    party: &PartyId,
    now: &str,
) -> Result<NaiveDate, sqlx::Error> {
    let zone: Option<String> = sqlx::query_scalar("SELECT timezone FROM parties WHERE id = $1 AND tenant_id = $2")
        .bind(party.as_str())
        .bind(tenant.as_str())
        .fetch_optional(&mut *conn)
        .await?;
    Ok(local_date(now, zone.as_deref().unwrap_or("UTC")))
}

/// Every hold that applies to `party` at `now` (database time text): its open obligations
/// and the stored retention periods in force on its local date. Empty when nothing holds
/// (or the tenant has no such party).
pub async fn holds(conn: &mut Conn, tenant: &TenantId, party: &PartyId, now: &str) -> Result<Vec<Hold>, sqlx::Error> {
    let row: Option<(String, String)> =
        sqlx::query_as("SELECT jurisdiction, timezone FROM parties WHERE id = $1 AND tenant_id = $2")
            .bind(party.as_str())
            .bind(tenant.as_str())
            .fetch_optional(&mut *conn)
            .await?;
    let Some((jurisdiction, timezone)) = row else { return Ok(Vec::new()) };
    let basis = domain::open_obligation_basis(&jurisdiction);
    let mut out: Vec<Hold> = store::open_obligations(conn, tenant.as_str(), party.as_str())
        .await?
        .into_iter()
        .map(|(obligation_id, role, status)| Hold::OpenObligation { obligation_id, role, status, basis: basis.into() })
        .collect();
    let today = local_date(now, &timezone);
    let periods = store::list(conn, tenant.as_str(), party.as_str()).await?;
    out.extend(periods.iter().filter(|p| p.applies_on(today)).map(StoredPeriod::hold));
    Ok(out)
}

async fn require_active(conn: &mut Conn, tenant: &TenantId, party: &PartyId) -> Result<(), RetentionError> {
    lock_party_in(conn, party.as_str()).await?;
    match party_state(conn, tenant.as_str(), party.as_str()).await? {
        Some(PartyState::Active) => Ok(()),
        Some(PartyState::Erased) => Err(RetentionError::Erased),
        None => Err(RetentionError::NoParty),
    }
}

fn actor_id(ctx: &EventContext) -> String {
    ctx.actor.client.as_ref().map(|c| c.to_string()).unwrap_or_else(|| "system".into())
}

/// Stores a retention period for `party` with its audit record (`retention.hold`), in the
/// caller's transaction, under the party lock.
pub async fn add_in(
    conn: &mut Conn,
    ctx: &EventContext,
    party: &PartyId,
    period: NewPeriod,
) -> Result<StoredPeriod, RetentionError> {
    require_active(conn, &ctx.tenant, party).await?;
    let hold = StoredPeriod {
        id: uuid::Uuid::now_v7().to_string(),
        party_id: party.to_string(),
        period,
        created_at: ctx.now.clone(),
        created_by: actor_id(ctx),
        released_at: None,
        released_by: None,
    };
    store::insert(conn, ctx.tenant.as_str(), &hold).await?;
    let evidence = sha256(&hold.encode_event("retention.hold", ctx.tenant.as_str(), &ctx.now, &hold.created_by));
    let mut event = ctx.event("retention.hold", party.as_str(), vec!["retention_hold".into()], Some(evidence));
    event.status = 201; // a hold is created
    audit::append(conn, &event, &ctx.now).await?;
    Ok(hold)
}

/// Releases a stored retention period with its audit record (`retention.release`), in the
/// caller's transaction, under the party lock.
pub async fn release_in(
    conn: &mut Conn,
    ctx: &EventContext,
    party: &PartyId,
    hold_id: &str,
) -> Result<StoredPeriod, RetentionError> {
    require_active(conn, &ctx.tenant, party).await?;
    let mut hold =
        store::find(conn, ctx.tenant.as_str(), party.as_str(), hold_id).await?.ok_or(RetentionError::NoHold)?;
    let by = actor_id(ctx);
    if !store::release(conn, &hold.id, &ctx.now, &by).await? {
        return Err(RetentionError::AlreadyReleased);
    }
    hold.released_at = Some(ctx.now.clone());
    hold.released_by = Some(by.clone());
    let evidence = sha256(&hold.encode_event("retention.release", ctx.tenant.as_str(), &ctx.now, &by));
    let event = ctx.event("retention.release", party.as_str(), vec!["retention_hold".into()], Some(evidence));
    audit::append(conn, &event, &ctx.now).await?;
    Ok(hold)
}

/// Parties whose blocked cancellation is due: an unreleased `erase_at_end` period ended
/// before `today`. The sweeper erases each with `erasure::erase_in`, which refuses again
/// if another hold still applies.
pub async fn due_for_erasure(
    conn: &mut Conn,
    today: NaiveDate,
    limit: i64,
) -> Result<Vec<(TenantId, PartyId)>, sqlx::Error> {
    let due = store::due_for_erasure(conn, today, limit).await?;
    Ok(due.into_iter().map(|(t, p)| (TenantId::from_db(t), PartyId::from_db(p))).collect())
}
