//! What answering (or blocking) a request does besides changing its state, by kind:
//!
//! - consulta / prueba de autorización: the answer names the document it was answered
//!   with (the dossier, the consent proof package) by its SHA-256, which must be the
//!   evidence of a `dsr.dossier` / `dsr.proof` audit record of this request — so the
//!   answer provably is a document the gateway generated and gave out;
//! - supresión: the party is erased through `vault::erasure::erase_in` in this
//!   transaction; while a retention hold applies it is refused with every hold
//!   (`retention_hold`), and the officer may deny the request with that reason;
//! - revocación: the scope is revoked through `consent::revoke_in`, which refuses the
//!   `data_processing` / `collection` authorization while a duty to remain holds;
//! - Mexican cancellation, `block`: a retention period with `erase_at_end` through
//!   `vault::retention::add_in`; the sweeper erases the party when it ends.
//!
//! Answering or blocking needs the requester's identity verified first.

use super::domain::{DenialReason, Kind, ReceiptChannel};
use super::request::Request;
use super::service::{execution_due, now_of, Change};
use super::store;
use super::wire::{opt_hash, opt_reference, ActionRequest};
use super::DsrError;
use crate::audit::merkle::Hash;
use crate::audit::EventContext;
use crate::consent::domain::BadInput;
use crate::consent::{self, ConsentAction, ConsentKind, ConsentScope, Evidence, Method};
use crate::db::Conn;
use crate::ids::PartyId;
use crate::keys::KeyService;
use crate::vault::erasure::{self, ErasureReceipt};
use crate::vault::retention::{self, HoldInput};

/// What a step did outside the request.
#[derive(Debug, Default)]
pub struct Effects {
    pub erasure: Option<ErasureReceipt>,
    /// SHA-256 of the consent revocation event recorded.
    pub consent_event: Option<Hash>,
}

/// Carries out an answer or a block (module docs); other steps do nothing here.
pub(crate) async fn carry_out(
    tx: &mut Conn,
    keys: &KeyService,
    ctx: &EventContext,
    before: &Request,
    change: &mut Change,
    action: &ActionRequest,
) -> Result<Effects, DsrError> {
    match action {
        ActionRequest::Answer { document_sha256, reference } => {
            require_identity(before)?;
            change.reference = opt_reference(reference.as_deref())?;
            let document = opt_hash(document_sha256.as_deref(), "document_sha256")?;
            let effects = answer(tx, keys, ctx, before, change, document).await?;
            mark_answered(ctx, before, change)?;
            Ok(effects)
        }
        ActionRequest::Block { basis, ends_on } => {
            require_identity(before)?;
            block(tx, ctx, before, change, basis, ends_on).await?;
            mark_answered(ctx, before, change)?;
            Ok(Effects::default())
        }
        _ => Ok(Effects::default()),
    }
}

fn require_identity(request: &Request) -> Result<(), DsrError> {
    if request.identity.is_none() {
        return Err(DsrError::IdentityNotVerified);
    }
    Ok(())
}

/// The answer's time, and for Mexico the term to carry it out (already carried out when
/// the answer itself erased, revoked or blocked).
fn mark_answered(ctx: &EventContext, before: &Request, change: &mut Change) -> Result<(), DsrError> {
    let now = now_of(ctx)?;
    let r = &mut change.after;
    if r.answered_at.is_none() {
        r.answered_at = Some(ctx.now.clone());
        r.execution_due_at = execution_due(before, now)?;
    }
    let carried_out = matches!(before.kind, Kind::Supresion | Kind::Revocacion);
    if carried_out && r.execution_due_at.is_some() && r.executed_at.is_none() {
        r.executed_at = Some(ctx.now.clone());
    }
    if let Some(due) = r.execution_due_at.clone() {
        change.detail("execution_due_at", due);
    }
    Ok(())
}

async fn answer(
    tx: &mut Conn,
    keys: &KeyService,
    ctx: &EventContext,
    before: &Request,
    change: &mut Change,
    document: Option<Hash>,
) -> Result<Effects, DsrError> {
    if let Some(hash) = &document {
        change.detail("document_sha256", hex::encode(hash));
    }
    let attesting = match before.kind {
        Kind::Consulta => Some("dsr.dossier"),
        Kind::PruebaAutorizacion => Some("dsr.proof"),
        _ => None,
    };
    if let Some(action) = attesting {
        let Some(hash) = document else {
            let what = if action == "dsr.dossier" { "the dossier" } else { "the proof package" };
            return Err(BadInput::new("field_required", "document_sha256", format!("name {what} given")).into());
        };
        if !store::attested(tx, ctx.tenant.as_str(), action, &before.id, &hash).await? {
            return Err(DsrError::UnknownDocument);
        }
        return Ok(Effects::default());
    }
    let party = PartyId::from_db(before.party.clone());
    match before.kind {
        Kind::Supresion => {
            let receipt = erasure::erase_in(tx, keys, ctx, &party).await?;
            change.detail("erasure_receipt_sha256", hex::encode(receipt.sha256()));
            Ok(Effects { erasure: Some(receipt), consent_event: None })
        }
        Kind::Revocacion => {
            let event = revoke(tx, ctx, before, &party).await?;
            change.detail("consent_event_sha256", hex::encode(event));
            Ok(Effects { erasure: None, consent_event: Some(event) })
        }
        _ => Ok(Effects::default()),
    }
}

