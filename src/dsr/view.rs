//! What `/v1/dsr` answers with: a request as the API shows it (with whether it is late
//! now), its history, the answer to a step, a page of the list.

use super::domain::{ClaimType, IdentityMethod, Kind, ReceiptChannel, RegimeCode, Requester, State};
use super::event::DsrEventJson;
use super::request::Request;
use serde::Serialize;
use utoipa::ToSchema;

#[derive(Serialize, ToSchema)]
pub struct RevokeView {
    pub purpose: String,
    pub channel: Option<String>,
    pub destination: Option<String>,
}

#[derive(Serialize, ToSchema)]
pub struct IdentityView {
    pub method: IdentityMethod,
    pub verified_by: String,
    pub verified_at: String,
    pub document_sha256: Option<String>,
}

/// A request as the API shows it. Times are UTC (RFC 3339); `due_date` is the last day
/// of the running term in `timezone`.
#[derive(Serialize, ToSchema)]
pub struct RequestView {
    pub id: String,
    pub party_id: String,
    pub kind: Kind,
    pub claim_type: Option<ClaimType>,
    pub regime: RegimeCode,
    /// How Mexican terms count (`business` or `calendar`), copied from the tenant.
    pub day_count: String,
    /// The tenant's zone when the request was created: it decides the local days.
    pub timezone: String,
    pub channel: ReceiptChannel,
    pub requester: Requester,
    pub received_at: String,
    /// When the running response term started: receipt, or completion of the request.
    pub term_start_at: String,
    /// Last on-time second of the response term (absent while it is stopped or over).
    pub due_at: Option<String>,
    pub due_date: Option<String>,
    /// The law the term comes from.
    pub due_basis: Option<String>,
    pub extended: bool,
    pub extension_notified_at: Option<String>,
    pub state: State,
    pub state_reason: Option<String>,
    pub information_requested_at: Option<String>,
    /// An incomplete Colombian claim is treated as withdrawn after this second.
    pub withdraw_at: Option<String>,
    pub answered_at: Option<String>,
    /// Mexican ARCO: last on-time second to carry the answer out.
    pub execution_due_at: Option<String>,
    pub execution_extended: bool,
    pub executed_at: Option<String>,
    pub revoke: Option<RevokeView>,
    /// The retention period that blocks a Mexican cancellation.
    pub retention_hold_id: Option<String>,
    /// A complete Colombian claim: the party carries "reclamo en trámite" while it is open.
    pub claim_flag: bool,
    pub identity: Option<IdentityView>,
    pub assignee: Option<String>,
    /// Past a due second now (response or execution term).
    pub overdue: bool,
    pub created_at: String,
    pub updated_at: String,
    pub closed_at: Option<String>,
}

/// Whether `request` is late at `cutoff` (now − 1 s, database text: a term is met up to
/// and including its last second).
pub fn is_overdue(request: &Request, cutoff: &str) -> bool {
    let response = request.state.term_runs() && request.due_at.as_deref().is_some_and(|d| d < cutoff);
    let execution = request.state == State::Answered
        && request.executed_at.is_none()
        && request.execution_due_at.as_deref().is_some_and(|d| d < cutoff);
    response || execution
}

impl RequestView {
    pub fn of(r: &Request, cutoff: &str) -> Self {
        Self {
            id: r.id.clone(),
            party_id: r.party.clone(),
            kind: r.kind,
            claim_type: r.claim_type,
            regime: r.regime,
            day_count: r.day_count.as_str().to_string(),
            timezone: r.timezone.clone(),
            channel: r.channel,
            requester: r.requester,
            received_at: r.received_at.clone(),
            term_start_at: r.term_start_at.clone(),
            due_at: r.due_at.clone(),
            due_date: r.due_date.clone(),
            due_basis: r.due_basis.clone(),
            extended: r.extended,
            extension_notified_at: r.extension_notified_at.clone(),
            state: r.state,
            state_reason: r.state_reason.clone(),
            information_requested_at: r.information_requested_at.clone(),
            withdraw_at: r.withdraw_at.clone(),
            answered_at: r.answered_at.clone(),
            execution_due_at: r.execution_due_at.clone(),
            execution_extended: r.execution_extended,
            executed_at: r.executed_at.clone(),
            revoke: r.revoke.as_ref().map(|s| RevokeView {
                purpose: s.purpose.clone(),
                channel: s.channel.clone(),
                destination: s.destination.clone(),
            }),
            retention_hold_id: r.retention_hold_id.clone(),
            claim_flag: r.flagged,
            identity: r.identity.as_ref().map(|i| IdentityView {
                method: i.method,
                verified_by: i.verified_by.clone(),
                verified_at: i.verified_at.clone(),
                document_sha256: i.document_sha256.as_ref().map(hex::encode),
            }),
            assignee: r.assignee.clone(),
            overdue: is_overdue(r, cutoff),
            created_at: r.created_at.clone(),
            updated_at: r.updated_at.clone(),
            closed_at: r.closed_at.clone(),
        }
    }
}

/// One request with its whole history.
#[derive(Serialize, ToSchema)]
pub struct RequestDetail {
    pub request: RequestView,
    pub events: Vec<DsrEventJson>,
}

/// The answer to a step: the request now, the event recorded, and what the step did
/// elsewhere (an erasure receipt, a consent revocation, a retention hold).
#[derive(Serialize, ToSchema)]
pub struct Stepped {
    pub request: RequestView,
    pub event: DsrEventJson,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub erasure: Option<crate::vault::erasure::ErasureView>,
    /// Hex SHA-256 of the consent revocation event recorded.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub consent_event_sha256: Option<String>,
}

/// The tenant settings the clocks use.
#[derive(Serialize, ToSchema)]
pub struct SettingsView {
    pub timezone: String,
    /// `business` or `calendar`.
    pub mx_arco_days: String,
}

/// A page of `GET /v1/dsr`.
#[derive(Serialize, ToSchema)]
pub struct RequestList {
    pub tenant_settings: SettingsView,
    pub requests: Vec<RequestView>,
    /// Pass as `cursor` for the next page; absent on the last one.
    pub next_cursor: Option<String>,
}
