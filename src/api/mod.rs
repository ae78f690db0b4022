//! HTTP wiring: shared state, the router, and the layers every request passes through
//! (request id → metrics → tracing → body limit → [auth → handler]). Domain modules own
//! their handlers and routes; this module only merges them and adds operations
//! endpoints (`/healthz`, `/readyz`, `/metrics`, `/openapi.json`).

pub mod audited;
pub mod auth;
pub mod error;
pub mod openapi;
pub mod request_id;
pub mod write;

use crate::access::AccessPolicy;
use crate::audit::service::AuditService;
use crate::clients::ClientCache;
use crate::clock::{to_db_time, Clock};
use crate::config::CacheConfig;
use crate::db::Db;
use crate::ids::ClientId;
use crate::keys::worker::JobsWake;
use crate::keys::KeyService;
use crate::vault::PartyCache;
use axum::extract::{MatchedPath, Request, State};
use axum::http::{HeaderValue, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};
use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};
use std::num::NonZeroU32;
use std::sync::{Arc, OnceLock};
use std::time::Instant;

/// Everything a handler may need. Cheap to clone.
#[derive(Clone)]
pub struct AppState {
    pub db: Db,
    pub keys: KeyService,
    pub access: Arc<AccessPolicy>,
    pub clock: Clock,
    pub limiter: Arc<DefaultKeyedRateLimiter<ClientId>>,
    pub audit: AuditService,
    /// API clients by token hash (re-checked by every request's audit transaction).
    pub clients: Arc<ClientCache>,
    /// Encrypted party rows (re-checked by every request's audit transaction).
    pub parties: Arc<PartyCache>,
    /// Wakes this process's key-job worker (an erasure queued a rotation).
    pub jobs: JobsWake,
    /// Signs consent proof packages (its own key, `[consent] proof_key_file`).
    pub proof: Arc<crate::consent::proof::key::ProofSigner>,
}

impl AppState {
    pub fn new(
        db: Db,
        keys: KeyService,
        access: AccessPolicy,
        clock: Clock,
        audit: AuditService,
        proof: crate::consent::proof::key::ProofSigner,
        (per_second, burst): (u32, u32),
    ) -> Self {
        let quota = Quota::per_second(NonZeroU32::new(per_second).unwrap_or(NonZeroU32::MIN))
            .allow_burst(NonZeroU32::new(burst).unwrap_or(NonZeroU32::MIN));
        let mut state = Self {
            db,
            keys,
            access: Arc::new(access),
            clock,
            limiter: Arc::new(RateLimiter::keyed(quota)),
            audit,
            clients: Arc::default(),
            parties: Arc::default(),
            jobs: JobsWake::default(),
            proof: Arc::new(proof),
        };
        state.set_caches(&CacheConfig::default());
        state
    }

    /// Sizes the in-memory caches as `[cache]` says.
    pub fn set_caches(&mut self, config: &CacheConfig) {
        let ttl = std::time::Duration::from_secs(config.ttl_seconds);
        self.clients = Arc::new(ClientCache::new(config.clients, ttl));
        self.parties = Arc::new(PartyCache::new(config.parties, ttl));
    }

    /// Now, on the gateway's clock, in the database's text form.
    pub fn now_db(&self) -> String {
        to_db_time(self.clock.now())
    }
}

/// The whole application router.
pub fn router(state: AppState, max_body_bytes: usize) -> Router {
    let v1 = Router::new()
        .merge(crate::vault::http::router())
        .merge(crate::vault::retention::http::router())
        .merge(crate::vault::erasure::http::router())
        .merge(crate::obligations::http::router())
        .merge(crate::audit::http::router())
        .merge(crate::notices::http::router())
        .merge(crate::consent::http::router())
        .merge(crate::flags::http::router())
        .merge(crate::dsr::http::router())
        .route_layer(middleware::from_fn_with_state(state.clone(), auth::middleware));
    Router::new()
        .merge(v1)
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz))
        .route("/metrics", get(metrics_text))
        .route("/openapi.json", get(openapi::serve))
        .route_layer(middleware::from_fn(track_metrics))
        .fallback(not_found)
        .layer(axum::extract::DefaultBodyLimit::max(max_body_bytes))
        .layer(middleware::from_fn_with_state(state.clone(), clock_header))
        .layer(middleware::from_fn(request_id::middleware))
        .with_state(state)
}

