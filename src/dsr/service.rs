//! Writing requests: creating one and taking it one step, in the caller's transaction,
//! under the party lock, each change with its event and audit record (whose evidence is
//! the event's hash). A refusal returns before anything is written; the caller rolls back.

use super::answer::{self, Effects};
use super::domain::{self, ExecutionStep, RegimeCode, State, Transition};
use super::event::DsrEvent;
use super::store::{self, Identity, Request};
use super::wire::{instant_or_now, not_before, opt_hash, opt_reference, ActionRequest, NewRequest};
use super::{flag, DsrError};
use crate::audit::{self, EventContext};
use crate::calendar::{arco_execution_deadline, incomplete_claim_withdrawal, response_deadline, Deadline};
use crate::clients::settings::TenantSettings;
use crate::clock::to_db_time;
use crate::db::{lock_party_in, Conn};
use crate::keys::KeyService;
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

/// What a step did: the request now, its event, and effects elsewhere.
pub struct StepDone {
    pub request: Request,
    pub event: DsrEvent,
    pub effects: Effects,
}

pub(crate) fn now_of(ctx: &EventContext) -> Result<DateTime<Utc>, DsrError> {
    crate::clock::parse_instant(&ctx.now).map(|t| t.with_timezone(&Utc)).map_err(|_| DsrError::Clock)
}

fn at(text: &str) -> Result<DateTime<Utc>, DsrError> {
    crate::clock::parse_instant(text).map(|t| t.with_timezone(&Utc)).map_err(|_| DsrError::Clock)
}

fn zone(request: &Request) -> Result<Tz, DsrError> {
    request.timezone.parse::<Tz>().map_err(|_| DsrError::Clock)
}

fn set_due(request: &mut Request, deadline: Option<&Deadline>) {
    request.due_at = deadline.map(|d| to_db_time(d.due_at));
    request.due_date = deadline.map(|d| d.due_date.to_string());
    request.due_basis = deadline.map(|d| d.basis.to_string());
}

/// The response term of `request` started at `start`, extended if notified.
fn response_due(
    request: &Request,
    start: DateTime<Utc>,
    notified: Option<DateTime<Utc>>,
) -> Result<Deadline, DsrError> {
    let regime = request.regime.calendar(request.day_count);
    Ok(response_deadline(regime, request.kind.calendar(), start, zone(request)?, notified)?)
}

/// Refuses unless the party is an active party of the tenant.
async fn require_active(tx: &mut Conn, tenant: &str, party: &str) -> Result<(), DsrError> {
    match party_state(tx, tenant, party).await? {
        Some(PartyState::Active) => Ok(()),
        Some(PartyState::Erased) => Err(DsrError::PartyErased),
        None => Err(DsrError::NoParty),
    }
}

/// Creates a request (module docs of [`super`]); takes the party lock.
pub async fn create_in(
    tx: &mut Conn,
    ctx: &EventContext,
    settings: TenantSettings,
    new: NewRequest,
) -> Result<(Request, DsrEvent), DsrError> {
    lock_party_in(tx, &new.party).await?;
    require_active(tx, ctx.tenant.as_str(), &new.party).await?;
    let received = to_db_time(new.received_at);
    let mut request = Request {
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
    };
    let mut change = Change::new(&request, "create");
    match new.incomplete {
        None => {
            let due = response_due(&request, new.received_at, None)?;
            set_due(&mut change.after, Some(&due));
            change.after.flagged = domain::takes_claim_flag(new.regime, new.kind);
        }
        Some(asked) => await_titular(&mut change, asked)?,
    }
    request = change.after.clone();
    describe_creation(&mut change, &request);
    store::insert(tx, &request).await?;
    flag::sync(tx, ctx, &request).await?;
    let event = write_event(tx, ctx, None, &change, "dsr.create", 201).await?;
    Ok((request, event))
}

fn describe_creation(change: &mut Change, r: &Request) {
    let pairs = [
        ("kind", Some(r.kind.as_str().to_string())),
        ("claim_type", r.claim_type.map(|c| c.as_str().to_string())),
        ("regime", Some(r.regime.as_str().to_string())),
        ("day_count", Some(r.day_count.as_str().to_string())),
        ("timezone", Some(r.timezone.clone())),
        ("channel", Some(r.channel.as_str().to_string())),
        ("requester", Some(r.requester.as_str().to_string())),
        ("received_at", Some(r.received_at.clone())),
        ("due_at", r.due_at.clone()),
        ("information_requested_at", r.information_requested_at.clone()),
        ("withdraw_at", r.withdraw_at.clone()),
        ("assignee", r.assignee.clone()),
        ("revoke_purpose", r.revoke.as_ref().map(|s| s.purpose.clone())),
        ("revoke_channel", r.revoke.as_ref().and_then(|s| s.channel.clone())),
        ("revoke_destination", r.revoke.as_ref().and_then(|s| s.destination.clone())),
    ];
    for (key, value) in pairs {
        if let Some(value) = value {
            change.detail(key, value);
        }
    }
}

