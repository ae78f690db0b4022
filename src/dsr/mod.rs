//! Data-subject requests (Habeas Data, ARCO, GDPR): consulta, reclamo (rectify, update,
//! complaint), supresión, revocación and prueba de autorización, under `co_1581`,
//! `co_1266`, `mx_arco` (business or calendar days, per tenant) and `eu_gdpr`.
//!
//! A request names its party (opaque id), kind, regime, the channel it arrived through and
//! when it was received (default now; earlier for a letter or a call, never later than
//! the gateway clock). Its deadline comes from `crate::calendar` in the tenant's zone
//! (copied onto the request). It moves through the state machine of [`domain`], each
//! change an append-only event ([`event`]) whose SHA-256 is the evidence of its audit
//! record. The pieces:
//!
//! - [`request`] the request as a value, [`store`] its SQL, [`wire`] the bodies and their
//!   checks, [`view`] the answers;
//! - [`service`]: create a request and take officer steps, in the caller's transaction
//!   under the party lock; [`change`] records each change (conditional update, event,
//!   audit record);
//! - [`answer`]: what an answer does per kind (erase through `vault::erasure`, revoke
//!   through `consent::revoke_in`, block through `vault::retention`, name the dossier or
//!   proof package given);
//! - [`flag`]: the "reclamo en trámite" flag of complete Colombian claims;
//! - [`dossier`]: the consulta's answer, everything held on the party, decrypted for
//!   purpose `dsr` only;
//! - [`sweeper`]: withdrawals, deemed grants and blocked erasures when their time comes;
//! - [`http`] and [`http_read`]: the endpoints under `/v1/dsr`.
//!
//! Nothing stored here is personal (codes, dates, opaque ids, element ids, hashes).

pub mod answer;
pub mod change;
pub mod domain;
pub mod dossier;
pub mod event;
pub mod flag;
pub mod http;
pub mod http_read;
pub mod request;
pub mod service;
pub mod store;
pub mod sweeper;
pub mod view;
pub mod wire;

pub use domain::{Kind, RegimeCode, State};
pub use sweeper::{SweepReport, Sweeper};

use crate::audit::AuditUnavailable;
use crate::calendar::DeadlineError;
use crate::consent::domain::BadInput;
use crate::consent::ConsentError;
use crate::flags::FlagError;
use crate::vault::erasure::ErasureError;
use crate::vault::retention::{Hold, RetentionError};

/// What a request write or read can be refused with.
#[derive(Debug, thiserror::Error)]
pub enum DsrError {
    #[error(transparent)]
    Invalid(#[from] BadInput),
    #[error("no such party in this tenant")]
    NoParty,
    #[error("this party's personal data was erased")]
    PartyErased,
    #[error("no such data-subject request in this tenant")]
    NoRequest,
    #[error(transparent)]
    Refused(#[from] domain::Refusal),
    #[error(transparent)]
    Deadline(#[from] DeadlineError),
    #[error("verify the requester's identity first (POST /v1/dsr/{{id}}/identity)")]
    IdentityNotVerified,
    #[error("document_sha256: no document with this hash was generated for this request")]
    UnknownDocument,
    #[error("this is for a {wanted} request only")]
    WrongKind { wanted: Kind },
    #[error("no retention hold or duty to remain applies to this party now")]
    NoHoldApplies,
    #[error("{}", crate::vault::retention::domain::refusal_message(.0))]
    Held(Vec<Hold>),
    #[error("the request was changed by another writer; read it again")]
    Concurrent,
    #[error("a stored time or zone does not parse")]
    Clock,
    #[error("stored data-subject request event {seq} failed its integrity check")]
    Integrity { seq: u64 },
    #[error(transparent)]
    Consent(ConsentError),
    #[error(transparent)]
    Flag(FlagError),
    #[error(transparent)]
    Erasure(ErasureError),
    #[error(transparent)]
    Retention(RetentionError),
    #[error(transparent)]
    Db(#[from] sqlx::Error),
    #[error(transparent)]
    Audit(#[from] AuditUnavailable),
}

impl From<ErasureError> for DsrError {
    fn from(error: ErasureError) -> Self {
        match error {
            ErasureError::Held(holds) => Self::Held(holds),
            ErasureError::NoParty => Self::NoParty,
            ErasureError::AlreadyErased => Self::PartyErased,
            other => Self::Erasure(other),
        }
    }
}

impl From<ConsentError> for DsrError {
    fn from(error: ConsentError) -> Self {
        match error {
            ConsentError::Invalid(bad) => Self::Invalid(bad),
            ConsentError::UnknownParty => Self::NoParty,
            ConsentError::PartyErased => Self::PartyErased,
            ConsentError::Db(db) => Self::Db(db),
            ConsentError::Audit(audit) => Self::Audit(audit),
            other => Self::Consent(other),
        }
    }
}

impl From<FlagError> for DsrError {
    fn from(error: FlagError) -> Self {
        match error {
            FlagError::UnknownParty => Self::NoParty,
            FlagError::PartyErased => Self::PartyErased,
            FlagError::Db(db) => Self::Db(db),
            FlagError::Audit(audit) => Self::Audit(audit),
            other => Self::Flag(other),
        }
    }
}

impl From<RetentionError> for DsrError {
    fn from(error: RetentionError) -> Self {
        match error {
            RetentionError::NoParty => Self::NoParty,
            RetentionError::Erased => Self::PartyErased,
            RetentionError::Invalid(invalid) => {
                Self::Invalid(BadInput::new(invalid.code, invalid.field, invalid.message))
            }
            RetentionError::Db(db) => Self::Db(db),
            RetentionError::Audit(audit) => Self::Audit(audit),
            other => Self::Retention(other),
        }
    }
}

/// Every event of a request, checked against the hash stored when it was written; an
/// edited row is an integrity error, never an answer.
pub async fn history(
    conn: &mut crate::db::Conn,
    tenant: &str,
    request: &str,
) -> Result<Vec<event::DsrEvent>, DsrError> {
    let stored = store::events(conn, tenant, request).await.map_err(|e| match e {
        sqlx::Error::Decode(_) | sqlx::Error::ColumnDecode { .. } => DsrError::Integrity { seq: 0 },
        other => DsrError::Db(other),
    })?;
    let mut out = Vec::with_capacity(stored.len());
    for (event, hash) in stored {
        if event.sha256().as_slice() != hash.as_slice() {
            tracing::error!(request_id = %request, seq = event.seq, "dsr event differs from its recorded hash");
            return Err(DsrError::Integrity { seq: event.seq });
        }
        out.push(event);
    }
    Ok(out)
}
