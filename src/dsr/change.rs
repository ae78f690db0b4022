//! One change of a request as it is recorded: the request after it and what its event
//! says ([`Change`]), and [`write_event`], which stores it — a conditional update on the
//! request's `last_seq`, so a writer that lost a race writes nothing — with its event and
//! the event's audit record. Also the small time and deadline helpers every step shares.

use super::domain::{self, Transition};
use super::event::DsrEvent;
use super::request::Request;
use super::store;
use super::DsrError;
use crate::audit::{self, EventContext};
use crate::calendar::{response_deadline, Deadline};
use crate::clock::to_db_time;
use crate::db::{lock_party_in, Conn};
use crate::vault::store::{party_state, PartyState};
use chrono::{DateTime, Utc};
use chrono_tz::Tz;
use std::collections::BTreeMap;

/// A change about to be recorded: the request after it, and what the event says.
pub(crate) struct Change {
    pub after: Request,
    pub action: &'static str,
    pub reason: Option<String>,
    pub reference: Option<String>,
    pub details: BTreeMap<String, String>,
}

impl Change {
    pub(crate) fn new(before: &Request, action: &'static str) -> Self {
        Self { after: before.clone(), action, reason: None, reference: None, details: BTreeMap::new() }
    }

    pub(crate) fn detail(&mut self, key: &str, value: impl Into<String>) {
        self.details.insert(key.to_string(), value.into());
    }
}

pub(crate) fn now_of(ctx: &EventContext) -> Result<DateTime<Utc>, DsrError> {
    crate::clock::parse_instant(&ctx.now).map(|t| t.with_timezone(&Utc)).map_err(|_| DsrError::Clock)
}

pub(crate) fn at(text: &str) -> Result<DateTime<Utc>, DsrError> {
    crate::clock::parse_instant(text).map(|t| t.with_timezone(&Utc)).map_err(|_| DsrError::Clock)
}

pub(crate) fn zone(request: &Request) -> Result<Tz, DsrError> {
    request.timezone.parse::<Tz>().map_err(|_| DsrError::Clock)
}

pub(crate) fn set_due(request: &mut Request, deadline: Option<&Deadline>) {
    request.due_at = deadline.map(|d| to_db_time(d.due_at));
    request.due_date = deadline.map(|d| d.due_date.to_string());
    request.due_basis = deadline.map(|d| d.basis.to_string());
}

/// The response term of `request` started at `start`, extended if notified.
pub(crate) fn response_due(
    request: &Request,
    start: DateTime<Utc>,
    notified: Option<DateTime<Utc>>,
) -> Result<Deadline, DsrError> {
    let regime = request.regime.calendar(request.day_count);
    Ok(response_deadline(regime, request.kind.calendar(), start, zone(request)?, notified)?)
}

/// Refuses unless the party is an active party of the tenant.
pub(crate) async fn require_active(tx: &mut Conn, tenant: &str, party: &str) -> Result<(), DsrError> {
    match party_state(tx, tenant, party).await? {
        Some(PartyState::Active) => Ok(()),
        Some(PartyState::Erased) => Err(DsrError::PartyErased),
        None => Err(DsrError::NoParty),
    }
}

/// Whether a step may be taken once the request's party was erased.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum IfErased {
    /// Refuse (410 `party_erased`): the step reads or changes the party.
    Refuse,
    /// Go on: the step only closes the request (a denial, a withdrawal, a lapse), so a
    /// request left open when its titular was erased can still be closed.
    Close,
}

/// Loads the request, takes its party's lock, and reads it again under the lock.
pub(crate) async fn locked(tx: &mut Conn, ctx: &EventContext, id: &str, erased: IfErased) -> Result<Request, DsrError> {
    let tenant = ctx.tenant.as_str();
    let found = store::load(tx, tenant, id).await?.ok_or(DsrError::NoRequest)?;
    lock_party_in(tx, &found.party).await?;
    let request = store::load(tx, tenant, id).await?.ok_or(DsrError::NoRequest)?;
    match require_active(tx, tenant, &request.party).await {
        Err(DsrError::PartyErased) if erased == IfErased::Close => Ok(request),
        other => other.map(|()| request),
    }
}

/// Moves `change.after` to the state `transition` leads to, closing it when terminal.
pub(crate) fn enter(change: &mut Change, transition: Transition, now: &str) -> Result<(), DsrError> {
    let r = &mut change.after;
    let to = domain::next_state(r.state, transition)?;
    domain::applies(transition, r.kind, r.regime)?;
    r.state = to;
    if r.state.is_terminal() {
        r.closed_at = Some(now.to_string());
    }
    Ok(())
}

/// Writes `change` (conditionally on `before` being unchanged), its event, and the
/// event's audit record (about the party, resource the request, evidence its hash).
pub(crate) async fn write_event(
    tx: &mut Conn,
    ctx: &EventContext,
    before: Option<&Request>,
    change: &Change,
    audit_action: &'static str,
    status: u16,
) -> Result<DsrEvent, DsrError> {
    let mut after = change.after.clone();
    if let Some(before) = before {
        after.last_seq = before.last_seq + 1;
        after.updated_at = ctx.now.clone();
        if !store::update(tx, &after, before.last_seq).await? {
            return Err(DsrError::Concurrent);
        }
    }
    let event = DsrEvent {
        id: uuid::Uuid::now_v7().to_string(),
        tenant: ctx.tenant.to_string(),
        request_id: after.id.clone(),
        party: after.party.clone(),
        seq: after.last_seq,
        action: change.action.to_string(),
        from_state: before.map(|b| b.state.as_str().to_string()),
        to_state: after.state.as_str().to_string(),
        reason: change.reason.clone(),
        reference: change.reference.clone(),
        details: change.details.clone(),
        recorded_at: ctx.now.clone(),
        recorded_by: ctx.actor.client.as_ref().map(|c| c.as_str().to_string()),
        on_behalf_of: ctx.actor.on_behalf_of.clone(),
    };
    store::insert_event(tx, &event).await?;
    let mut record = ctx.event(audit_action, &after.party, vec!["dsr_request".into()], Some(event.sha256()));
    record.resource_id = Some(after.id.clone());
    record.status = status;
    audit::append(tx, &record, &ctx.now).await?;
    Ok(event)
}
