//! Authentication, rate limiting and purpose checks for every `/v1` request.
//!
//! Resolves `Authorization: Bearer <token>` to a client (401 otherwise), applies the
//! per-client rate limit (429), requires `X-Purpose` to name a purpose the client's role
//! may declare (400 / 403), and validates `X-On-Behalf-Of`. Every refusal is audited
//! before it is answered; if that audit cannot be written the answer is 503. What passes
//! becomes a [`Caller`] in the request's extensions.

use super::error::{ApiError, RevokedDuringRequest};
use super::{request_id, AppState};
use crate::access::{Purpose, Role};
use crate::audit::{Actor, AuditEvent, AuditUnavailable, Outcome};
use crate::clients;
use crate::ids::{ClientId, TenantId};
use axum::extract::{FromRequestParts, Request, State};
use axum::http::request::Parts;
use axum::http::HeaderMap;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use secrecy::SecretString;

pub const PURPOSE_HEADER: &str = "x-purpose";
pub const ON_BEHALF_OF_HEADER: &str = "x-on-behalf-of";

/// The authenticated caller of one request: tenant, client, role, declared purpose.
#[derive(Clone, Debug)]
pub struct Caller {
    pub tenant: TenantId,
    pub client: ClientId,
    pub role: Role,
    pub purpose: Purpose,
    pub on_behalf_of: Option<String>,
    pub request_id: String,
}

impl Caller {
    /// The audit actor for this caller.
    pub fn actor(&self) -> Actor {
        Actor {
            tenant: Some(self.tenant.clone()),
            client: Some(self.client.clone()),
            role: Some(self.role),
            on_behalf_of: self.on_behalf_of.clone(),
            purpose: Some(self.purpose),
        }
    }

    /// The context domain writes use to audit the events they commit.
    pub fn context(&self, state: &AppState) -> crate::audit::EventContext {
        crate::audit::EventContext {
            tenant: self.tenant.clone(),
            actor: self.actor(),
            request_id: self.request_id.clone(),
            now: state.now_db(),
        }
    }

    /// An audit event for this caller with the given action and outcome.
    pub fn event(
        &self,
        action: &'static str,
        resource_id: Option<String>,
        fields: Vec<String>,
        outcome: Outcome,
        status: u16,
    ) -> AuditEvent {
        AuditEvent {
            actor: self.actor(),
            action,
            resource_id,
            parties: Vec::new(),
            evidence: None,
            fields,
            outcome,
            status,
            error_code: None,
            request_id: self.request_id.clone(),
            seen_versions: Vec::new(),
        }
    }

    /// Refuses unless the caller's role is one of `roles`; a refusal is audited (as
    /// `action`, denied) before it is answered, like every other 403.
    pub async fn require_role(&self, state: &AppState, roles: &[Role], action: &'static str) -> Result<(), ApiError> {
        if roles.contains(&self.role) {
            return Ok(());
        }
        let message = format!("role `{}` may not use this endpoint", self.role);
        let error = ApiError::Forbidden { code: "role_not_allowed", message };
        let mut event = self.event(action, None, Vec::new(), Outcome::Denied, error.status().as_u16());
        event.error_code = Some(error.code());
        state.audit.append(&event, &state.now_db()).await?;
        Err(error)
    }

    /// Refuses unless the declared purpose is one of `purposes`: an endpoint serves only
    /// the purposes it exists for (a consent proof is for `dsr` or `compliance_review`,
    /// not `collection`). Audited like [`Caller::require_role`].
    pub async fn require_purpose(
        &self,
        state: &AppState,
        purposes: &[Purpose],
        action: &'static str,
    ) -> Result<(), ApiError> {
        if purposes.contains(&self.purpose) {
            return Ok(());
        }
        let allowed: Vec<&str> = purposes.iter().map(|p| p.as_str()).collect();
        let message = format!("purpose `{}` is not served here; declare one of: {}", self.purpose, allowed.join(", "));
        let error = ApiError::Forbidden { code: "purpose_not_allowed", message };
        let mut event = self.event(action, None, Vec::new(), Outcome::Denied, error.status().as_u16());
        event.error_code = Some(error.code());
        state.audit.append(&event, &state.now_db()).await?;
        Err(error)
    }

