//! Callback delivery: in written order per merchant (also through failed first
//! attempts), one merchant's dead receiver does not hold up another's, events written
//! while their merchant's chain is in flight follow it without polling, an undelivered
//! event survives SIGKILL and arrives once, and the timeout setting is read.

use crate::helpers::{TestApp, TestDb, PIN};
use crate::process::{wait_healthy, Api, ServerProcess};
use crate::receiver::{Mode, Receiver};
use chrono::Duration;
use serde_json::{json, Value};
use std::time::Instant;

fn request_ids(hits: &[crate::receiver::Hit]) -> Vec<String> {
    hits.iter()
        .map(|h| h.json()["data"]["id"].as_str().unwrap().to_string())
        .collect()
}

#[tokio::test]
async fn one_merchants_events_arrive_in_written_order_also_when_every_first_attempt_fails() {
    let app = TestApp::spawn().await;
    let receiver = Receiver::start().await;
    receiver.set(Mode::FailFirst);
    let shop = app.corporate_plus("shop").await;
    app.set_callback_url(&shop, &receiver.url()).await;
    let written = app.cancelled_links(&shop, 20).await;

    // Every first attempt fails (500), in written order.
    let first = receiver.wait_for(20).await;
    assert_eq!(
        request_ids(&first[..20]),
        written,
        "first attempts in written order"
    );
    // The retries fall due (5 s later by the clock) and succeed, in written order too.
    app.clock.advance(Duration::seconds(6));
    let all = receiver.wait_for(40).await;
    assert_eq!(
        request_ids(&all[20..40]),
        written,
        "deliveries in written order"
    );
    assert!(all[20..40]
        .iter()
        .all(|h| all[..20].iter().any(|f| f.id == h.id)));
}

