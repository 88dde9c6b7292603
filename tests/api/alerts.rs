//! Low-balance alerts: one alert per crossing (e-mail through a real SMTP listener to
//! every recipient, and `balance.low` for merchants), re-armed when the balance is back
//! above the threshold, and the hourly sweep for a threshold raised above the balance.

use crate::helpers::{TestApp, PIN};
use crate::receiver::Receiver;
use crate::smtp::{self, Mail};
use serde_json::json;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

async fn app_with_smtp() -> (TestApp, Arc<Mutex<Vec<Mail>>>) {
    let port = Receiver::free_port();
    let mails = smtp::start(port).await;
    let app = TestApp::spawn_with(|c| {
        c.smtp = Some(pinpay::config::SmtpConfig {
            host: "127.0.0.1".into(),
            port,
            tls: pinpay::config::SmtpTls::None,
            username: None,
            password: None,
            from: "PinPay <alerts@pinpay.test>".into(),
        });
    })
    .await;
    let mut app = app;
    app.mailbox = mails.clone();
    (app, mails)
}

/// Waits for `n` alert e-mails (the onboarding's confirmation code aside), then a moment
/// more so an extra one would show.
async fn expect_mails(mails: &Arc<Mutex<Vec<Mail>>>, n: usize) -> Vec<Mail> {
    let alerts = || -> Vec<Mail> {
        let mails = mails.lock().unwrap();
        mails
            .iter()
            .filter(|m| !m.data.contains("confirmation code"))
            .cloned()
            .collect()
    };
    let deadline = Instant::now() + Duration::from_secs(15);
    while alerts().len() < n {
        assert!(Instant::now() < deadline, "expected {n} e-mails");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let got = alerts();
    assert_eq!(got.len(), n, "exactly {n} e-mails");
    got
}

async fn pay(app: &TestApp, shop: &str, payer: &str, amount: &str) {
    let mr = app
        .create_request(shop, json!({"payer": "anna", "amount": amount}))
        .await;
    let id = mr.ok(201)["id"].as_str().unwrap().to_string();
    app.approve(payer, &id, PIN).await.ok(200);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_alert_fires_once_per_crossing_and_again_after_a_top_up() {
    let (app, mails) = app_with_smtp().await;
    let shop = app.corporate_plus("shop").await;
    let anna = app.wallet_user("anna").await;
    app.deposit("anna", "100.00").await.ok(201);
    let set = app
        .put(
            "/v1/me/balance-alert",
            Some(&anna),
            json!({"threshold": "50.00", "recipients": ["anna@example.com", "Finance@Example.com"], "enabled": true}),
        )
        .await;
    let set = set.ok(200).clone();
    assert_eq!(
        (set["threshold"].as_str(), set["armed"].as_bool()),
        (Some("50.00"), Some(true))
    );

    pay(&app, &shop, &anna, "30.00").await; // 70.00: above
    expect_mails(&mails, 0).await;
    pay(&app, &shop, &anna, "30.00").await; // 40.00: crosses
    let got = expect_mails(&mails, 2).await;
    let mut to: Vec<&str> = got.iter().map(|m| m.to.as_str()).collect();
    to.sort();
    assert_eq!(to, ["Finance@example.com", "anna@example.com"]);
    assert!(
        got[0].data.contains("40.00") && got[0].data.contains("50.00"),
        "{}",
        got[0].data
    );
    let state = app.get("/v1/me/balance-alert", Some(&anna)).await;
    assert_eq!(state.ok(200)["armed"], false);
    assert!(state.ok(200)["last_alert_at"].is_string());

    pay(&app, &shop, &anna, "5.00").await; // 35.00: still below, no new alert
    expect_mails(&mails, 2).await;
    app.deposit("anna", "50.00").await.ok(201); // 85.00: re-armed
    let state = app.get("/v1/me/balance-alert", Some(&anna)).await;
    assert_eq!(state.ok(200)["armed"], true);
    pay(&app, &shop, &anna, "40.00").await; // 45.00: a new crossing
    expect_mails(&mails, 4).await;
    assert_eq!(app.ledger_report().await["ok"], true);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_hourly_sweep_alerts_a_threshold_raised_above_the_balance() {
    let (app, mails) = app_with_smtp().await;
    let anna = app.wallet_user("anna").await;
    app.deposit("anna", "100.00").await.ok(201);
    app.put(
        "/v1/me/balance-alert",
        Some(&anna),
        json!({"threshold": "150.00", "recipients": ["anna@example.com"], "enabled": true}),
    )
    .await
    .ok(200);
    expect_mails(&mails, 0).await;
    app.clock.advance(chrono::Duration::minutes(61));
    let got = expect_mails(&mails, 1).await;
    assert!(got[0].data.contains("150.00"), "{}", got[0].data);
    // Another hour: still below, but one alert per crossing.
    app.clock.advance(chrono::Duration::minutes(61));
    expect_mails(&mails, 1).await;
}

#[tokio::test]
async fn merchants_hear_balance_low_and_bad_settings_change_nothing() {
    let app = TestApp::spawn().await;
    let shop_api = app.corporate_plus("shop").await;
    let shop = app.access_token("shop").await;
    let anna = app.wallet_user("anna").await;
    app.deposit("anna", "100.00").await.ok(201);
    app.put(
        "/v1/callback-url",
        Some(&shop),
        json!({"url": "https://shop.example/hooks"}),
    )
    .await
    .ok(200);
    let good = json!({"threshold": "20.00", "recipients": ["ops@shop.example"], "enabled": true});
    app.put("/v1/me/balance-alert", Some(&shop_api), good)
        .await
        .ok(200);
    for bad in [
        json!({"threshold": "0.00", "recipients": ["ops@shop.example"], "enabled": true}),
        json!({"threshold": "abc", "recipients": ["ops@shop.example"], "enabled": true}),
        json!({"threshold": "5.00", "recipients": [], "enabled": true}),
        json!({"threshold": "5.00", "recipients": ["a@x.example", "b@x.example", "c@x.example", "d@x.example", "e@x.example", "f@x.example"], "enabled": true}),
        json!({"threshold": "5.00", "recipients": ["not-an-address"], "enabled": true}),
    ] {
        let res = app
            .put("/v1/me/balance-alert", Some(&shop), bad.clone())
            .await;
        assert_eq!(res.status, 422, "{bad}: {:?}", res.body);
    }
    let kept = app.get("/v1/me/balance-alert", Some(&shop)).await;
    assert_eq!(
        kept.ok(200)["threshold"],
        "20.00",
        "a refused change kept the old"
    );

    let mr = app
        .create_request(&shop_api, json!({"payer": "anna", "amount": "30.00"}))
        .await;
    let id = mr.ok(201)["id"].as_str().unwrap().to_string();
    app.approve(&anna, &id, PIN).await.ok(200); // shop 29.55
    app.post(
        &format!("/v1/money-requests/{id}/refunds"),
        Some(&shop_api),
        json!({"amount": "15.00"}),
    )
    .await
    .ok(201); // shop 14.55: below 20.00
    let log = app.get("/v1/callbacks", Some(&shop)).await;
    let types: Vec<String> = log.ok(200)["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["type"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(
        types.iter().filter(|t| *t == "balance.low").count(),
        1,
        "{types:?}"
    );
}
