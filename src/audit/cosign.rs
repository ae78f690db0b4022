//! Witness cosignatures (C2SP tlog-cosignature): a witness that checked a checkpoint is
//! consistent with every earlier one it saw cosigns it; the gateway keeps the cosignature
//! with the checkpoint and serves it appended to the note. Only witnesses named in
//! `[audit] witness_keys` are accepted, and each line is verified before it is kept.

use super::log as audit_log;
use super::note::{Note, NoteSignature, WitnessVerifierKey};
use super::Outcome;
use crate::access::Role;
use crate::api::auth::Caller;
use crate::api::error::{ApiError, ErrorBody};
use crate::api::AppState;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::StatusCode;

/// Roles that may hand in a witness's cosignature.
const COSIGNERS: &[Role] = &[Role::Admin, Role::Compliance, Role::Regulator];

/// Adds a witness cosignature line to the checkpoint of `size`.
#[utoipa::path(post, path = "/v1/audit/checkpoints/{size}/cosignatures", tag = "audit",
    params(("size" = u64, Path), ("X-Purpose" = String, Header)),
    request_body(content = String, content_type = "text/plain", description = "one cosignature line: `— <witness> <base64>`"),
    responses((status = 204, description = "kept"), (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn add_cosignature(
    State(state): State<AppState>,
    caller: Caller,
    Path(size): Path<String>,
    body: Bytes,
) -> Result<StatusCode, ApiError> {
    caller.require_role(&state, COSIGNERS, "audit.cosign").await?;
    let size: u64 = size.parse().map_err(|_| ApiError::NotFound { what: "checkpoint" })?;
    let line = std::str::from_utf8(&body).map(str::trim_end).map_err(|_| invalid("the body is not UTF-8"))?;
    let signature = NoteSignature::parse_line(line).map_err(|_| invalid("the body is not one signature line"))?;
    let log = caller.tenant.as_str();
    let mut conn = state.db.reader().acquire().await?;
    let checkpoint =
        audit_log::checkpoint_at(&mut conn, log, size).await?.ok_or(ApiError::NotFound { what: "checkpoint" })?;
    drop(conn);
    let witness = verified_witness(&state.audit.witnesses, &checkpoint.note, line)?;
    let mut tx = state.db.begin_write().await?;
    sqlx::query(
        "INSERT INTO audit_cosignatures (log_id, tree_size, witness, line, added_at) VALUES ($1, $2, $3, $4, $5) \
         ON CONFLICT (log_id, tree_size, witness) DO UPDATE SET line = excluded.line, added_at = excluded.added_at",
    )
    .bind(log)
    .bind(i64::try_from(size).unwrap_or(i64::MAX))
    .bind(witness.to_text())
    .bind(signature.to_line().trim_end())
    .bind(state.now_db())
    .execute(&mut *tx)
    .await?;
    let event =
        caller.event("audit.cosign", Some(size.to_string()), vec![witness.name().to_string()], Outcome::Allowed, 204);
    super::append(&mut tx, &event, &state.now_db()).await?;
    tx.commit().await.map_err(|_| ApiError::AuditUnavailable)?;
    Ok(StatusCode::NO_CONTENT)
}

fn invalid(message: &str) -> ApiError {
    ApiError::unprocessable("invalid_cosignature", message.to_string())
}

/// The configured witness whose valid cosignature `line` is, over the checkpoint `note`.
fn verified_witness(witnesses: &[WitnessVerifierKey], note: &str, line: &str) -> Result<WitnessVerifierKey, ApiError> {
    let mut note = Note::parse(note).map_err(ApiError::internal)?;
    note.push_signature_line(line).map_err(|_| invalid("the line cannot be added to the checkpoint note"))?;
    let verified = note.verify_cosignatures(witnesses).map_err(|_| invalid("the cosignature does not verify"))?;
    let signature = NoteSignature::parse_line(line).map_err(|_| invalid("the body is not one signature line"))?;
    verified
        .into_iter()
        .map(|c| c.witness)
        .find(|w| w.name() == signature.name() && w.key_id() == signature.key_id())
        .ok_or_else(|| invalid("the cosignature is not by a configured witness"))
}
