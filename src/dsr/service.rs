//! Writing requests: creating one and taking it one step, in the caller's transaction,
//! under the party lock, each change with its event and audit record (whose evidence is
//! the event's hash). A refusal returns before anything is written; the caller rolls back.

use super::answer::{self, Effects};
use super::change::{at, require_active, response_due, set_due, zone};
pub(crate) use super::change::{enter, locked, now_of, write_event, Change, IfErased};
use super::domain::{self, ExecutionStep, RegimeCode, State, Transition};
use super::event::DsrEvent;
use super::request::{Identity, Request};
use super::store;
use super::wire::{instant_or_now, not_before, opt_hash, opt_reference, ActionRequest, NewRequest};
use super::{flag, DsrError};
use crate::audit::EventContext;
use crate::calendar::{arco_execution_deadline, incomplete_claim_withdrawal};
use crate::clients::settings::TenantSettings;
use crate::clock::to_db_time;
use crate::db::{lock_party_in, Conn};
use crate::keys::KeyService;
use chrono::{DateTime, Utc};

/// What a step did: the request now, its event, and effects elsewhere.
pub struct StepDone {
    pub request: Request,
    pub event: DsrEvent,
    pub effects: Effects,
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
    let mut request = Request::new(ctx, settings, &new);
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

/// Takes one officer step (module docs of [`super`]).
pub async fn step_in(
    tx: &mut Conn,
    keys: &KeyService,
    ctx: &EventContext,
    id: &str,
    action: &ActionRequest,
) -> Result<StepDone, DsrError> {
    let erased = match action {
        ActionRequest::Deny { .. } | ActionRequest::Withdraw { .. } => IfErased::Close,
        _ => IfErased::Refuse,
    };
    let before = locked(tx, ctx, id, erased).await?;
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

async fn plan(
    tx: &mut Conn,
    ctx: &EventContext,
    before: &Request,
    action: &ActionRequest,
    now: DateTime<Utc>,
) -> Result<Change, DsrError> {
    let mut change = Change::new(before, action.name());
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
            extend(&mut change, before, notified_at.as_deref(), now)?;
            change.reason = Some(reason.as_str().to_string());
            change.reference = opt_reference(reference.as_deref())?;
        }
        ActionRequest::Deny { reason, reference } => {
            close_with(&mut change, reason.as_str(), reference.as_deref())?;
            answer::record_holds(tx, ctx, before, *reason, &mut change).await?;
        }
        ActionRequest::Withdraw { reference } => close_with(&mut change, "titular_withdrew", reference.as_deref())?,
        ActionRequest::ExtendExecution { reason, notified_at, reference } => {
            extend_execution(&mut change, before, notified_at.as_deref(), now)?;
            change.reason = Some(reason.as_str().to_string());
            change.reference = opt_reference(reference.as_deref())?;
        }
        ActionRequest::Execute { executed_at, reference } => {
            execute(&mut change, before, executed_at.as_deref(), now)?;
            change.reference = opt_reference(reference.as_deref())?;
        }
    }
    if let Some(due) = &change.after.due_at {
        change.details.entry("due_at".into()).or_insert_with(|| due.clone());
    }
    Ok(change)
}

/// A denial or withdrawal: the reason is the request's and the event's.
fn close_with(change: &mut Change, reason: &str, reference: Option<&str>) -> Result<(), DsrError> {
    change.after.state_reason = Some(reason.to_string());
    change.reason = Some(reason.to_string());
    change.reference = opt_reference(reference)?;
    Ok(())
}

/// The one extension of the response term, notified at `notified_at` (default now).
fn extend(
    change: &mut Change,
    before: &Request,
    notified_at: Option<&str>,
    now: DateTime<Utc>,
) -> Result<(), DsrError> {
    let notified = instant_or_now(notified_at, now, "notified_at")?;
    let due = response_due(before, at(&before.term_start_at)?, Some(notified))?;
    let r = &mut change.after;
    set_due(r, Some(&due));
    r.extended = true;
    r.extension_notified_at = Some(to_db_time(notified));
    change.detail("notified_at", to_db_time(notified));
    Ok(())
}

fn execute(
    change: &mut Change,
    before: &Request,
    executed_at: Option<&str>,
    now: DateTime<Utc>,
) -> Result<(), DsrError> {
    execution(before, ExecutionStep::MarkExecuted)?;
    let done = instant_or_now(executed_at, now, "executed_at")?;
    let answered = at(before.answered_at.as_deref().unwrap_or(&before.received_at))?;
    change.after.executed_at = Some(to_db_time(not_before(done, answered, "executed_at")?));
    change.detail("executed_at", to_db_time(done));
    Ok(())
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
    let before = locked(tx, ctx, id, IfErased::Refuse).await?;
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
    let before = locked(tx, ctx, id, IfErased::Refuse).await?;
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
