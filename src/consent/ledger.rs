//! Recording consent events and reading a party's ledger, inside the caller's
//! transaction. These are the functions the HTTP handlers and the data-subject requests
//! (part C) share, so every path applies the same rules (module docs of [`super`]).

use super::domain::{BadInput, ConsentAction, ConsentKind, Evidence, NewConsent};
use super::duty::{self, Duty};
use super::event::ConsentEvent;
use super::state::{self, ScopeState};
use super::{store, ConsentScope};
use crate::audit::{self, AuditUnavailable, EventContext};
use crate::clock::to_db_time;
use crate::db::Conn;
use crate::ids::{PartyId, TenantId};
use crate::notices::domain::NoticeServed;
use crate::notices::{self, NoticeError};
use crate::vault::store::{party_state, PartyState};
use chrono::{DateTime, Utc};

/// Products whose obligations may carry a visit authorization (Ley 2300 de 2023 art. 6
/// par. 1: microcredit, development and agricultural or rural credit).
pub const VISIT_PRODUCTS: &[&str] = &["microcredit", "development_credit", "agricultural_credit"];

/// What a consent write or read can be refused with.
#[derive(Debug, thiserror::Error)]
pub enum ConsentError {
    #[error(transparent)]
    Invalid(#[from] BadInput),
    #[error("no such party in this tenant")]
    UnknownParty,
    #[error("this party's personal data was erased")]
    PartyErased,
    #[error(transparent)]
    Notice(#[from] NoticeError),
    #[error("destination: the party has no {0} element with this id")]
    UnknownDestination(&'static str),
    #[error("obligation_id: no such obligation of this party")]
    UnknownObligation,
    #[error("obligation_id: visits may be authorized only for microcredit, development or agricultural credit (Ley 2300 de 2023 art. 6 par. 1)")]
    VisitNotEligible,
    #[error("evidence.captured_at: the artefact must be dated after the contract (a later day in the party's time zone; Ley 2300 de 2023 art. 3 parágrafo)")]
    BeforeContract,
    #[error("evidence.captured_at: this scope already has an event captured later; record current evidence instead")]
    Superseded,
    #[error("the {purpose} authorization cannot be revoked while a legal or contractual duty to remain in the database holds ({basis}): {reasons}")]
    RevocationRefused { purpose: &'static str, basis: &'static str, reasons: String, duties: Vec<Duty> },
    #[error("stored consent event {seq} failed its integrity check")]
    Integrity { seq: u64 },
    #[error(transparent)]
    Db(#[from] sqlx::Error),
    #[error(transparent)]
    Audit(#[from] AuditUnavailable),
}

/// Refuses unless `party` is an active party of `tenant`.
pub async fn require_active(conn: &mut Conn, tenant: &str, party: &str) -> Result<(), ConsentError> {
    match party_state(conn, tenant, party).await? {
        None => Err(ConsentError::UnknownParty),
        Some(PartyState::Erased) => Err(ConsentError::PartyErased),
        Some(PartyState::Active) => Ok(()),
    }
}

fn now_of(ctx: &EventContext) -> Result<DateTime<Utc>, ConsentError> {
    crate::clock::parse_instant(&ctx.now)
        .map(|t| t.with_timezone(&Utc))
        .map_err(|_| ConsentError::Db(sqlx::Error::Protocol("event context time is not RFC 3339".into())))
}

/// Records one checked event (grant or revocation) with its audit record, in the caller's
/// transaction. The caller has taken `state.db.lock_party` for `party`.
pub async fn record_in(
    tx: &mut Conn,
    ctx: &EventContext,
    party: &PartyId,
    new: NewConsent,
) -> Result<ConsentEvent, ConsentError> {
    let tenant = ctx.tenant.as_str();
    require_active(tx, tenant, party.as_str()).await?;
    check_against_party(tx, tenant, party.as_str(), &new).await?;
    let captured_at = to_db_time(new.evidence.captured_at);
    if let Some(hash) = &new.evidence.notice_hash {
        notices::citable(tx, tenant, hash, Some((new.scope.purpose, new.scope.channel)), &captured_at).await?;
    }
    if duty::blocked_by_duties(new.action, &new.scope) {
        let duties = duty::duties_to_remain(tx, &ctx.tenant, party, &ctx.now).await?;
        if !duties.is_empty() {
            return Err(ConsentError::RevocationRefused {
                purpose: new.scope.purpose.as_str(),
                basis: duty::LEGAL_BASIS,
                reasons: duty::reasons(&duties),
                duties,
            });
        }
    }
    if let Some((latest, _)) = store::latest_in_scope(tx, party.as_str(), &new.scope).await? {
        if captured_at < latest.captured_at {
            return Err(ConsentError::Superseded);
        }
    }
    let seq = store::next_seq(tx, party.as_str()).await?;
    let event = new_event(ctx, party, seq, new);
    store::insert(tx, &event).await?;
    let mut record =
        ctx.event(event.action.audit_action(), party.as_str(), vec!["consent".into()], Some(event.sha256()));
    record.status = 201;
    audit::append(tx, &record, &ctx.now).await?;
    Ok(event)
}

fn new_event(ctx: &EventContext, party: &PartyId, seq: u64, new: NewConsent) -> ConsentEvent {
    ConsentEvent {
        id: uuid::Uuid::now_v7().to_string(),
        tenant: ctx.tenant.to_string(),
        party: party.to_string(),
        seq,
        action: new.action,
        scope: new.scope,
        terms: new.terms,
        method: new.evidence.method,
        notice_hash: new.evidence.notice_hash,
        captured_at: to_db_time(new.evidence.captured_at),
        captured_by: new.evidence.captured_by,
        source_reference: new.evidence.source_reference,
        document_sha256: new.evidence.document_sha256,
        recorded_at: ctx.now.clone(),
        recorded_by: ctx.actor.client.as_ref().map(|c| c.as_str().to_string()),
    }
}

/// Revokes `scope` with `evidence` (a revocación from a data-subject request, say). The
/// refusal to revoke `data_processing` or `collection` while a duty holds applies here
/// too. The caller holds the party lock.
pub async fn revoke_in(
    tx: &mut Conn,
    ctx: &EventContext,
    party: &PartyId,
    scope: ConsentScope,
    evidence: Evidence,
) -> Result<ConsentEvent, ConsentError> {
    let new = NewConsent::new(ConsentAction::Revoke, scope, Default::default(), evidence, now_of(ctx)?)?;
    record_in(tx, ctx, party, new).await
}

/// What the scope of an event needs from the party: its destination element, its
/// obligation, and the artefact date rule in its time zone.
async fn check_against_party(tx: &mut Conn, tenant: &str, party: &str, new: &NewConsent) -> Result<(), ConsentError> {
    let scope = &new.scope;
    if let (Some(destination), Some(field)) = (&scope.destination, scope.channel.and_then(|c| c.destination_field())) {
        let found: Option<i64> =
            sqlx::query_scalar("SELECT 1 FROM party_fields WHERE party_id = $1 AND field = $2 AND element_id = $3")
                .bind(party)
                .bind(field)
                .bind(destination)
                .fetch_optional(&mut *tx)
                .await?;
        if found.is_none() {
            return Err(ConsentError::UnknownDestination(field));
        }
    }
    if let Some(obligation) = &scope.obligation_id {
        let product: Option<String> = sqlx::query_scalar(
            "SELECT o.product FROM obligations o JOIN obligation_parties op ON op.obligation_id = o.id \
             WHERE o.id = $1 AND op.party_id = $2 AND o.tenant_id = $3",
        )
        .bind(obligation)
        .bind(party)
        .bind(tenant)
        .fetch_optional(&mut *tx)
        .await?;
        let product = product.ok_or(ConsentError::UnknownObligation)?;
        if new.action == ConsentAction::Grant && !VISIT_PRODUCTS.contains(&product.as_str()) {
            return Err(ConsentError::VisitNotEligible);
        }
    }
    if let (Some(contract), true) = (new.terms.contract_date, scope.kind != ConsentKind::Authorization) {
        let zone: String =
            sqlx::query_scalar("SELECT timezone FROM parties WHERE id = $1").bind(party).fetch_one(&mut *tx).await?;
        let zone = zone.parse::<chrono_tz::Tz>().unwrap_or(chrono_tz::UTC);
        if !super::domain::dated_after_contract(new.evidence.captured_at, zone, contract) {
            return Err(ConsentError::BeforeContract);
        }
    }
    Ok(())
}

/// A party's whole ledger: current state per scope, every event, every served notice.
#[derive(Clone, Debug)]
pub struct ConsentHistory {
    pub current: Vec<ScopeState>,
    pub events: Vec<ConsentEvent>,
    pub served: Vec<NoticeServed>,
}

/// Reads the ledger (never cached) and checks each row against the hash stored when it
/// was recorded; a row edited since is an integrity error, never an answer.
pub async fn state_and_history(
    conn: &mut Conn,
    tenant: &TenantId,
    party: &PartyId,
) -> Result<ConsentHistory, ConsentError> {
    require_active(conn, tenant.as_str(), party.as_str()).await?;
    let stored = store::events(conn, tenant.as_str(), party.as_str()).await.map_err(integrity_on_decode)?;
    let mut events = Vec::with_capacity(stored.len());
    for (event, hash) in stored {
        if event.sha256() != hash {
            tracing::error!(party_id = %party, seq = event.seq, "consent event differs from its recorded hash");
            return Err(ConsentError::Integrity { seq: event.seq });
        }
        events.push(event);
    }
    let mut served = Vec::new();
    for (event, hash) in notices::store::served_for(conn, tenant.as_str(), party.as_str()).await? {
        if event.sha256() != hash {
            tracing::error!(party_id = %party, seq = event.seq, "served-notice event differs from its recorded hash");
            return Err(ConsentError::Integrity { seq: event.seq });
        }
        served.push(event);
    }
    Ok(ConsentHistory { current: state::current(&events), events, served })
}

/// A row that no longer decodes was edited outside the gateway.
pub fn integrity_on_decode(error: sqlx::Error) -> ConsentError {
    match error {
        sqlx::Error::Decode(_) | sqlx::Error::ColumnDecode { .. } => ConsentError::Integrity { seq: 0 },
        other => ConsentError::Db(other),
    }
}
