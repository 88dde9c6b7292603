//! Registration, `GET /v1/me`, and bad input that must change nothing.

use crate::helpers::{RawBody, TestApp, IBAN, PASSWORD};
use serde_json::{json, Value};

#[tokio::test]
async fn register_log_in_and_read_me() {
    let app = TestApp::spawn().await;
    let created = app.register_private("Alice.W").await;
    let body = created.ok(201);
    assert_eq!(
        body["username"], "alice.w",
        "usernames are stored lower-case"
    );
    assert_eq!(body["kind"], "private");
    assert_eq!(body["pin_set"], false);
    assert!(body.get("password_hash").is_none() && !body.to_string().contains("argon2"));

    let token = app.access_token("ALICE.W").await;
    let me = app.get("/v1/me", Some(&token)).await;
    assert_eq!(me.ok(200)["username"], "alice.w");
    assert_eq!(me.body["email"], "Alice.W@example.com");
}

#[tokio::test]
async fn merchant_registration_keeps_company_and_bank_account() {
    let app = TestApp::spawn().await;
    let body = app.register_merchant("shop").await;
    let body = body.ok(201);
    assert_eq!(body["kind"], "corporate");
    assert_eq!(body["company_name"], "Shop GmbH");
    assert_eq!(body["iban"], IBAN);
    assert_eq!(body["bic"], "DEUTDEFF");
}

#[tokio::test]
async fn wrong_password_does_not_say_which_part_was_wrong() {
    let app = TestApp::spawn().await;
    app.register_private("alice").await.ok(201);
    let wrong_pw = app
        .post(
            "/v1/sessions",
            None,
            json!({"username": "alice", "password": "wrong password!"}),
        )
        .await;
    let unknown = app
        .post(
            "/v1/sessions",
            None,
            json!({"username": "nobody", "password": PASSWORD}),
        )
        .await;
    assert_eq!(
        wrong_pw.problem(401, "invalid_credentials")["detail"],
        unknown.problem(401, "invalid_credentials")["detail"]
    );
}

fn merchant(overrides: Value) -> Value {
    let mut body = json!({"kind": "corporate", "username": "newshop", "password": PASSWORD,
        "email": "owner@shop.example", "company_name": "New Shop", "iban": IBAN, "bic": "DEUTDEFF"});
    for (k, v) in overrides.as_object().unwrap() {
        if v.is_null() {
            body.as_object_mut().unwrap().remove(k);
        } else {
            body[k] = v.clone();
        }
    }
    body
}

#[tokio::test]
async fn bad_registrations_are_problems_and_write_nothing() {
    let app = TestApp::spawn().await;
    let cases: Vec<(Value, u16, &str)> = vec![
        (merchant(json!({"kind": 5})), 422, "invalid_body"),
        (merchant(json!({"username": ["x"]})), 422, "invalid_body"),
        (merchant(json!({"is_admin": true})), 422, "invalid_body"),
        (merchant(json!({"password": null})), 422, "invalid_body"),
        (
            merchant(json!({"kind": "corporate_plus"})),
            422,
            "invalid_body",
        ),
        (
            merchant(json!({"username": "n".repeat(33)})),
            422,
            "validation_failed",
        ),
        (
            merchant(json!({"username": "no spaces"})),
            422,
            "validation_failed",
        ),
        (
            merchant(json!({"company_name": "C".repeat(141)})),
            422,
            "validation_failed",
        ),
        (
            merchant(json!({"email": format!("{}@example.com", "e".repeat(250))})),
            422,
            "validation_failed",
        ),
        (
            merchant(json!({"email": "not-an-email"})),
            422,
            "validation_failed",
        ),
        (
            merchant(json!({"password": "short"})),
            422,
            "validation_failed",
        ),
        (
            merchant(json!({"iban": "DE89370400440532013001"})),
            422,
            "invalid_iban",
        ),
        (merchant(json!({"iban": null})), 422, "validation_failed"),
        (merchant(json!({"bic": "DEUT1EFF"})), 422, "invalid_bic"),
        (
            merchant(json!({"phone": "0151 1234"})),
            422,
            "validation_failed",
        ),
    ];
    for (body, status, code) in cases {
        let res = app.post("/v1/accounts", None, body.clone()).await;
        assert_eq!(res.status, status, "{body} -> {}", res.body);
        res.problem(status, code);
    }
    let malformed = app
        .request(
            "POST",
            "/v1/accounts",
            None,
            Some(RawBody::Text(
                "application/json",
                "{\"kind\": \"corp".into(),
            )),
        )
        .await;
    malformed.problem(400, "malformed_json");

    // None of the refused bodies created the account: the valid one still can.
    app.post("/v1/accounts", None, merchant(json!({})))
        .await
        .ok(201);
}

#[tokio::test]
async fn duplicate_username_differing_only_in_case_is_refused() {
    let app = TestApp::spawn().await;
    app.register_private("carol").await.ok(201);
    let dup = app
        .post("/v1/accounts", None, json!({"kind": "private", "username": "CaRoL", "password": "another password", "email": "other@example.com"}))
        .await;
    assert_eq!(dup.problem(409, "username_taken")["field"], "username");
    // The first registration is untouched: its password and email still hold.
    let token = app.access_token("carol").await;
    assert_eq!(
        app.get("/v1/me", Some(&token)).await.ok(200)["email"],
        "carol@example.com"
    );
}

#[tokio::test]
async fn operator_changes_tiers_and_nothing_else_may() {
    let app = TestApp::spawn().await;
    app.register_merchant("shop").await.ok(201);
    app.register_private("dave").await.ok(201);
    let no_auth = app
        .put(
            "/v1/admin/accounts/shop/tier",
            None,
            json!({"tier": "corporate_plus"}),
        )
        .await;
    no_auth.problem(401, "unauthenticated");
    let wrong = app
        .put(
            "/v1/admin/accounts/shop/tier",
            Some("not-the-token"),
            json!({"tier": "corporate_plus"}),
        )
        .await;
    wrong.problem(401, "unauthenticated");
    let user_token = app.access_token("dave").await;
    app.put(
        "/v1/admin/accounts/shop/tier",
        Some(&user_token),
        json!({"tier": "corporate_plus"}),
    )
    .await
    .problem(401, "unauthenticated");
    app.set_tier("dave", "corporate_plus")
        .await
        .problem(409, "not_a_merchant");
    app.set_tier("ghost", "corporate_plus")
        .await
        .problem(404, "not_found");
    app.set_tier("shop", "gold")
        .await
        .problem(422, "invalid_body");
    // Up only through an accepted application; down and back up (a correction) after.
    app.set_tier("shop", "corporate_plus")
        .await
        .problem(409, "upgrade_requires_accepted_application");
    app.onboard("shop").await;
    assert_eq!(
        app.set_tier("shop", "corporate").await.ok(200)["kind"],
        "corporate"
    );
    assert_eq!(
        app.set_tier("shop", "corporate_plus").await.ok(200)["kind"],
        "corporate_plus"
    );
}
