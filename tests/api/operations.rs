//! Health, readiness, the served contract, and problem+json for unmatched routes.

use crate::helpers::{RawBody, TestApp};

#[tokio::test]
async fn health_and_ready_answer() {
    let app = TestApp::spawn().await;
    assert_eq!(app.get("/health", None).await.ok(200)["status"], "ok");
    assert_eq!(app.get("/ready", None).await.ok(200)["status"], "ready");
}

#[tokio::test]
async fn unknown_routes_and_methods_are_problems() {
    let app = TestApp::spawn().await;
    app.get("/v2/nothing", None)
        .await
        .problem(404, "route_not_found");
    app.delete("/v1/accounts", None)
        .await
        .problem(405, "method_not_allowed");
    app.get("/v1/sessions", None)
        .await
        .problem(405, "method_not_allowed");
}

/// Every response names the API version; a request for an unknown version is refused
/// before it does anything.
#[tokio::test]
async fn responses_carry_the_api_version_and_unknown_versions_are_refused() {
    let app = TestApp::spawn().await;
    for path in [
        "/health",
        "/v1/balance",
        "/no/such/route",
        "/pay/mr_x",
        "/problems",
    ] {
        let res = app
            .client
            .get(format!("{}{path}", app.address))
            .send()
            .await
            .unwrap();
        assert_eq!(res.headers()["pinpay-version"], "2026-12-02", "{path}");
    }
    let asked = |version: &'static str| {
        app.client
            .post(format!("{}/v1/accounts", app.address))
            .header("PinPay-Version", version)
            .json(&serde_json::json!({"kind": "private", "username": "vera",
                "password": crate::helpers::PASSWORD, "email": "vera@example.com"}))
            .send()
    };
    let refused = asked("2020-01-01").await.unwrap();
    assert_eq!(refused.status(), 400);
    let body: serde_json::Value = refused.json().await.unwrap();
    assert_eq!(body["code"], "unsupported_api_version");
    assert_eq!(body["supported"], serde_json::json!(["2026-12-02"]));
    assert_eq!(
        asked("2026-12-02").await.unwrap().status(),
        201,
        "the refused call created nothing"
    );
}

#[tokio::test]
async fn openapi_contract_is_served() {
    let app = TestApp::spawn().await;
    let res = app
        .client
        .get(format!("{}/openapi.yaml", app.address))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let text = res.text().await.unwrap();
    assert!(
        text.starts_with("openapi: 3.1"),
        "served file is the contract"
    );
    assert!(text.contains("/v1/auth/tokens:"));
}

#[tokio::test]
async fn non_json_content_type_is_415() {
    let app = TestApp::spawn().await;
    let res = app
        .request(
            "POST",
            "/v1/sessions",
            None,
            Some(RawBody::Text("text/plain", "{}".into())),
        )
        .await;
    res.problem(415, "unsupported_media_type");
}

/// `(METHOD, path)` pairs under `paths:` in openapi.yaml (read as text: two-space path
/// keys, four-space method keys).
fn documented_routes() -> std::collections::BTreeSet<(String, String)> {
    let spec = include_str!("../../openapi.yaml");
    let section = spec.split("\npaths:\n").nth(1).unwrap();
    let section = section
        .split("\nwebhooks:\n")
        .next()
        .unwrap()
        .split("\ncomponents:\n")
        .next()
        .unwrap();
    let mut routes = std::collections::BTreeSet::new();
    let mut path = String::new();
    for line in section.lines() {
        if let Some(p) = line.strip_prefix("  /").and_then(|l| l.strip_suffix(':')) {
            path = format!("/{p}");
        } else if let Some(m) = line.strip_prefix("    ").and_then(|l| l.strip_suffix(':')) {
            if ["get", "post", "put", "delete", "patch"].contains(&m) {
                routes.insert((m.to_uppercase(), path.clone()));
            }
        }
    }
    routes
}

#[test]
fn the_contract_lists_exactly_the_routes_the_server_registers() {
    let served: std::collections::BTreeSet<(String, String)> = pinpay::startup::ROUTES
        .iter()
        .map(|(m, p)| (m.to_uppercase(), p.to_string()))
        .collect();
    let documented = documented_routes();
    assert!(served.len() > 30);
    let undocumented: Vec<_> = served.difference(&documented).collect();
    let unserved: Vec<_> = documented.difference(&served).collect();
    assert!(
        undocumented.is_empty() && unserved.is_empty(),
        "served, not documented: {undocumented:?}; documented, not served: {unserved:?}"
    );
}

#[tokio::test]
async fn keys_with_nul_bytes_match_nothing_and_never_fail_the_server() {
    // PostgreSQL refuses NUL in text parameters; found by schemathesis as a 500.
    use crate::helpers::{ADMIN_TOKEN, PIN};
    use serde_json::json;
    let app = TestApp::spawn().await;
    let shop = app.corporate_plus("shop").await;
    let anna = app.wallet_user("anna").await;
    app.deposit("anna", "10.00").await.ok(201);
    app.get(
        "/v1/wallet/money-requests?starting_after=%2C%00",
        Some(&anna),
    )
    .await
    .problem(404, "not_found");
    app.get("/v1/money-requests?starting_after=mr_%00", Some(&shop))
        .await
        .problem(404, "not_found");
    app.get("/v1/callbacks?starting_after=evt_%00", Some(&shop))
        .await
        .problem(404, "not_found");
    app.get("/v1/money-requests/mr_%00", Some(&shop))
        .await
        .problem(404, "not_found");
    app.post("/v1/callbacks/evt_%00/redeliver", Some(&shop), json!({}))
        .await
        .problem(404, "not_found");
    app.put(
        "/v1/admin/accounts/an%00na/tier",
        Some(ADMIN_TOKEN),
        json!({"tier": "corporate"}),
    )
    .await
    .problem(404, "not_found");
    let listed = app
        .get(
            "/v1/money-requests?reference=o%00&payer=an%00na",
            Some(&shop),
        )
        .await;
    assert_eq!(listed.ok(200)["data"], json!([]));
    app.post(
        "/v1/sessions",
        None,
        json!({"username": "an\u{0}na", "password": "whatever!!"}),
    )
    .await
    .problem(401, "invalid_credentials");
    app.transfer(&anna, "sh\u{0}op", "1.00")
        .await
        .problem(422, "unknown_recipient");
    app.create_request(&shop, json!({"payer": "an\u{0}na", "amount": "1.00"}))
        .await
        .problem(422, "unknown_payer");
    app.post(
        "/v1/transfers",
        Some(&anna),
        json!({"to": "shop", "amount": "1.00", "pin": PIN, "description": "a\u{0}b"}),
    )
    .await
    .problem(422, "validation_failed");
}
