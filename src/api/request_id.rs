//! Request ids: taken from a well-formed incoming `X-Request-Id` or generated, echoed in
//! the response header, put on the request's tracing span, and made available to error
//! bodies and audit records through a task-local for the request's lifetime.

use axum::extract::Request;
use axum::http::HeaderValue;
use axum::middleware::Next;
use axum::response::Response;

pub const HEADER: &str = "x-request-id";

tokio::task_local! {
    static REQUEST_ID: String;
}

/// The id of the request being handled, or "-" outside a request.
pub fn current() -> String {
    REQUEST_ID.try_with(Clone::clone).unwrap_or_else(|_| "-".to_string())
}

fn acceptable(id: &str) -> bool {
    (8..=64).contains(&id.len()) && id.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

pub async fn middleware(request: Request, next: Next) -> Response {
    let id = request
        .headers()
        .get(HEADER)
        .and_then(|v| v.to_str().ok())
        .filter(|v| acceptable(v))
        .map(str::to_string)
        .unwrap_or_else(|| uuid::Uuid::now_v7().simple().to_string());
    let span =
        tracing::info_span!("request", request_id = %id, method = %request.method(), route = tracing::field::Empty);
    if let Some(path) = request.extensions().get::<axum::extract::MatchedPath>() {
        span.record("route", path.as_str());
    }
    let mut response = REQUEST_ID.scope(id.clone(), tracing::Instrument::instrument(next.run(request), span)).await;
    if let Ok(value) = HeaderValue::from_str(&id) {
        response.headers_mut().insert(HEADER, value);
    }
    response
}
