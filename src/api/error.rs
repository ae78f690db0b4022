//! The one error type every handler returns, and the one JSON shape clients see:
//! `{"error": {"code": "...", "message": "...", "request_id": "..."}}`.
//!
//! Codes are stable and machine-readable; messages are English and never contain a
//! submitted value (it may be personal data). Internal causes are logged once, here,
//! with the request id, and never sent to the client.

use crate::api::request_id;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::Serialize;

#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    #[error("missing or unknown API token")]
    Unauthenticated,
    /// The token was revoked while the request ran (its audit transaction found out):
    /// answered like [`ApiError::Unauthenticated`]; the auth layer audits the refusal.
    #[error("missing or unknown API token")]
    ClientRevoked,
    #[error("{message}")]
    Forbidden { code: &'static str, message: String },
    #[error("{message}")]
    BadRequest { code: &'static str, message: String },
    #[error("{what} not found")]
    NotFound { what: &'static str },
    /// The resource existed and was deliberately removed (an erased party): unlike 404,
    /// it tells the caller not to retry or re-create it from stale copies.
    #[error("{message}")]
    Gone { code: &'static str, message: String },
    #[error("{message}")]
    Conflict { code: &'static str, message: String },
    #[error("{message}")]
    Unprocessable { code: &'static str, message: String },
    #[error("request body is larger than the limit")]
    PayloadTooLarge,
    #[error("expected Content-Type: {expected}")]
    UnsupportedMediaType { expected: &'static str },
    #[error("too many requests for this client; slow down")]
    RateLimited,
    #[error("the audit log is unavailable; nothing was released or changed")]
    AuditUnavailable,
    #[error("the service is temporarily unavailable")]
    Unavailable,
    /// Stored data failed its integrity check (tampered, moved, or under a retired key);
    /// nothing of it is released.
    #[error("stored data failed its integrity check; nothing was released")]
    Integrity,
    #[error("internal error")]
    Internal(#[source] anyhow::Error),
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct ErrorBody {
    error: ErrorDetail,
}

/// The error object inside every non-2xx response.
#[derive(Serialize, utoipa::ToSchema)]
pub struct ErrorDetail {
    /// Stable machine-readable code, e.g. `invalid_phone`.
    code: String,
    /// Human-readable explanation; never contains submitted values.
    message: String,
    /// The request id, also in the `X-Request-Id` response header.
    request_id: String,
}

impl ApiError {
    pub fn internal(err: impl Into<anyhow::Error>) -> Self {
        Self::Internal(err.into())
    }

    pub fn unprocessable(code: &'static str, message: impl Into<String>) -> Self {
        Self::Unprocessable { code, message: message.into() }
    }

    pub fn bad_request(code: &'static str, message: impl Into<String>) -> Self {
        Self::BadRequest { code, message: message.into() }
    }

    /// 410 for a party whose data was erased (supresión); the audit keeps its opaque id.
    pub fn party_erased() -> Self {
        Self::Gone { code: "party_erased", message: "this party's personal data was erased".into() }
    }

    pub fn status(&self) -> StatusCode {
        match self {
            Self::Unauthenticated | Self::ClientRevoked => StatusCode::UNAUTHORIZED,
            Self::Forbidden { .. } => StatusCode::FORBIDDEN,
            Self::BadRequest { .. } => StatusCode::BAD_REQUEST,
            Self::NotFound { .. } => StatusCode::NOT_FOUND,
            Self::Gone { .. } => StatusCode::GONE,
            Self::Conflict { .. } => StatusCode::CONFLICT,
            Self::Unprocessable { .. } => StatusCode::UNPROCESSABLE_ENTITY,
            Self::PayloadTooLarge => StatusCode::PAYLOAD_TOO_LARGE,
            Self::UnsupportedMediaType { .. } => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            Self::RateLimited => StatusCode::TOO_MANY_REQUESTS,
            Self::AuditUnavailable | Self::Unavailable => StatusCode::SERVICE_UNAVAILABLE,
            Self::Integrity | Self::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    pub fn code(&self) -> &'static str {
        match self {
            Self::Unauthenticated | Self::ClientRevoked => "unauthenticated",
            Self::Forbidden { code, .. }
            | Self::BadRequest { code, .. }
            | Self::Conflict { code, .. }
            | Self::Gone { code, .. }
            | Self::Unprocessable { code, .. } => code,
            Self::NotFound { .. } => "not_found",
            Self::PayloadTooLarge => "payload_too_large",
            Self::UnsupportedMediaType { .. } => "unsupported_media_type",
            Self::RateLimited => "rate_limited",
            Self::AuditUnavailable => "audit_unavailable",
            Self::Unavailable => "unavailable",
            Self::Integrity => "integrity_error",
            Self::Internal(_) => "internal",
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let request_id = request_id::current();
        match &self {
            Self::Internal(cause) => tracing::error!(%request_id, error = %cause, "internal error"),
            Self::AuditUnavailable => tracing::error!(%request_id, "audit write failed; request refused"),
            Self::Integrity => tracing::error!(%request_id, "stored data failed its integrity check; request refused"),
            _ => {}
        }
        let revoked = matches!(self, Self::ClientRevoked);
        let body =
            ErrorBody { error: ErrorDetail { code: self.code().to_string(), message: self.to_string(), request_id } };
        let mut response = (self.status(), axum::Json(body)).into_response();
        if revoked {
            response.extensions_mut().insert(RevokedDuringRequest);
        }
        response
    }
}

/// Marks a response whose client was found revoked by the request's audit transaction,
/// so the auth layer records the refusal and forgets the client.
#[derive(Clone, Copy, Debug)]
pub struct RevokedDuringRequest;

impl From<crate::audit::AuditUnavailable> for ApiError {
    fn from(err: crate::audit::AuditUnavailable) -> Self {
        match err {
            crate::audit::AuditUnavailable::ClientRevoked => Self::ClientRevoked,
            _ => Self::AuditUnavailable,
        }
    }
}

impl From<sqlx::Error> for ApiError {
    fn from(err: sqlx::Error) -> Self {
        match err {
            sqlx::Error::PoolTimedOut | sqlx::Error::PoolClosed => Self::Unavailable,
            other => Self::internal(other),
        }
    }
}

/// Rewrites a serde message so it keeps the location and what was expected but drops
/// any echoed input (serde quotes offending values, which may be personal data).
pub fn describe_serde_error(text: &str) -> String {
    let text = text.trim_start_matches("Failed to deserialize the JSON body into the target type: ");
    let (path, message) = match text.split_once(": ") {
        Some((path, rest)) if !path.contains(' ') => (Some(path), rest),
        _ => (None, text),
    };
    let cleaned = if message.starts_with("unknown field")
        || message.starts_with("missing field")
        || message.starts_with("unknown variant")
    {
        strip_after_expected_values(message)
    } else if let Some((_, expected)) = message.split_once(", expected ") {
        format!("invalid type or value, expected {}", strip_location(expected))
    } else {
        strip_location(message).chars().filter(|c| *c != '"').collect()
    };
    match path {
        Some(path) => format!("{path}: {cleaned}"),
        None => cleaned,
    }
}

/// `unknown variant `XX`, expected one of ...`: the variant echoes input, so keep only the list.
fn strip_after_expected_values(message: &str) -> String {
    if message.starts_with("unknown variant") {
        match message.split_once(", expected ") {
            Some((_, expected)) => format!("unknown value, expected {}", strip_location(expected)),
            None => "unknown value".to_string(),
        }
    } else {
        strip_location(message).to_string()
    }
}

fn strip_location(message: &str) -> &str {
    message.split(" at line ").next().unwrap_or(message)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn serde_errors_never_echo_values() {
        let cases = [
            "phones[0].number: invalid type: integer `3001234567`, expected a string at line 1 column 30",
            "national_id: invalid value: string \"1020304050\", expected something at line 1 column 3",
            "jurisdiction: unknown variant `1020304050`, expected one of `CO`, `MX` at line 1 column 9",
        ];
        for case in cases {
            let out = describe_serde_error(case);
            assert!(!out.contains("3001234567") && !out.contains("1020304050"), "{out}");
            assert!(out.contains("expected"), "{out}");
        }
        assert_eq!(
            describe_serde_error("unknown field `colour`, expected one of `a`"),
            "unknown field `colour`, expected one of `a`"
        );
    }
}