/// The request waits for the titular from `asked`: no response term runs; a Colombian
/// claim gets its withdrawal instant.
fn await_titular(change: &mut Change, asked: DateTime<Utc>) -> Result<(), DsrError> {
    let r = &mut change.after;
    r.state = State::AwaitingTitular;
    r.information_requested_at = Some(to_db_time(asked));
    set_due(r, None);
    r.withdraw_at = if domain::withdraws_when_incomplete(r.regime, r.kind) {
        let regime = r.regime.calendar(r.day_count);
        Some(to_db_time(incomplete_claim_withdrawal(regime, asked, zone(r)?)?.due_at))
    } else {
        None
    };
    Ok(())
}

/// Loads the request, takes its party's lock, and reads it again under the lock.
pub(crate) async fn locked(tx: &mut Conn, ctx: &EventContext, id: &str) -> Result<Request, DsrError> {
    let tenant = ctx.tenant.as_str();
    let found = store::load(tx, tenant, id).await?.ok_or(DsrError::NoRequest)?;
    lock_party_in(tx, &found.party).await?;
    let request = store::load(tx, tenant, id).await?.ok_or(DsrError::NoRequest)?;
    require_active(tx, tenant, &request.party).await?;
    Ok(request)
}

/// Takes one officer step (module docs of [`super`]).
pub async fn step_in(
    tx: &mut Conn,
    keys: &KeyService,
    ctx: &EventContext,
    id: &str,
    action: &ActionRequest,
) -> Result<StepDone, DsrError> {
    let before = locked(tx, ctx, id).await?;
    let now = now_of(ctx)?;
    let mut change = plan(tx, ctx, &before, action, now).await?;
    flag::sync(tx, ctx, &change.after).await?;
    let effects = answer::carry_out(tx, keys, ctx, &before, &mut change, action).await?;
    let event = write_event(tx, ctx, Some(&before), &change, action.audit_action(), 200).await?;
    Ok(StepDone { request: change.after, event, effects })
}

/// The transition a step makes, checked.
fn transition_of(action: &ActionRequest) -> Option<Transition> {
    Some(match action {
        ActionRequest::Start => Transition::Start,
        ActionRequest::RequestInformation { .. } => Transition::RequestInformation,
        ActionRequest::Complete { .. } => Transition::Complete,
        ActionRequest::Extend { .. } => Transition::Extend,
        ActionRequest::Answer { .. } => Transition::Answer,
        ActionRequest::Deny { .. } => Transition::Deny,
        ActionRequest::Withdraw { .. } => Transition::Withdraw,
        ActionRequest::Block { .. } => Transition::Block,
        ActionRequest::ExtendExecution { .. } | ActionRequest::Execute { .. } => return None,
    })
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

async fn plan(
    tx: &mut Conn,
    ctx: &EventContext,
    before: &Request,
    action: &ActionRequest,
    now: DateTime<Utc>,
) -> Result<Change, DsrError> {
    let name = action.audit_action().trim_start_matches("dsr.");
    let mut change = Change::new(before, static_name(name));
    if let Some(transition) = transition_of(action) {
        // Refuse an impossible transition before reading anything else of the body.
        enter(&mut change, transition, &ctx.now)?;
    }
    match action {
        ActionRequest::Start | ActionRequest::Answer { .. } | ActionRequest::Block { .. } => {}
        ActionRequest::RequestInformation { requested_at } => {
            let asked = instant_or_now(requested_at.as_deref(), now, "requested_at")?;
            await_titular(&mut change, not_before(asked, at(&before.term_start_at)?, "requested_at")?)?;
            change.detail("information_requested_at", to_db_time(asked));
        }
        ActionRequest::Complete { completed_at } => complete(&mut change, before, completed_at.as_deref(), now)?,
        ActionRequest::Extend { reason, notified_at, reference } => {
            let notified = instant_or_now(notified_at.as_deref(), now, "notified_at")?;
            let due = response_due(before, at(&before.term_start_at)?, Some(notified))?;
            let r = &mut change.after;
            set_due(r, Some(&due));
            (r.extended, r.extension_notified_at) = (true, Some(to_db_time(notified)));
            change.reason = Some(reason.as_str().to_string());
            change.reference = opt_reference(reference.as_deref())?;
            change.detail("notified_at", to_db_time(notified));
        }
        ActionRequest::Deny { reason, reference } => {
            change.after.state_reason = Some(reason.as_str().to_string());
            change.reason = change.after.state_reason.clone();
            change.reference = opt_reference(reference.as_deref())?;
            answer::record_holds(tx, ctx, before, *reason, &mut change).await?;
        }
        ActionRequest::Withdraw { reference } => {
            change.after.state_reason = Some("titular_withdrew".into());
            change.reason = change.after.state_reason.clone();
            change.reference = opt_reference(reference.as_deref())?;
        }
        ActionRequest::ExtendExecution { reason, notified_at, reference } => {
            extend_execution(&mut change, before, notified_at.as_deref(), now)?;
            change.reason = Some(reason.as_str().to_string());
            change.reference = opt_reference(reference.as_deref())?;
        }
        ActionRequest::Execute { executed_at, reference } => {
            execution(before, ExecutionStep::MarkExecuted)?;
            let done = instant_or_now(executed_at.as_deref(), now, "executed_at")?;
            let answered = at(before.answered_at.as_deref().unwrap_or(&before.received_at))?;
            change.after.executed_at = Some(to_db_time(not_before(done, answered, "executed_at")?));
            change.reference = opt_reference(reference.as_deref())?;
            change.detail("executed_at", to_db_time(done));
        }
    }
    if let Some(due) = &change.after.due_at {
        change.details.entry("due_at".into()).or_insert_with(|| due.clone());
    }
    Ok(change)
}

fn static_name(name: &str) -> &'static str {
    const NAMES: [&str; 10] = [
        "start",
        "request_information",
        "complete",
        "extend",
        "answer",
        "deny",
        "withdraw",
        "block",
        "extend_execution",
        "execute",
    ];
    NAMES.iter().find(|n| **n == name).copied().unwrap_or("step")
}

