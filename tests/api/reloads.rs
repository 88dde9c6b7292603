//! Reloads through a payment provider: auto-reload orders one reload when a debit crosses
//! `replenish_amount`, the sandbox provider confirms it through the MAC-checked path, and
//! the top-up is booked once; bad confirmations book nothing; the top-up limits refuse a
//! reload and turn auto-reload off with the reason.

use crate::helpers::{TestApp, PIN};
use pinpay::config::Secret;
use serde_json::{json, Value};
use std::time::{Duration, Instant};

const SECRET: &str = "test-reload-secret-0123456789";

async fn app(delay_ms: u64) -> TestApp {
    TestApp::spawn_with(|c| {
        c.reload_sandbox_secret = Secret::new(SECRET);
        c.reload_sandbox_delay_ms = delay_ms;
    })
    .await
}

fn mac(code: &str, amount: &str, currency: &str, status: &str) -> String {
    pinpay::domain::reload::mac(SECRET, code, amount, currency, status)
}

async fn orders(app: &TestApp, token: &str) -> Vec<Value> {
    let list = app.get("/v1/reloads", Some(token)).await;
    list.ok(200)["data"].as_array().unwrap().clone()
}

async fn pay(app: &TestApp, shop: &str, payer: &str, amount: &str) {
    let mr = app
        .create_request(shop, json!({"payer": "anna", "amount": amount}))
        .await;
    let id = mr.ok(201)["id"].as_str().unwrap().to_string();
    app.approve(payer, &id, PIN).await.ok(200);
}

async fn auto_reload(app: &TestApp, token: &str, replenish: &str, recurring: &str) {
    app.put(
        "/v1/me/auto-reload",
        Some(token),
        json!({"enabled": true, "replenish_amount": replenish, "recurring_amount": recurring, "provider": "sandbox"}),
    )
    .await
    .ok(200);
}