    /// [`Caller::require_role`] then [`Caller::require_purpose`]: an endpoint's access
    /// rule, written as the (roles, purposes) pair its module declares.
    pub async fn require_access(
        &self,
        state: &AppState,
        (roles, purposes): (&[Role], &[Purpose]),
        action: &'static str,
    ) -> Result<(), ApiError> {
        self.require_role(state, roles, action).await?;
        self.require_purpose(state, purposes, action).await
    }
}

impl<S: Send + Sync> FromRequestParts<S> for Caller {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        parts.extensions.get::<Caller>().cloned().ok_or(ApiError::Unauthenticated)
    }
}

/// Middleware for `/v1`: authenticate, limit, check purpose; audit every refusal.
pub async fn middleware(State(state): State<AppState>, mut request: Request, next: Next) -> Response {
    let action = action_name(&request);
    match authorize(&state, request.headers()).await {
        Ok(caller) => {
            let actor = caller.actor();
            request.extensions_mut().insert(caller);
            let response = next.run(request).await;
            if response.extensions().get::<RevokedDuringRequest>().is_none() {
                return response;
            }
            // The token was revoked while the request ran: nothing was released; record
            // the refusal, and stop trusting the cached client on this instance.
            if let Some(client) = &actor.client {
                clients::forget_client(&state.clients, client);
            }
            refuse(&state, actor, action, ApiError::Unauthenticated).await
        }
        Err((actor, error)) => refuse(&state, actor, action, error).await,
    }
}

async fn authorize(state: &AppState, headers: &HeaderMap) -> Result<Caller, (Actor, ApiError)> {
    let anonymous = Actor::default();
    let token = bearer_token(headers).ok_or((anonymous.clone(), ApiError::Unauthenticated))?;
    let client = clients::authenticate_cached(&state.clients, state.db.reader(), &token)
        .await
        .map_err(|e| (anonymous.clone(), ApiError::from(e)))?
        .ok_or((anonymous, ApiError::Unauthenticated))?;
    let mut actor = Actor {
        tenant: Some(client.tenant.clone()),
        client: Some(client.id.clone()),
        role: Some(client.role),
        ..Actor::default()
    };
    if state.limiter.check_key(&client.id).is_err() {
        return Err((actor, ApiError::RateLimited));
    }
    actor.on_behalf_of = on_behalf_of(headers).map_err(|e| (actor.clone(), e))?;
    let purpose = declared_purpose(headers).map_err(|e| (actor.clone(), e))?;
    actor.purpose = Some(purpose);
    if !state.access.may_declare(client.role, purpose) {
        let message = format!("role `{}` may not process data for purpose `{purpose}`", client.role);
        return Err((actor, ApiError::Forbidden { code: "purpose_not_allowed", message }));
    }
    Ok(Caller {
        tenant: client.tenant,
        client: client.id,
        role: client.role,
        purpose,
        on_behalf_of: actor.on_behalf_of,
        request_id: request_id::current(),
    })
}

async fn refuse(state: &AppState, actor: Actor, action: &'static str, error: ApiError) -> Response {
    let event = AuditEvent {
        actor,
        action,
        resource_id: None,
        parties: Vec::new(),
        evidence: None,
        fields: Vec::new(),
        outcome: if matches!(error, ApiError::Internal(_) | ApiError::Unavailable) {
            Outcome::Failed
        } else {
            Outcome::Denied
        },
        status: error.status().as_u16(),
        error_code: Some(error.code()),
        request_id: request_id::current(),
        seen_versions: Vec::new(),
    };
    match state.audit.append(&event, &state.now_db()).await {
        Ok(()) => error.into_response(),
        // The client was revoked meanwhile: the refusal it gets is that one.
        Err(AuditUnavailable::ClientRevoked) => {
            if let Some(client) = &event.actor.client {
                clients::forget_client(&state.clients, client);
            }
            let unauthenticated = AuditEvent {
                status: ApiError::Unauthenticated.status().as_u16(),
                error_code: Some(ApiError::Unauthenticated.code()),
                outcome: Outcome::Denied,
                ..event
            };
            match state.audit.append(&unauthenticated, &state.now_db()).await {
                Ok(()) => ApiError::Unauthenticated.into_response(),
                Err(_) => ApiError::AuditUnavailable.into_response(),
            }
        }
        Err(_) => ApiError::AuditUnavailable.into_response(),
    }
}