#[tokio::test]
async fn events_written_behind_a_chain_in_flight_follow_it_without_polling() {
    // Polling is off: only commits (and a chain's end) wake the worker.
    let app = TestApp::spawn_with(|c| c.delivery_interval_ms = 3_600_000).await;
    let receiver = Receiver::start().await;
    receiver.set(Mode::Slow);
    let shop = app.corporate_plus("shop").await;
    app.set_callback_url(&shop, &receiver.url()).await;
    // The first event's chain takes 300 ms; the others commit while it is in flight and
    // wait for it (one merchant's events go out in order), then go out as one chain.
    let written = app.cancelled_links(&shop, 6).await;
    let hits = receiver.wait_for(6).await;
    assert_eq!(request_ids(&hits), written, "every event, in written order");
    // The last attempt is recorded right after its answer.
    let mut delivered = 0;
    for _ in 0..100 {
        let log = app.get("/v1/callbacks", Some(&shop)).await;
        delivered = log.ok(200)["data"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|e| e["status"] == "delivered")
            .count();
        if delivered == 6 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    assert_eq!(delivered, 6, "each event recorded as delivered");
    assert_eq!(receiver.hits().len(), 6, "each sent once");
}

#[tokio::test]
async fn a_dead_receiver_of_one_merchant_does_not_hold_up_another_merchant() {
    let app = TestApp::spawn().await;
    let (dead, alive) = (Receiver::start().await, Receiver::start().await);
    dead.set(Mode::Hang); // answers after 5 s; the test server gives up after 0.7 s
    let slow = app.corporate_plus("slow").await;
    let fast = app.corporate_plus("fast").await;
    app.set_callback_url(&slow, &dead.url()).await;
    app.set_callback_url(&fast, &alive.url()).await;
    app.cancelled_links(&slow, 20).await;
    for n in 1..=5 {
        let id = app
            .create_request(&fast, json!({"amount": "1.00"}))
            .await
            .ok(201)["id"]
            .as_str()
            .unwrap()
            .to_string();
        let cancelled = Instant::now();
        app.post(
            &format!("/v1/money-requests/{id}/cancel"),
            Some(&fast),
            json!({}),
        )
        .await
        .ok(200);
        let hits = alive.wait_for(n).await;
        let late = hits[n - 1].arrived.saturating_duration_since(cancelled);
        assert!(
            late < std::time::Duration::from_secs(1),
            "merchant fast's callback {n} took {late:?} behind merchant slow's dead receiver"
        );
    }
}

/// The shop's event log, as the merchant reads it.
async fn log(api: &Api, shop: &str) -> Value {
    api.get("/v1/callbacks", shop).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn an_approval_killed_before_its_callback_is_delivered_once_after_restart() {
    let db = TestDb::create();
    let port = Receiver::free_port();
    let mut server = ServerProcess::start(
        &db.url(),
        &[
            ("PINPAY_DELIVERY_INTERVAL_MS", "100"),
            ("PINPAY_CALLBACK_TIMEOUT_MS", "500"),
        ],
    );
    let api = Api::new(server.address());
    wait_healthy(&api.client, &api.base).await;
    let shop = api.corporate_plus("shop").await;
    let url = format!("http://127.0.0.1:{port}/callbacks");
    api.put("/v1/callback-url", &shop, json!({ "url": url }))
        .await;
    let anna = api.wallet("anna", "50.00").await;
    let request = json!({"payer": "anna", "amount": "10.00"});
    let id = api.post("/v1/money-requests", Some(&shop), request).await["id"]
        .as_str()
        .unwrap()
        .to_string();

    // The receiver is down: the approval commits, its callback does not get through.
    let approve = format!("/v1/wallet/money-requests/{id}/approve");
    api.post(&approve, Some(&anna), json!({ "pin": PIN })).await;
    let mut tried = false;
    for _ in 0..100 {
        let events = log(&api, &shop).await;
        if events["data"][0]["attempts"][0]["error_class"] == "connection" {
            tried = true;
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    assert!(tried, "the first attempt failed to connect");
    server.kill();

    let receiver = Receiver::start_on(port).await;
    server.spawn();
    wait_healthy(&api.client, &api.base).await;
    // The retry is due 5 s after the failed attempt.
    let hits = receiver
        .wait_for_within(1, std::time::Duration::from_secs(20))
        .await;
    tokio::time::sleep(std::time::Duration::from_millis(1500)).await;
    assert_eq!(receiver.hits().len(), 1, "delivered once");
    assert_eq!(hits[0].json()["type"], "money_request.approved");
    assert_eq!(hits[0].json()["data"]["id"], id.as_str());
    let events = log(&api, &shop).await;
    assert_eq!(events["data"][0]["status"], "delivered");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_callback_timeout_setting_is_read_and_the_log_shows_each_attempt() {
    let db = TestDb::create();
    let receiver = Receiver::start().await;
    receiver.set(Mode::Hang); // answers after 5 s
    let mut server = ServerProcess::start(&db.url(), &[("PINPAY_CALLBACK_TIMEOUT_MS", "300")]);
    let api = Api::new(server.address());
    wait_healthy(&api.client, &api.base).await;
    let shop = api.corporate_plus("shop").await;
    api.put("/v1/callback-url", &shop, json!({"url": receiver.url()}))
        .await;
    let id = api
        .post("/v1/money-requests", Some(&shop), json!({"amount": "1.00"}))
        .await["id"]
        .as_str()
        .unwrap()
        .to_string();
    let cancel = format!("/v1/money-requests/{id}/cancel");
    api.post(&cancel, Some(&shop), json!({})).await;

    let mut attempt = Value::Null;
    for _ in 0..100 {
        attempt = log(&api, &shop).await["data"][0]["attempts"][0].clone();
        if attempt.is_object() {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    assert_eq!(attempt["error_class"], "timeout", "{attempt}");
    let took = attempt["duration_ms"].as_i64().unwrap();
    assert!(
        (300..2000).contains(&took),
        "the attempt gave up after {took} ms, not 15 s or 5 s"
    );
    assert!(attempt["started_at"].is_string() && attempt["http_status"].is_null());
    server.kill();
}
