//! A data-subject request as a value: what it is, its terms and where it stands, as the
//! `dsr_requests` row holds it (times are the database's text form). No personal value:
//! destinations are element ids, identity documents only their hash.

use super::domain::{ClaimType, IdentityMethod, Kind, ReceiptChannel, RegimeCode, Requester, State};
use super::wire::NewRequest;
use crate::audit::EventContext;
use crate::calendar::DayCount;
use crate::clients::settings::TenantSettings;
use crate::clock::to_db_time;

/// The consent scope a revocación asks to revoke (element ids and codes only).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RevokeScope {
    pub purpose: String,
    pub channel: Option<String>,
    pub destination: Option<String>,
}

/// How the requester's identity was verified; a document only by its hash.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Identity {
    pub method: IdentityMethod,
    pub verified_by: String,
    pub verified_at: String,
    pub document_sha256: Option<Vec<u8>>,
}

/// One request as stored: what it is, its terms and where it stands.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Request {
    pub id: String,
    pub tenant: String,
    pub party: String,
    pub kind: Kind,
    pub claim_type: Option<ClaimType>,
    pub regime: RegimeCode,
    pub day_count: DayCount,
    pub timezone: String,
    pub channel: ReceiptChannel,
    pub requester: Requester,
    pub received_at: String,
    /// When the response term started: receipt, or the completion of an incomplete claim.
    pub term_start_at: String,
    /// The last on-time second of the response term; None while it is stopped.
    pub due_at: Option<String>,
    pub due_date: Option<String>,
    pub due_basis: Option<String>,
    pub extended: bool,
    pub extension_notified_at: Option<String>,
    pub state: State,
    pub state_reason: Option<String>,
    pub information_requested_at: Option<String>,
    /// An incomplete Colombian claim is withdrawn after this instant.
    pub withdraw_at: Option<String>,
    pub answered_at: Option<String>,
    pub execution_due_at: Option<String>,
    pub execution_extended: bool,
    pub executed_at: Option<String>,
    pub revoke: Option<RevokeScope>,
    pub retention_hold_id: Option<String>,
    /// This request needs the "reclamo en trámite" flag (a complete Colombian claim).
    pub flagged: bool,
    pub identity: Option<Identity>,
    pub assignee: Option<String>,
    pub last_seq: u64,
    pub created_at: String,
    pub updated_at: String,
    pub closed_at: Option<String>,
}

impl Request {
    /// A request just received, before its terms are set (in `received`, term from receipt).
    pub fn new(ctx: &EventContext, settings: TenantSettings, new: &NewRequest) -> Self {
        let received = to_db_time(new.received_at);
        Self {
            id: uuid::Uuid::now_v7().to_string(),
            tenant: ctx.tenant.to_string(),
            party: new.party.clone(),
            kind: new.kind,
            claim_type: new.claim_type,
            regime: new.regime,
            day_count: settings.mx_arco_days,
            timezone: settings.timezone.name().to_string(),
            channel: new.channel,
            requester: new.requester,
            received_at: received.clone(),
            term_start_at: received,
            due_at: None,
            due_date: None,
            due_basis: None,
            extended: false,
            extension_notified_at: None,
            state: State::Received,
            state_reason: None,
            information_requested_at: None,
            withdraw_at: None,
            answered_at: None,
            execution_due_at: None,
            execution_extended: false,
            executed_at: None,
            revoke: new.revoke.clone(),
            retention_hold_id: None,
            flagged: false,
            identity: None,
            assignee: new.assignee.clone(),
            last_seq: 1,
            created_at: ctx.now.clone(),
            updated_at: ctx.now.clone(),
            closed_at: None,
        }
    }
}
