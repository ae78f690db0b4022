//! The one check every `/v1/parties/{id}...` endpoint makes about the party in its path:
//! 404 when the caller's tenant has no such party, 410 Gone (`party_erased`) once it was
//! erased (supresión). The refusal is audited before it is answered — about the party when
//! it exists, so an erased party's own chain shows every attempt made after its erasure.
//!
//! Consent, flag, retention and data-subject-request endpoints call [`require_active`]
//! (or [`refuse`] after a check inside their own transaction, once it is rolled back: on
//! SQLite the audit writer needs the write connection the transaction holds).

use super::store::{self, PartyState};
use crate::api::audited::{self, Target};
use crate::api::auth::Caller;
use crate::api::error::ApiError;
use crate::api::AppState;
use crate::ids::PartyId;

/// Ok when `party` is an active party of the caller's tenant; otherwise the audited 404/410.
pub async fn require_active(
    state: &AppState,
    caller: &Caller,
    party: &PartyId,
    action: &'static str,
) -> Result<(), ApiError> {
    let mut conn = state.db.reader().acquire().await?;
    let found = store::party_state(&mut conn, caller.tenant.as_str(), party.as_str()).await?;
    drop(conn);
    match found {
        Some(PartyState::Active) => Ok(()),
        other => Err(refuse(state, caller, action, party, other).await),
    }
}

/// The error for a party found in state `found` (None: 404; Erased: 410), audited as a
/// denied `action`. Call it with no write transaction open.
pub async fn refuse(
    state: &AppState,
    caller: &Caller,
    action: &'static str,
    party: &PartyId,
    found: Option<PartyState>,
) -> ApiError {
    let error = match found {
        Some(PartyState::Erased) => ApiError::party_erased(),
        _ => ApiError::NotFound { what: "party" },
    };
    audit_error(state, caller, action, Some(party), error).await
}

/// The caller's access to an endpoint about a party (`(roles, purposes)`, each refusal
/// audited), then the party id in its path, parsed as [`parse_party`] does.
pub async fn authorized_party(
    state: &AppState,
    caller: &Caller,
    access: (&[crate::access::Role], &[crate::access::Purpose]),
    action: &'static str,
    id: &str,
) -> Result<PartyId, ApiError> {
    caller.require_access(state, access, action).await?;
    parse_party(state, caller, id, action).await
}

/// The party id in a path; a malformed one is an audited 404 like an unknown one.
pub async fn parse_party(
    state: &AppState,
    caller: &Caller,
    text: &str,
    action: &'static str,
) -> Result<PartyId, ApiError> {
    match PartyId::parse(text) {
        Ok(id) => Ok(id),
        Err(_) => Err(audit_error(state, caller, action, None, ApiError::NotFound { what: "party" }).await),
    }
}

/// Audits a request that ends in `error` (denied for a 4xx, failed for a 5xx) and returns
/// the error to answer (503 if even that record cannot be written). The record is about
/// `party` unless the error says the tenant has no such party (a 404 about a party), so
/// no chain is started for ids the tenant does not hold. Call it with no write
/// transaction open.
pub async fn audit_error(
    state: &AppState,
    caller: &Caller,
    action: &'static str,
    party: Option<&PartyId>,
    error: ApiError,
) -> ApiError {
    let target = party.map_or(Target::Nothing, |party| Target::Gated(party.as_str()));
    audited::refusal(state, caller, action, target, error).await
}
