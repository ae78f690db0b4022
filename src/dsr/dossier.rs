//! The answer to a consulta (and to a GDPR access request): a dossier of everything the
//! gateway holds on the titular — their personal data, decrypted for purpose `dsr` only
//! (role `compliance` or `admin`, the access policy's `dsr` visibility); their consents,
//! notices served and flags; their obligations with payments and promises; retention
//! holds; their data-subject requests; and who accessed their data and why (every audit
//! record about the party: time, client, role, on-behalf-of, action, purpose, outcome,
//! field names). There is no contact ledger yet, and the dossier says so rather than
//! inventing one. Nothing about any other party is included (co-debtors' ids are left
//! out; an audit record about several parties shows only what was done).
//!
//! The handler sends the dossier's exact bytes and records their SHA-256 as the
//! `dsr.dossier` audit record's evidence; answering the consulta names that hash.

use super::request::Request;
use super::store;
use super::DsrError;
use crate::access::{AccessPolicy, Purpose, Role};
use crate::audit::search::{search, SearchFilter};
use crate::consent::wire::ConsentsView;
use crate::db::Conn;
use crate::flags::domain::FlagEventJson;
use crate::flags::FlagState;
use crate::ids::{PartyId, TenantId};
use crate::keys::KeyService;
use crate::obligations::store::MovementView;
use crate::vault::domain::{released_fields, visibilities, PartyView};
use crate::vault::retention::{self, Hold};
use crate::vault::service::open_party;
use serde::Serialize;
use utoipa::ToSchema;

pub const FORMAT: &str = "custodia.dsr_dossier/v1";

/// Most audit records a dossier lists (the newest first); `access_log.complete` says
/// whether there were more.
pub const MAX_ACCESS_RECORDS: usize = 10_000;

const CONTACTS_NOTE: &str = "Custodia keeps no contact ledger yet: no contact attempts, calls or messages are \
    recorded here, so none are listed. Accesses to the data are in access_log.";

#[derive(Serialize, ToSchema)]
pub struct Dossier {
    pub format: &'static str,
    pub request_id: String,
    pub party_id: String,
    pub generated_at: String,
    /// The personal data held, decrypted for this answer only.
    pub personal_data: PartyView,
    pub consents: ConsentsView,
    pub flags: FlagsSection,
    pub obligations: Vec<ObligationSection>,
    pub contacts: ContactsSection,
    /// What keeps the data now (open obligations, legal retention periods).
    pub retention_holds: Vec<Hold>,
    pub data_subject_requests: Vec<RequestSummary>,
    pub access_log: AccessLog,
}

#[derive(Serialize, ToSchema)]
pub struct FlagsSection {
    pub current: Vec<FlagState>,
    pub history: Vec<FlagEventJson>,
}

/// One obligation the titular is holder, co-debtor or guarantor of.
#[derive(Serialize, ToSchema)]
pub struct ObligationSection {
    pub id: String,
    pub external_ref: String,
    /// The titular's role on it: holder, co_debtor or guarantor.
    pub role: String,
    pub product: String,
    pub currency: String,
    pub principal: String,
    pub balance: String,
    pub due_date: String,
    pub status: String,
    pub payments: Vec<MovementView>,
    pub promises: Vec<MovementView>,
    pub created_at: String,
    pub updated_at: String,
}

#[derive(Serialize, ToSchema)]
pub struct ContactsSection {
    /// False: there is no contact ledger to report from.
    pub ledger_available: bool,
    pub note: &'static str,
}

#[derive(Serialize, ToSchema)]
pub struct RequestSummary {
    pub id: String,
    pub kind: super::Kind,
    pub regime: super::RegimeCode,
    pub state: super::State,
    pub received_at: String,
    pub closed_at: Option<String>,
}

impl RequestSummary {
    fn of(r: &Request) -> Self {
        Self {
            id: r.id.clone(),
            kind: r.kind,
            regime: r.regime,
            state: r.state,
            received_at: r.received_at.clone(),
            closed_at: r.closed_at.clone(),
        }
    }
}

#[derive(Serialize, ToSchema)]
pub struct AccessLog {
    /// Newest first.
    pub records: Vec<AccessRecord>,
    /// False when more than [`MAX_ACCESS_RECORDS`] exist (the oldest are left out).
    pub complete: bool,
}

/// Who accessed the titular's data and why.
#[derive(Serialize, ToSchema)]
pub struct AccessRecord {
    pub recorded_at: String,
    /// The API client (opaque id); absent for the gateway's own jobs.
    pub client_id: Option<String>,
    pub role: Option<String>,
    /// The person behind a service call, when given.
    pub on_behalf_of: Option<String>,
    pub action: String,
    pub purpose: Option<String>,
    pub outcome: String,
    /// Names of the fields touched and how they were shown (never values).
    pub fields: Vec<String>,
}

