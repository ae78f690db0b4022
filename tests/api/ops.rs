//! Operations endpoints and cross-cutting behaviour: health, readiness, metrics labels,
//! the OpenAPI document, request ids, rate limiting and the simulated-clock header.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use crate::helpers::*;
use custodia::access::Role;
use serde_json::Value;

#[tokio::test]
async fn health_and_readiness_answer_without_credentials() {
    let app = spawn_app().await;
    for path in ["/healthz", "/readyz"] {
        let response = app.http.get(format!("{}{path}", app.base)).send().await.unwrap();
        assert_eq!(response.status(), 200, "{path}");
    }
    app.stop().await;
}

#[tokio::test]
async fn metrics_label_requests_by_route_template_never_by_raw_path() {
    let app = spawn_app().await;
    let id = app.create_party(&party(1)).await;
    assert_eq!(app.read_party(Role::Agent, "collection", &id).await.0, 200);
    let text = app.http.get(format!("{}/metrics", app.base)).send().await.unwrap().text().await.unwrap();
    assert!(text.contains("route=\"/v1/parties/{id}\""), "{text}");
    assert!(!text.contains(&id), "metrics must not carry ids");
    assert!(text.contains("custodia_http_request_duration_seconds"));
    assert!(text.contains("custodia_audit_write_seconds"));
    app.stop().await;
}

#[tokio::test]
async fn the_openapi_document_covers_every_endpoint_and_the_error_shape() {
    let app = spawn_app().await;
    let doc: Value = app.http.get(format!("{}/openapi.json", app.base)).send().await.unwrap().json().await.unwrap();
    assert!(doc["openapi"].as_str().unwrap().starts_with("3.1"));
    let paths = doc["paths"].as_object().unwrap();
    for (path, method) in [
        ("/v1/parties", "post"),
        ("/v1/parties/{id}", "get"),
        ("/v1/parties/{id}", "patch"),
        ("/v1/parties:search", "post"),
        ("/v1/parties:batch", "post"),
        ("/v1/parties/{id}/obligations", "get"),
        ("/v1/parties/{id}/retention-holds", "get"),
        ("/v1/parties/{id}/retention-holds", "post"),
        ("/v1/parties/{id}/retention-holds/{hold_id}/release", "post"),
        ("/v1/parties/{id}/erasure", "post"),
        ("/v1/obligations", "post"),
        ("/v1/obligations/{id}", "get"),
        ("/v1/obligations/{id}", "patch"),
        ("/v1/obligations/{id}/payments", "get"),
        ("/v1/obligations/{id}/payments", "post"),
        ("/v1/obligations/{id}/promises", "get"),
        ("/v1/obligations/{id}/promises", "post"),
        ("/healthz", "get"),
        ("/readyz", "get"),
        ("/metrics", "get"),
        ("/v1/audit", "get"),
        ("/v1/audit/checkpoints/latest", "get"),
        ("/v1/audit/checkpoints/{size}/cosignatures", "post"),
        ("/v1/audit/public-key", "get"),
        ("/v1/audit/records/{index}/proof", "get"),
        ("/v1/audit/consistency", "get"),
        ("/v1/audit/exports", "post"),
        ("/v1/notices", "post"),
        ("/v1/notices", "get"),
        ("/v1/notices/{id}", "get"),
        ("/v1/notices/{id}", "patch"),
        ("/v1/notices/{id}/publish", "post"),
        ("/v1/parties/{id}/served-notices", "post"),
        ("/v1/parties/{id}/consents", "post"),
        ("/v1/parties/{id}/consents", "get"),
        ("/v1/parties/{id}/consents/proof", "get"),
        ("/v1/parties/{id}/flags", "post"),
        ("/v1/parties/{id}/flags", "get"),
    ] {
        assert!(paths.get(path).and_then(|p| p.get(method)).is_some(), "{method} {path} missing from /openapi.json");
    }
    assert!(doc["components"]["schemas"]["ErrorBody"].is_object());
    app.stop().await;
}

#[tokio::test]
async fn a_well_formed_request_id_is_echoed_and_named_in_errors() {
    let app = spawn_app().await;
    let response = app
        .http
        .get(format!("{}/v1/parties/x", app.base))
        .header("X-Request-Id", "trace-12345678")
        .send()
        .await
        .unwrap();
    assert_eq!(response.headers()["x-request-id"], "trace-12345678");
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["error"]["code"], "unauthenticated");
    assert_eq!(body["error"]["request_id"], "trace-12345678");
    app.stop().await;
}

#[tokio::test]
async fn a_client_over_its_rate_limit_gets_429_and_the_refusal_is_audited() {
    let app = spawn_app_with(AppOptions { rate_per_second: 1, burst: 2, ..AppOptions::default() }).await;
    let mut statuses = Vec::new();
    for _ in 0..4 {
        statuses.push(
            app.get(Role::Agent, "collection", "/v1/parties/00000000-0000-7000-8000-000000000000")
                .await
                .status()
                .as_u16(),
        );
    }
    assert!(statuses.contains(&429), "{statuses:?}");
    let limited: i64 =
        sqlx::query_scalar("SELECT COUNT(*) FROM audit_records WHERE error_code = 'rate_limited' AND status = 429")
            .fetch_one(app.db.reader())
            .await
            .unwrap();
    assert_eq!(limited, statuses.iter().filter(|s| **s == 429).count() as i64);
    app.stop().await;
}

#[tokio::test]
async fn a_simulated_clock_is_announced_on_every_response_and_dates_the_audit() {
    let app = spawn_app_with(AppOptions { clock: Some("2027-03-21T10:00:00-05:00"), ..AppOptions::default() }).await;
    let response = app.http.get(format!("{}/healthz", app.base)).send().await.unwrap();
    let header = response.headers()["x-custodia-clock"].to_str().unwrap().to_string();
    assert!(header.starts_with("simulated; now=2027-03-21T15:00"), "{header}");
    let id = app.create_party(&party(1)).await;
    let recorded: String = sqlx::query_scalar("SELECT recorded_at FROM audit_records WHERE resource_id = $1")
        .bind(&id)
        .fetch_one(app.db.reader())
        .await
        .unwrap();
    assert!(recorded.starts_with("2027-03-21T15:0"), "{recorded}");
    app.stop().await;
}

#[tokio::test]
async fn without_a_simulated_clock_no_clock_header_is_sent() {
    let app = spawn_app().await;
    let response = app.http.get(format!("{}/healthz", app.base)).send().await.unwrap();
    assert!(response.headers().get("x-custodia-clock").is_none());
    app.stop().await;
}