fn bearer_token(headers: &HeaderMap) -> Option<SecretString> {
    let value = headers.get(axum::http::header::AUTHORIZATION)?.to_str().ok()?;
    let token = value.strip_prefix("Bearer ")?.trim();
    (!token.is_empty()).then(|| SecretString::from(token.to_string()))
}

fn declared_purpose(headers: &HeaderMap) -> Result<Purpose, ApiError> {
    let value = headers.get(PURPOSE_HEADER).ok_or_else(|| {
        ApiError::bad_request("purpose_required", "declare the purpose of this request in the X-Purpose header")
    })?;
    value.to_str().ok().and_then(|v| v.parse::<Purpose>().ok()).ok_or_else(|| {
        ApiError::bad_request(
            "unknown_purpose",
            format!(
                "X-Purpose must be one of: {}",
                Purpose::ALL.iter().map(|p| p.as_str()).collect::<Vec<_>>().join(", ")
            ),
        )
    })
}

/// The agent id behind a service call: 1–64 characters of `[A-Za-z0-9._@-]`.
fn on_behalf_of(headers: &HeaderMap) -> Result<Option<String>, ApiError> {
    let Some(value) = headers.get(ON_BEHALF_OF_HEADER) else { return Ok(None) };
    let text = value.to_str().unwrap_or_default();
    let valid =
        (1..=64).contains(&text.len()) && text.bytes().all(|b| b.is_ascii_alphanumeric() || b"._@-".contains(&b));
    if valid {
        Ok(Some(text.to_string()))
    } else {
        Err(ApiError::bad_request(
            "invalid_on_behalf_of",
            "X-On-Behalf-Of must be 1-64 characters of letters, digits, '.', '_', '@' or '-'",
        ))
    }
}

/// A stable action name for refusals, from the method and the route shape.
fn action_name(request: &Request) -> &'static str {
    let path = request.uri().path();
    let method = request.method().as_str();
    match (method, path) {
        (_, p) if p.starts_with("/v1/parties:search") => "party.search",
        (_, p) if p.starts_with("/v1/parties:batch") => "party.import",
        ("GET", p) if p.starts_with("/v1/parties/") && p.ends_with("/consents/proof") => "consent.proof",
        ("GET", p) if p.starts_with("/v1/parties/") && p.ends_with("/consents") => "consent.read",
        (_, p) if p.starts_with("/v1/parties/") && p.ends_with("/consents") => "consent.write",
        ("GET", p) if p.starts_with("/v1/parties/") && p.ends_with("/flags") => "flag.read",
        (_, p) if p.starts_with("/v1/parties/") && p.ends_with("/flags") => "flag.write",
        (_, p) if p.starts_with("/v1/parties/") && p.ends_with("/served-notices") => "notice.served",
        ("GET", p) if p.starts_with("/v1/notices") => "notice.read",
        (_, p) if p.starts_with("/v1/notices") => "notice.write",
        ("GET", p) if p.starts_with("/v1/parties") => "party.read",
        (_, p) if p.starts_with("/v1/parties") => "party.write",
        ("GET", p) if p.starts_with("/v1/dsr") => "dsr.read",
        (_, p) if p.starts_with("/v1/dsr") => "dsr.write",
        ("GET", p) if p.starts_with("/v1/obligations") => "obligation.read",
        (_, p) if p.starts_with("/v1/obligations") => "obligation.write",
        _ => "api.request",
    }
}