fn complete(
    change: &mut Change,
    before: &Request,
    completed_at: Option<&str>,
    now: DateTime<Utc>,
) -> Result<(), DsrError> {
    let done = instant_or_now(completed_at, now, "completed_at")?;
    let asked = at(before.information_requested_at.as_deref().unwrap_or(&before.received_at))?;
    let done = not_before(done, asked, "completed_at")?;
    let due = response_due(before, done, None)?;
    let r = &mut change.after;
    r.term_start_at = to_db_time(done);
    set_due(r, Some(&due));
    r.withdraw_at = None;
    r.flagged = domain::takes_claim_flag(r.regime, r.kind);
    change.detail("completed_at", to_db_time(done));
    Ok(())
}

fn execution(before: &Request, step: ExecutionStep) -> Result<(), DsrError> {
    let execution = domain::Execution {
        pending: before.execution_due_at.is_some() && before.executed_at.is_none(),
        extended: before.execution_extended,
    };
    Ok(domain::execution_step(before.state, before.regime, before.kind, execution, step)?)
}

fn extend_execution(
    change: &mut Change,
    before: &Request,
    notified_at: Option<&str>,
    now: DateTime<Utc>,
) -> Result<(), DsrError> {
    execution(before, ExecutionStep::Extend)?;
    let notified = instant_or_now(notified_at, now, "notified_at")?;
    let answered = at(before.answered_at.as_deref().unwrap_or(&before.received_at))?;
    let due = arco_execution_deadline(before.day_count, answered, zone(before)?, Some(notified))?;
    change.after.execution_due_at = Some(to_db_time(due.due_at));
    change.after.execution_extended = true;
    change.detail("notified_at", to_db_time(notified));
    change.detail("execution_due_at", to_db_time(due.due_at));
    Ok(())
}

/// Mexican ARCO: the term to carry out an answer given at `answered`.
pub(crate) fn execution_due(request: &Request, answered: DateTime<Utc>) -> Result<Option<String>, DsrError> {
    if request.regime != RegimeCode::MxArco {
        return Ok(None);
    }
    let due = arco_execution_deadline(request.day_count, answered, zone(request)?, None)?;
    Ok(Some(to_db_time(due.due_at)))
}

/// Records identity verification of the requester (no state change).
pub async fn verify_identity_in(
    tx: &mut Conn,
    ctx: &EventContext,
    id: &str,
    identity: Identity,
) -> Result<(Request, DsrEvent), DsrError> {
    let before = locked(tx, ctx, id).await?;
    if before.state.is_terminal() {
        return Err(domain::Refusal::Closed { state: before.state }.into());
    }
    let mut change = Change::new(&before, "identity");
    change.detail("method", identity.method.as_str());
    change.detail("verified_by", identity.verified_by.clone());
    change.detail("verified_at", identity.verified_at.clone());
    if let Some(hash) = &identity.document_sha256 {
        change.detail("document_sha256", hex::encode(hash));
    }
    change.after.identity = Some(identity);
    let event = write_event(tx, ctx, Some(&before), &change, "dsr.identity", 200).await?;
    Ok((change.after, event))
}

/// Assigns (or with None unassigns) the officer handling the request (no state change).
pub async fn assign_in(
    tx: &mut Conn,
    ctx: &EventContext,
    id: &str,
    assignee: Option<String>,
) -> Result<(Request, DsrEvent), DsrError> {
    let before = locked(tx, ctx, id).await?;
    if before.state.is_terminal() {
        return Err(domain::Refusal::Closed { state: before.state }.into());
    }
    let mut change = Change::new(&before, "assign");
    if let Some(assignee) = &assignee {
        change.detail("assignee", assignee.clone());
    }
    change.after.assignee = assignee;
    let event = write_event(tx, ctx, Some(&before), &change, "dsr.assign", 200).await?;
    Ok((change.after, event))
}

/// An identity verification's checked document hash.
pub fn document_hash(text: Option<&str>) -> Result<Option<Vec<u8>>, DsrError> {
    Ok(opt_hash(text, "document_sha256")?.map(|h| h.to_vec()))
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
