//! The "reclamo en trámite" flag a complete Colombian claim puts on its party (L.1266
//! art. 16-II num. 2, L.1581 art. 15: within 2 business days of the complete claim, so at
//! once here; kept until the claim is decided).
//!
//! A request needs the flag (`flagged`) once it is a complete Colombian claim (reclamo,
//! supresión or revocación): registered complete, or completed by the titular. While any
//! open request of the party needs it, it is set (through `flags::apply`, with reason
//! `claim_received` and reference `dsr:<request id>`); when the last one closes
//! (answered, denied, withdrawn, deemed granted) it is cleared — unless it was set by
//! someone else (a reference that is not `dsr:…`), which only that someone clears.

use super::request::Request;
use super::store;
use super::DsrError;
use crate::audit::EventContext;
use crate::db::Conn;
use crate::flags::{self, FlagAction, FlagChange, FlagKind, FlagReason};
use crate::ids::PartyId;

const PREFIX: &str = "dsr:";

/// Brings the party's flag in line with `request` as it is about to be written.
pub(crate) async fn sync(tx: &mut Conn, ctx: &EventContext, request: &Request) -> Result<(), DsrError> {
    if !request.flagged {
        return Ok(());
    }
    // An erased party is contacted by no one and has no flags to keep.
    let erased = crate::vault::store::party_state(tx, ctx.tenant.as_str(), &request.party).await?;
    if erased != Some(crate::vault::store::PartyState::Active) {
        return Ok(());
    }
    let party = PartyId::from_db(request.party.clone());
    let current = flags::current(tx, &ctx.tenant, &party).await?;
    let set = current.iter().find(|f| f.flag == FlagKind::ReclamoEnTramite);
    let reference = Some(format!("{PREFIX}{}", request.id));
    let change = if !request.state.is_terminal() {
        if set.is_some() {
            return Ok(());
        }
        FlagChange {
            action: FlagAction::Set,
            flag: FlagKind::ReclamoEnTramite,
            reason: FlagReason::ClaimReceived,
            reference,
            insolvency: None,
        }
    } else {
        let ours = set.is_some_and(|f| f.reference.as_deref().is_some_and(|r| r.starts_with(PREFIX)));
        if !ours || store::other_flagged_open(tx, ctx.tenant.as_str(), &request.party, &request.id).await? {
            return Ok(());
        }
        let reason = if request.state == super::domain::State::Withdrawn {
            FlagReason::ClaimWithdrawn
        } else {
            FlagReason::ClaimDecided
        };
        FlagChange { action: FlagAction::Clear, flag: FlagKind::ReclamoEnTramite, reason, reference, insolvency: None }
    };
    flags::apply(tx, ctx, &party, change).await?;
    Ok(())
}
