//! The audit records of party-scoped endpoints that are neither writes (those append in
//! their own transaction) nor role/purpose refusals (`Caller::require_*` audit those):
//! allowed reads, and every other refusal, so each request leaves exactly one record. A
//! refusal about a party of the caller's tenant is recorded about that party; a party of
//! another tenant (404) is never put in this tenant's party chains.

use super::auth::Caller;
use super::error::ApiError;
use super::AppState;
use crate::audit::Outcome;

/// What a refused request was about.
#[derive(Clone, Copy, Debug)]
pub enum Target<'a> {
    /// Nothing we can name (the path did not even hold an id: its raw text is never
    /// recorded, it could be anything, a phone number included).
    Nothing,
    /// A party id from the path, not yet known to be the tenant's: no 404 of any kind
    /// puts it in the tenant's party chains.
    Party(&'a str),
    /// A party the vault gate handles: the record is about it unless the error says the
    /// tenant has no such party.
    Gated(&'a str),
    /// Another resource (a notice).
    Resource(&'a str),
}

/// Appends the refusal's audit record and returns the error to answer with (or 503 when
/// the record cannot be written). 5xx are `failed`, everything else `denied`.
pub async fn refusal(
    state: &AppState,
    caller: &Caller,
    action: &'static str,
    target: Target<'_>,
    error: ApiError,
) -> ApiError {
    if matches!(error, ApiError::AuditUnavailable | ApiError::ClientRevoked) {
        return error;
    }
    let outcome = if error.status().is_server_error() { Outcome::Failed } else { Outcome::Denied };
    let resource = match target {
        Target::Nothing => None,
        Target::Party(id) | Target::Gated(id) | Target::Resource(id) => Some(id.to_string()),
    };
    let about = match target {
        Target::Party(party) if !matches!(error, ApiError::NotFound { .. }) => Some(party),
        Target::Gated(party) if !matches!(error, ApiError::NotFound { what: "party" }) => Some(party),
        _ => None,
    };
    let mut event = caller.event(action, resource, Vec::new(), outcome, error.status().as_u16());
    event.error_code = Some(error.code());
    if let Some(party) = about {
        event = event.about_parties([party.to_string()]);
    }
    match state.audit.append(&event, &state.now_db()).await {
        Ok(()) => error,
        Err(audit) => ApiError::from(audit),
    }
}

/// `result`, with its error (if any) audited first as a refusal about `target`.
pub async fn or_refusal<T>(
    state: &AppState,
    caller: &Caller,
    action: &'static str,
    target: Target<'_>,
    result: Result<T, ApiError>,
) -> Result<T, ApiError> {
    match result {
        Ok(value) => Ok(value),
        Err(error) => Err(refusal(state, caller, action, target, error).await),
    }
}

/// Audits an allowed read about `party`, with the names of what was released.
pub async fn read(
    state: &AppState,
    caller: &Caller,
    action: &'static str,
    party: &str,
    fields: Vec<String>,
    evidence: Option<crate::audit::merkle::Hash>,
) -> Result<(), ApiError> {
    let mut event =
        caller.event(action, Some(party.to_string()), fields, Outcome::Allowed, 200).about_parties([party.to_string()]);
    event.evidence = evidence;
    state.audit.append(&event, &state.now_db()).await?;
    Ok(())
}