async fn not_found() -> error::ApiError {
    error::ApiError::NotFound { what: "route" }
}

/// Liveness: the process is up.
#[utoipa::path(get, path = "/healthz", tag = "operations", security(()), responses((status = 200, description = "the process is up", body = String)))]
pub async fn healthz() -> &'static str {
    "ok"
}

/// Readiness: the database answers, the keys are loaded and the audit writer runs.
#[utoipa::path(get, path = "/readyz", tag = "operations", security(()), responses((status = 200, description = "ready", body = String), (status = 503, description = "database unreachable, keys not loaded or the audit writer not running", body = String)))]
pub async fn readyz(State(state): State<AppState>) -> Response {
    let keys_loaded = state.keys.keyring_snapshot().versions().next().is_some();
    match state.db.ping().await {
        Ok(()) if keys_loaded && state.audit.is_running() => (StatusCode::OK, "ready").into_response(),
        _ => (StatusCode::SERVICE_UNAVAILABLE, "not ready").into_response(),
    }
}

/// Every response says so when the clock is simulated, so nobody mistakes demo time for real time.
async fn clock_header(State(state): State<AppState>, request: Request, next: Next) -> Response {
    let mut response = next.run(request).await;
    if state.clock.is_simulated() {
        let value = format!("simulated; now={}", state.clock.now().to_rfc3339());
        if let Ok(value) = HeaderValue::from_str(&value) {
            response.headers_mut().insert("x-custodia-clock", value);
        }
    }
    response
}

fn prometheus() -> &'static PrometheusHandle {
    static HANDLE: OnceLock<PrometheusHandle> = OnceLock::new();
    HANDLE.get_or_init(|| {
        let buckets = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5];
        let recorder = PrometheusBuilder::new()
            .set_buckets_for_metric(Matcher::Suffix("_seconds".into()), &buckets)
            .map(|b| b.build_recorder())
            .unwrap_or_else(|_| PrometheusBuilder::new().build_recorder());
        let handle = recorder.handle();
        let _ = metrics::set_global_recorder(recorder);
        handle
    })
}

/// Installs the metrics recorder (idempotent); called at start-up.
pub fn init_metrics() {
    prometheus();
}

/// Prometheus metrics, labelled by route template.
#[utoipa::path(get, path = "/metrics", tag = "operations", security(()), responses((status = 200, description = "Prometheus text format", body = String, content_type = "text/plain")))]
pub async fn metrics_text() -> impl IntoResponse {
    let handle = prometheus();
    handle.run_upkeep();
    ([(axum::http::header::CONTENT_TYPE, "text/plain; version=0.0.4")], handle.render())
}

/// Counts and times requests by matched route template, never by raw path (raw paths
/// would carry ids and blow up label cardinality).
async fn track_metrics(request: Request, next: Next) -> Response {
    let route =
        request.extensions().get::<MatchedPath>().map(|p| p.as_str().to_string()).unwrap_or_else(|| "unmatched".into());
    let method = request.method().to_string();
    let started = Instant::now();
    let response = next.run(request).await;
    let status = response.status().as_u16().to_string();
    let labels = [("method", method), ("route", route), ("status", status)];
    metrics::counter!("custodia_http_requests_total", &labels).increment(1);
    metrics::histogram!("custodia_http_request_duration_seconds", &labels[..2]).record(started.elapsed().as_secs_f64());
    response
}