/// Builds the dossier of `request` for a caller of `role` (purpose `dsr`); with it, the
/// names of the personal fields it releases (for the audit record).
pub async fn build(
    conn: &mut Conn,
    keys: &KeyService,
    access: &AccessPolicy,
    role: Role,
    request: &Request,
    now: &str,
) -> Result<(Dossier, Vec<String>), DsrError> {
    let tenant = TenantId::from_db(request.tenant.clone());
    let party = PartyId::from_db(request.party.clone());
    let visibility = visibilities(access, role, Purpose::Dsr);
    let stored =
        crate::vault::store::load_party(conn, tenant.as_str(), party.as_str()).await?.ok_or(DsrError::PartyErased)?;
    let decrypted = open_party(keys, conn, &tenant, &stored, &visibility).await.map_err(|e| match e {
        crate::vault::service::VaultError::Db(db) => DsrError::Db(db),
        _ => DsrError::Integrity { seq: 0 },
    })?;
    let released = released_fields(&visibility);
    let history = crate::consent::state_and_history(conn, &tenant, &party).await?;
    let flag_events = crate::flags::history(conn, &tenant, &party).await?;
    let dossier = Dossier {
        format: FORMAT,
        request_id: request.id.clone(),
        party_id: party.to_string(),
        generated_at: now.to_string(),
        personal_data: PartyView::build(decrypted, visibility),
        consents: ConsentsView {
            party_id: party.to_string(),
            current: history.current.iter().map(|s| s.to_json()).collect(),
            history: history.events.iter().map(|e| e.to_json()).collect(),
            notices_served: history.served.iter().map(|e| e.to_json()).collect(),
        },
        flags: FlagsSection {
            current: crate::flags::domain::current(&flag_events),
            history: flag_events.iter().map(|e| e.to_json()).collect(),
        },
        obligations: obligations(conn, tenant.as_str(), party.as_str()).await?,
        contacts: ContactsSection { ledger_available: false, note: CONTACTS_NOTE },
        retention_holds: retention::holds(conn, &tenant, &party, now).await?,
        data_subject_requests: store::of_party(conn, tenant.as_str(), party.as_str())
            .await?
            .iter()
            .map(RequestSummary::of)
            .collect(),
        access_log: access_log(conn, tenant.as_str(), party.as_str()).await?,
    };
    Ok((dossier, released))
}

async fn obligations(conn: &mut Conn, tenant: &str, party: &str) -> Result<Vec<ObligationSection>, DsrError> {
    let mut out = Vec::new();
    for o in crate::obligations::store::for_party(conn, tenant, party).await? {
        // The titular's own role only: the other parties of the obligation are other people.
        let role = o.parties.iter().find(|p| p.party_id == party).map(|p| p.role.clone()).unwrap_or_default();
        out.push(ObligationSection {
            payments: crate::obligations::store::movements(conn, &o.id, false).await?,
            promises: crate::obligations::store::movements(conn, &o.id, true).await?,
            id: o.id,
            external_ref: o.external_ref,
            role,
            product: o.product,
            currency: o.currency,
            principal: o.principal,
            balance: o.balance,
            due_date: o.due_date,
            status: o.status,
            created_at: o.created_at,
            updated_at: o.updated_at,
        });
    }
    Ok(out)
}

async fn access_log(conn: &mut Conn, tenant: &str, party: &str) -> Result<AccessLog, DsrError> {
    let page = 500u32;
    let mut records = Vec::new();
    let mut before = None;
    loop {
        let filter = SearchFilter { party: Some(party.to_string()), before, limit: page, ..SearchFilter::default() };
        let found = search(conn, tenant, &filter).await.map_err(|e| match e {
            crate::audit::rows::RowError::Sql(db) => DsrError::Db(db),
            crate::audit::rows::RowError::Corrupt { seq, .. } => {
                DsrError::Integrity { seq: u64::try_from(seq).unwrap_or(0) }
            }
        })?;
        let last = found.len() < page as usize;
        before = found.last().map(|r| r.record_id.clone());
        for stored in found {
            if records.len() == MAX_ACCESS_RECORDS {
                return Ok(AccessLog { records, complete: false });
            }
            let r = stored.record;
            records.push(AccessRecord {
                recorded_at: r.recorded_at,
                client_id: r.client_id,
                role: r.role,
                on_behalf_of: r.on_behalf_of,
                action: r.action,
                purpose: r.purpose,
                outcome: r.outcome,
                fields: r.fields,
            });
        }
        if last {
            return Ok(AccessLog { records, complete: true });
        }
    }
}