#[tokio::test]
async fn a_debit_below_the_threshold_orders_one_reload_which_the_sandbox_confirms_once() {
    let app = app(1500).await;
    let shop = app.corporate_plus("shop").await;
    let anna = app.wallet_user("anna").await;
    app.deposit("anna", "100.00").await.ok(201);
    auto_reload(&app, &anna, "50.00", "25.00").await;
    pay(&app, &shop, &anna, "60.00").await; // 40.00: below
    pay(&app, &shop, &anna, "5.00").await; // 35.00: one order is pending already
    let pending = orders(&app, &anna).await;
    assert_eq!(pending.len(), 1, "{pending:?}");
    assert_eq!(
        (pending[0]["status"].as_str(), pending[0]["origin"].as_str()),
        (Some("pending"), Some("auto"))
    );

    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        let list = orders(&app, &anna).await;
        if list[0]["status"] == "confirmed" {
            assert!(list[0]["transaction_id"].is_string());
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the sandbox never confirmed: {list:?}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(app.balance(&anna).await, "60.00");
    // Above the threshold again: nothing more is ordered.
    tokio::time::sleep(Duration::from_millis(2000)).await;
    assert_eq!(orders(&app, &anna).await.len(), 1);
    assert_eq!(app.balance(&anna).await, "60.00");
    assert_eq!(app.ledger_report().await["ok"], true);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn ten_concurrent_debits_below_the_threshold_order_one_reload() {
    let app = app(600_000).await;
    let shop = app.corporate_plus("shop").await;
    let anna = app.wallet_user("anna").await;
    app.deposit("anna", "100.00").await.ok(201);
    auto_reload(&app, &anna, "99.00", "50.00").await;
    let mut ids = Vec::new();
    for _ in 0..10 {
        let mr = app
            .create_request(&shop, json!({"payer": "anna", "amount": "2.00"}))
            .await;
        ids.push(mr.ok(201)["id"].as_str().unwrap().to_string());
    }
    let approvals = ids.iter().map(|id| app.approve(&anna, id, PIN));
    for res in futures::future::join_all(approvals).await {
        res.ok(200);
    }
    assert_eq!(app.balance(&anna).await, "80.00");
    let list = orders(&app, &anna).await;
    assert_eq!(list.len(), 1, "one order for ten debits: {list:?}");
    app.post("/v1/reloads", Some(&anna), json!({"amount": "10.00"}))
        .await
        .problem(409, "reload_pending");
}

#[tokio::test]
async fn forged_replayed_changed_and_unknown_confirmations_book_nothing() {
    let app = app(600_000).await;
    let anna = app.wallet_user("anna").await;
    let order = app
        .post("/v1/reloads", Some(&anna), json!({"amount": "20.00"}))
        .await;
    let code = order.ok(201)["id"].as_str().unwrap().to_string();
    let confirm = |body: Value| {
        let app = &app;
        async move {
            app.post("/v1/reload/confirmations/sandbox", None, body)
                .await
        }
    };
    let forged = pinpay::domain::reload::mac("guessed", &code, "20.00", "EUR", "AUTHORISED");
    confirm(json!({"order_code": code, "amount": "20.00", "currency": "EUR", "status": "AUTHORISED", "mac": forged}))
        .await
        .problem(401, "unauthenticated");
    confirm(json!({"order_code": "rl_unknown", "amount": "20.00", "currency": "EUR", "status": "AUTHORISED", "mac": mac("rl_unknown", "20.00", "EUR", "AUTHORISED")}))
        .await
        .problem(404, "not_found");
    app.post("/v1/reload/confirmations/elsewhere", None, json!({"order_code": code, "amount": "20.00", "currency": "EUR", "status": "AUTHORISED", "mac": mac(&code, "20.00", "EUR", "AUTHORISED")}))
        .await
        .problem(404, "not_found");
    assert_eq!(app.balance(&anna).await, "0.00");

    // A genuine MAC over another amount: the order is refused and says why.
    confirm(json!({"order_code": code, "amount": "21.00", "currency": "EUR", "status": "AUTHORISED", "mac": mac(&code, "21.00", "EUR", "AUTHORISED")}))
        .await
        .problem(422, "reload_mismatch");
    let list = orders(&app, &anna).await;
    assert_eq!(list[0]["status"], "refused");
    assert!(list[0]["reason"].as_str().unwrap().contains("amount"));
    assert_eq!(app.balance(&anna).await, "0.00");

    // A new order, confirmed; the same confirmation again books nothing.
    let order = app
        .post("/v1/reloads", Some(&anna), json!({"amount": "20.00"}))
        .await;
    let code = order.ok(201)["id"].as_str().unwrap().to_string();
    let good = json!({"order_code": code, "amount": "20.00", "currency": "EUR", "status": "AUTHORISED", "mac": mac(&code, "20.00", "EUR", "AUTHORISED")});
    let confirmed = confirm(good.clone()).await;
    assert_eq!(confirmed.ok(200)["status"], "confirmed");
    confirm(good).await.problem(409, "reload_already_resolved");
    assert_eq!(app.balance(&anna).await, "20.00");
    assert_eq!(app.ledger_report().await["ok"], true);
}

#[tokio::test]
async fn a_reload_past_the_daily_top_up_count_is_refused_and_turns_auto_reload_off() {
    let app = app(200).await;
    let corp = app.merchant_app("corp", "corporate").await;
    app.wallet_user("anna").await;
    for amount in ["40.00", "5.00", "5.00"] {
        app.deposit("corp", amount).await.ok(201); // 3 top-ups: Corporate's daily count
    }
    auto_reload(&app, &corp, "45.00", "30.00").await;
    app.transfer(&corp, "anna", "10.00").await.ok(201); // 39.75 (fee 0.25): below 45.00
    let deadline = Instant::now() + Duration::from_secs(15);
    let order = loop {
        let list = orders(&app, &corp).await;
        if list.first().is_some_and(|o| o["status"] != "pending") {
            break list[0].clone();
        }
        assert!(Instant::now() < deadline, "no outcome: {list:?}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    assert_eq!(order["status"], "refused");
    assert!(
        order["reason"]
            .as_str()
            .unwrap()
            .contains("deposits_per_day"),
        "{order}"
    );
    let settings = app.get("/v1/me/auto-reload", Some(&corp)).await;
    let settings = settings.ok(200).clone();
    assert_eq!(settings["enabled"], false);
    assert!(settings["disabled_reason"]
        .as_str()
        .unwrap()
        .contains("deposits_per_day"));
    assert_eq!(app.balance(&corp).await, "39.75");
    assert_eq!(app.ledger_report().await["ok"], true);
}

#[tokio::test]
async fn three_failed_reloads_in_a_row_turn_auto_reload_off() {
    let app = app(600_000).await;
    let shop = app.corporate_plus("shop").await;
    let anna = app.wallet_user("anna").await;
    app.deposit("anna", "100.00").await.ok(201);
    auto_reload(&app, &anna, "99.50", "10.00").await;
    for failure in 1..=3 {
        pay(&app, &shop, &anna, "1.00").await; // below 99.50: an order
        let list = orders(&app, &anna).await;
        assert_eq!(list.len(), failure, "{list:?}");
        let code = list[0]["id"].as_str().unwrap().to_string();
        let refused = app
            .post(
                "/v1/reload/confirmations/sandbox",
                None,
                json!({"order_code": code, "amount": "10.00", "currency": "EUR", "status": "REFUSED", "mac": mac(&code, "10.00", "EUR", "REFUSED")}),
            )
            .await;
        assert_eq!(refused.ok(200)["status"], "failed");
        let settings = app.get("/v1/me/auto-reload", Some(&anna)).await;
        let settings = settings.ok(200).clone();
        assert_eq!(settings["enabled"], failure < 3, "{settings}");
        assert_eq!(settings["consecutive_failures"], failure);
    }
    let settings = app.get("/v1/me/auto-reload", Some(&anna)).await;
    let reason = settings.ok(200)["disabled_reason"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(reason.contains("3 reloads failed in a row"), "{reason}");
    // Off: the next debit below the threshold orders nothing.
    pay(&app, &shop, &anna, "1.00").await;
    assert_eq!(orders(&app, &anna).await.len(), 3);
    assert_eq!(app.balance(&anna).await, "96.00");
}

/// The sandbox provider's published default secret signs nothing from outside a sandbox
/// server (anyone can compute it); on a sandbox server it does.
#[tokio::test]
async fn the_published_sandbox_secret_confirms_only_on_a_sandbox_server() {
    for (environment, expected) in [
        (pinpay::config::Environment::Development, 401),
        (pinpay::config::Environment::Sandbox, 200),
    ] {
        let app = TestApp::spawn_with(|c| {
            c.environment = environment;
            c.reload_sandbox_delay_ms = 600_000;
        })
        .await;
        let anna = app.wallet_user("anna").await;
        let order = app
            .post("/v1/reloads", Some(&anna), json!({"amount": "20.00"}))
            .await;
        let code = order.ok(201)["id"].as_str().unwrap().to_string();
        let published = pinpay::domain::reload::mac(
            "pinpay-sandbox-reload-secret",
            &code,
            "20.00",
            "EUR",
            "AUTHORISED",
        );
        let res = app
            .post(
                "/v1/reload/confirmations/sandbox",
                None,
                json!({"order_code": code, "amount": "20.00", "currency": "EUR", "status": "AUTHORISED", "mac": published}),
            )
            .await;
        assert_eq!(res.status, expected, "{environment:?}: {}", res.body);
        let booked = if expected == 200 { "20.00" } else { "0.00" };
        assert_eq!(app.balance(&anna).await, booked);
    }
}
