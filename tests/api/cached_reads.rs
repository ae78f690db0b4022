//! Gateways keep API clients and encrypted party rows in memory (`src/cache.rs`), and
//! each request re-checks what it took from there inside its audit transaction
//! (`src/audit/freshness.rs`). The claim under test: no gateway ever answers from a stale
//! copy, whichever process made the change — another gateway on the same database, or
//! the CLI — and the refusal that replaces a stale answer is audited.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use crate::helpers::{party, TENANT};
use crate::processes::{cli_ok, Deployment, Gateway};
use reqwest::Client;
use serde_json::{json, Value};
use std::collections::HashMap;

struct Two {
    deployment: Deployment,
    config: std::path::PathBuf,
    tokens: HashMap<String, String>,
    a: Gateway,
    b: Gateway,
    http: Client,
}

/// Two gateways on one database, tenant `acme` with ingest, agent and compliance tokens.
async fn two_gateways() -> Two {
    let deployment = Deployment::new().await;
    let config = deployment.config("custodia", "");
    let tokens = deployment.tenant(&config, TENANT, &["ingest", "agent", "compliance"]).await;
    let a = Gateway::start(&config, deployment.dir.path().join("a.log")).await;
    let b = Gateway::start(&config, deployment.dir.path().join("b.log")).await;
    Two { deployment, config, tokens, a, b, http: Client::new() }
}

impl Two {
    async fn send(
        &self,
        base: &str,
        (role, purpose): (&str, &str),
        method: reqwest::Method,
        path: &str,
        body: Option<&Value>,
        request_id: &str,
    ) -> (u16, Value) {
        let mut request = self
            .http
            .request(method, format!("{base}{path}"))
            .bearer_auth(&self.tokens[role])
            .header("X-Purpose", purpose)
            .header("X-Request-Id", request_id);
        if let Some(body) = body {
            request = request.json(body);
        }
        let response = request.send().await.unwrap();
        let status = response.status().as_u16();
        (status, response.json().await.unwrap_or(Value::Null))
    }

    async fn read(&self, base: &str, id: &str, request_id: &str) -> (u16, Value) {
        self.send(base, ("agent", "collection"), reqwest::Method::GET, &format!("/v1/parties/{id}"), None, request_id)
            .await
    }

    async fn create(&self, n: u32) -> String {
        let (status, body) = self
            .send(
                &self.a.base,
                ("ingest", "ingest"),
                reqwest::Method::POST,
                "/v1/parties",
                Some(&party(n)),
                &format!("create-{n}"),
            )
            .await;
        assert_eq!(status, 201, "{body}");
        body["id"].as_str().unwrap().to_string()
    }

    /// (outcome, status) of the audit record of each request id given.
    async fn recorded(&self, request_id: &str) -> Vec<(String, i64)> {
        let db = self.deployment.db().await;
        let rows: Vec<(String, i64)> =
            sqlx::query_as("SELECT outcome, status FROM audit_records WHERE request_id = $1 ORDER BY seq")
                .bind(request_id)
                .fetch_all(db.reader())
                .await
                .unwrap();
        db.close().await;
        rows
    }
}

#[tokio::test]
async fn a_token_revoked_through_the_cli_is_refused_by_every_running_gateway_at_its_next_request() {
    let two = two_gateways().await;
    let id = two.create(1).await;
    // Both gateways now hold the agent's client (and the party) in memory.
    for (name, gateway) in [("a", &two.a), ("b", &two.b)] {
        assert_eq!(two.read(&gateway.base, &id, &format!("warm-{name}")).await.0, 200);
    }
    let listed = cli_ok(&two.config, &["clients", "list", "--tenant", TENANT]).await;
    let client = |role: &str| {
        listed.lines().find(|l| l.split('\t').nth(2) == Some(role)).unwrap().split('\t').next().unwrap().to_string()
    };
    cli_ok(&two.config, &["clients", "revoke", &client("agent")]).await;
    cli_ok(&two.config, &["clients", "revoke", &client("ingest")]).await;

    for (name, gateway) in [("a", &two.a), ("b", &two.b)] {
        let request_id = format!("after-revoke-{name}");
        let (status, body) = two.read(&gateway.base, &id, &request_id).await;
        assert_eq!(status, 401, "gateway {name} answered from its copy: {body}");
        assert_eq!(body["error"]["code"], "unauthenticated");
        // Nothing was recorded as allowed for that request; its refusal was.
        assert_eq!(two.recorded(&request_id).await, vec![("denied".to_string(), 401)], "gateway {name}");
    }
    // A write with a revoked token (gateway a authenticated `ingest` from memory when it
    // created the party) is refused inside its own transaction: nothing is written.
    let request_id = "create-after-revoke";
    let (status, body) = two
        .send(&two.a.base, ("ingest", "ingest"), reqwest::Method::POST, "/v1/parties", Some(&party(9)), request_id)
        .await;
    assert_eq!(status, 401, "{body}");
    assert_eq!(two.recorded(request_id).await, vec![("denied".to_string(), 401)]);
    let db = two.deployment.db().await;
    let parties: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM parties").fetch_one(db.reader()).await.unwrap();
    assert_eq!(parties, 1, "the refused create wrote nothing");
}

#[tokio::test]
async fn a_party_changed_or_erased_through_one_gateway_is_never_served_stale_by_another() {
    let two = two_gateways().await;
    let id = two.create(2).await;
    for round in 0..10 {
        // b holds the party in memory...
        let (status, before) = two.read(&two.b.base, &id, &format!("b-before-{round}")).await;
        assert_eq!(status, 200);
        // ...a rectifies it...
        let given = ["Ana", "Bea", "Cira", "Dora", "Eva", "Fina", "Gala", "Hilda", "Inés", "Julia"][round];
        let name = format!("{given} Quíxotez Wyvernsson");
        let patch = json!({"full_name": name});
        let path = format!("/v1/parties/{id}");
        let (status, body) = two
            .send(
                &two.a.base,
                ("agent", "collection"),
                reqwest::Method::PATCH,
                &path,
                Some(&patch),
                &format!("patch-{round}"),
            )
            .await;
        assert_eq!(status, 200, "{body}");
        // ...and b's very next read shows the new value, never its copy.
        let (status, after) = two.read(&two.b.base, &id, &format!("b-after-{round}")).await;
        assert_eq!(status, 200);
        assert_ne!(after["full_name"], before["full_name"], "round {round}");
        assert_eq!(after["full_name"], name.as_str(), "round {round}");
    }
    let (status, body) = two
        .send(
            &two.a.base,
            ("compliance", "dsr"),
            reqwest::Method::POST,
            &format!("/v1/parties/{id}/erasure"),
            None,
            "erase",
        )
        .await;
    assert_eq!(status, 200, "{body}");
    let (status, body) = two.read(&two.b.base, &id, "b-after-erasure").await;
    assert_eq!(status, 410, "{body}");
    assert_eq!(body["error"]["code"], "party_erased");
    assert!(
        two.recorded("b-after-erasure").await.iter().all(|(outcome, _)| outcome != "allowed"),
        "a read of an erased party is never recorded as allowed"
    );
}
