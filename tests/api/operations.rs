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
