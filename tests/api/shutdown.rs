//! Graceful shutdown of the real binary: after SIGTERM the callback worker starts no new
//! claim; the round it is in finishes, and the process exits.

use crate::helpers::{TestDb, ADMIN_TOKEN, IBAN, PASSWORD};
use crate::process::{wait_healthy, ServerProcess};
use crate::receiver::{Mode, Receiver};
use serde_json::{json, Value};
use std::time::Duration;

async fn call(
    client: &reqwest::Client,
    method: reqwest::Method,
    url: String,
    token: Option<&str>,
    body: Value,
) -> Value {
    let mut req = client.request(method, url).json(&body);
    if let Some(t) = token {
        req = req.bearer_auth(t);
    }
    let res = req.send().await.unwrap();
    assert!(res.status().is_success(), "{}", res.status());
    res.json().await.unwrap_or(Value::Null)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn after_sigterm_the_callback_worker_claims_nothing_new() {
    let receiver = Receiver::start().await;
    receiver.set(Mode::Hang); // each delivery runs into the 1.5 s timeout
    let db = TestDb::create();
    let mut server = ServerProcess::start(
        &db.url(),
        &[
            ("PINPAY_DELIVERY_INTERVAL_MS", "50"),
            ("PINPAY_CALLBACK_TIMEOUT_MS", "1500"),
        ],
    );
    let client = reqwest::Client::new();
    let a = server.address();
    wait_healthy(&client, &a).await;
    use reqwest::Method;
    call(&client, Method::POST, format!("{a}/v1/accounts"), None, json!({"kind": "corporate", "username": "shop",
        "password": PASSWORD, "email": "shop@shop.example", "company_name": "Shop GmbH", "iban": IBAN, "bic": "DEUTDEFF"})).await;
    call(
        &client,
        Method::PUT,
        format!("{a}/v1/admin/accounts/shop/tier"),
        Some(ADMIN_TOKEN),
        json!({"tier": "corporate_plus"}),
    )
    .await;
    let shop = call(
        &client,
        Method::POST,
        format!("{a}/v1/auth/tokens"),
        None,
        json!({"username": "shop", "password": PASSWORD}),
    )
    .await["token"]
        .as_str()
        .unwrap()
        .to_string();
    call(
        &client,
        Method::PUT,
        format!("{a}/v1/callback-url"),
        Some(&shop),
        json!({"url": receiver.url()}),
    )
    .await;
    // 30 cancelled links: 30 events, more than one round (20) claims.
    for _ in 0..30 {
        let r = call(
            &client,
            Method::POST,
            format!("{a}/v1/money-requests"),
            Some(&shop),
            json!({"amount": "1.00"}),
        )
        .await;
        let id = r["id"].as_str().unwrap();
        call(
            &client,
            Method::POST,
            format!("{a}/v1/money-requests/{id}/cancel"),
            Some(&shop),
            json!({}),
        )
        .await;
    }

    // A round is in flight (its deliveries hang); then SIGTERM.
    receiver.wait_for(1).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    let in_flight = receiver.hits().len();
    assert!(in_flight < 30, "one round, not every event, is in flight");
    let took = server
        .terminate(Duration::from_secs(30))
        .expect("the server exits after SIGTERM");
    assert_eq!(
        receiver.hits().len(),
        in_flight,
        "no delivery started after SIGTERM (exit took {took:?})"
    );
}