/// Revokes the scope the request names, with the request as the titular's evidence.
async fn revoke(tx: &mut Conn, ctx: &EventContext, request: &Request, party: &PartyId) -> Result<Hash, DsrError> {
    let corrupt = || DsrError::Db(sqlx::Error::Decode("dsr_requests.revoke_* holds an unknown value".into()));
    // Every revocación names its scope when it is registered.
    let scope = request.revoke.as_ref().ok_or_else(corrupt)?;
    let purpose = scope.purpose.parse().map_err(|_| corrupt())?;
    let channel = scope.channel.as_deref().map(|c| c.parse().map_err(|_| corrupt())).transpose()?;
    let scope = ConsentScope::new(
        ConsentKind::Authorization,
        purpose,
        channel,
        scope.destination.as_deref(),
        None,
        ConsentAction::Revoke,
    )?;
    let captured_by = ctx
        .actor
        .on_behalf_of
        .clone()
        .or_else(|| ctx.actor.client.as_ref().map(|c| c.to_string()))
        .unwrap_or_else(|| "dsr".into());
    let evidence = Evidence {
        method: method_of(request.channel),
        notice_hash: None,
        captured_at: now_of_text(&request.received_at)?,
        captured_by,
        source_reference: format!("dsr:{}", request.id),
        document_sha256: None,
    };
    let event = consent::revoke_in(tx, ctx, party, scope, evidence).await?;
    Ok(event.sha256())
}

fn now_of_text(text: &str) -> Result<chrono::DateTime<chrono::Utc>, DsrError> {
    crate::clock::parse_instant(text).map(|t| t.with_timezone(&chrono::Utc)).map_err(|_| DsrError::Clock)
}

/// How the titular's revocation was captured, by how the request arrived.
fn method_of(channel: ReceiptChannel) -> Method {
    match channel {
        ReceiptChannel::Web => Method::WebForm,
        ReceiptChannel::Phone => Method::RecordedCall,
        ReceiptChannel::App => Method::App,
        ReceiptChannel::Email | ReceiptChannel::Post | ReceiptChannel::InPerson => Method::Written,
    }
}

/// Blocks a Mexican cancellation: a retention period from the party's today to
/// `ends_on`, erased at its end.
async fn block(
    tx: &mut Conn,
    ctx: &EventContext,
    before: &Request,
    change: &mut Change,
    basis: &str,
    ends_on: &str,
) -> Result<(), DsrError> {
    let party = PartyId::from_db(before.party.clone());
    let today = retention::party_today(tx, &ctx.tenant, &party, &ctx.now).await?;
    let input = HoldInput {
        basis: basis.to_string(),
        starts_on: today.to_string(),
        ends_on: Some(ends_on.to_string()),
        erase_at_end: true,
    };
    let period = input.validate().map_err(|e| BadInput::new(e.code, e.field, e.message))?;
    let hold = retention::add_in(tx, ctx, &party, period).await?;
    change.detail("retention_hold_id", hold.id.clone());
    change.detail("ends_on", ends_on);
    change.after.retention_hold_id = Some(hold.id);
    change.after.executed_at = Some(ctx.now.clone());
    Ok(())
}

/// A denial for a retention hold or a duty to remain records the holds that apply now
/// (their bases and ends: law names and opaque ids); one that applies is required.
pub(crate) async fn record_holds(
    tx: &mut Conn,
    ctx: &EventContext,
    before: &Request,
    reason: DenialReason,
    change: &mut Change,
) -> Result<(), DsrError> {
    if !matches!(reason, DenialReason::RetentionHold | DenialReason::DutyToRemain) {
        return Ok(());
    }
    let party = PartyId::from_db(before.party.clone());
    let holds = retention::holds(tx, &ctx.tenant, &party, &ctx.now).await?;
    if holds.is_empty() {
        return Err(DsrError::NoHoldApplies);
    }
    let reasons: Vec<String> = holds.iter().map(|h| h.reason()).collect();
    change.detail("holds", reasons.join("; "));
    Ok(())
}

/// The sweeper: erases a party whose blocked cancellation's period ended, and answers
/// its blocked requests. Refused (nothing written) while another hold applies.
pub(crate) async fn erase_blocked(
    tx: &mut Conn,
    keys: &KeyService,
    ctx: &EventContext,
    party: &PartyId,
) -> Result<(ErasureReceipt, Vec<Request>), DsrError> {
    let receipt = erasure::erase_in(tx, keys, ctx, party).await?;
    let mut answered = Vec::new();
    for before in store::blocked_of_party(tx, ctx.tenant.as_str(), party.as_str()).await? {
        let mut change = Change::new(&before, "answer");
        super::service::enter(&mut change, super::domain::Transition::Answer, &ctx.now)?;
        change.detail("erasure_receipt_sha256", hex::encode(receipt.sha256()));
        change.reason = Some("retention_period_ended".into());
        super::service::write_event(tx, ctx, Some(&before), &change, "dsr.answer", 200).await?;
        answered.push(change.after);
    }
    Ok((receipt, answered))
}
