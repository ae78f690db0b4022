//! Party flags the policy engine respects — `reclamo_en_tramite`,
//! `informacion_en_discusion_judicial`, `victima_falsedad_personal` (Ley 1266 art. 16),
//! `insolvency` (CGP art. 545), `deceased`, `do_not_contact`, `attorney_represented` —
//! as append-only set/clear events saying who, when and why (a reason code, never free
//! text; see [`domain`]). The current flags are derived from the events on every read;
//! writes take the party lock and commit with their audit record, whose evidence is the
//! event's hash.
//!
//! What part C (data-subject requests) calls: [`apply`], [`current`], [`history`].

pub mod domain;
pub mod http;
pub mod store;

use crate::audit::{self, AuditUnavailable, EventContext};
use crate::consent::domain::BadInput;
use crate::db::Conn;
use crate::ids::{PartyId, TenantId};
use crate::vault::store::{party_state, PartyState};
pub use domain::{FlagAction, FlagChange, FlagEvent, FlagKind, FlagReason, FlagState, Insolvency};

#[derive(Debug, thiserror::Error)]
pub enum FlagError {
    #[error(transparent)]
    Invalid(#[from] BadInput),
    #[error("no such party in this tenant")]
    UnknownParty,
    #[error("this party's personal data was erased")]
    PartyErased,
    #[error("stored flag event {seq} failed its integrity check")]
    Integrity { seq: u64 },
    #[error(transparent)]
    Db(#[from] sqlx::Error),
    #[error(transparent)]
    Audit(#[from] AuditUnavailable),
}

/// Refuses unless `party` is an active party of `tenant` (404 / 410 at the edge).
async fn require_active(conn: &mut Conn, tenant: &str, party: &str) -> Result<(), FlagError> {
    match party_state(conn, tenant, party).await? {
        None => Err(FlagError::UnknownParty),
        Some(PartyState::Erased) => Err(FlagError::PartyErased),
        Some(PartyState::Active) => Ok(()),
    }
}

/// Writes one flag event and its audit record in the caller's transaction. The caller
/// has taken `state.db.lock_party` for `party`. Setting a set flag records a new event
/// (its details replace the old ones); clearing a clear flag is recorded too.
pub async fn apply(
    tx: &mut Conn,
    ctx: &EventContext,
    party: &PartyId,
    change: FlagChange,
) -> Result<FlagEvent, FlagError> {
    require_active(tx, ctx.tenant.as_str(), party.as_str()).await?;
    let event = FlagEvent {
        id: uuid::Uuid::now_v7().to_string(),
        tenant: ctx.tenant.to_string(),
        party: party.to_string(),
        seq: store::next_seq(tx, party.as_str()).await?,
        change,
        recorded_at: ctx.now.clone(),
        recorded_by: ctx.actor.client.as_ref().map(|c| c.as_str().to_string()),
        on_behalf_of: ctx.actor.on_behalf_of.clone(),
    };
    store::insert(tx, &event).await?;
    let action = event.change.action.audit_action();
    let mut record =
        ctx.event(action, party.as_str(), vec![format!("flag:{}", event.change.flag)], Some(event.sha256()));
    record.status = 201;
    audit::append(tx, &record, &ctx.now).await?;
    Ok(event)
}

/// Every flag event of the party, in order, each checked against its recorded hash.
pub async fn history(conn: &mut Conn, tenant: &TenantId, party: &PartyId) -> Result<Vec<FlagEvent>, FlagError> {
    require_active(conn, tenant.as_str(), party.as_str()).await?;
    let mut out = Vec::new();
    let stored = store::events(conn, tenant.as_str(), party.as_str()).await.map_err(|e| match e {
        // A row that no longer decodes was edited outside the gateway.
        sqlx::Error::Decode(_) | sqlx::Error::ColumnDecode { .. } => FlagError::Integrity { seq: 0 },
        other => FlagError::Db(other),
    })?;
    for (event, hash) in stored {
        if event.sha256() != hash {
            tracing::error!(party_id = %party, seq = event.seq, "flag event differs from its recorded hash");
            return Err(FlagError::Integrity { seq: event.seq });
        }
        out.push(event);
    }
    Ok(out)
}

/// The flags set now (never cached: derived from the events on every call).
pub async fn current(conn: &mut Conn, tenant: &TenantId, party: &PartyId) -> Result<Vec<FlagState>, FlagError> {
    Ok(domain::current(&history(conn, tenant, party).await?))
}
