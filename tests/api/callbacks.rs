//! Hash-signed callbacks through a real receiver: signatures, each event once, retries on
//! the schedule (moved by the test clock), restarts, rotation, SSRF, two instances.

use crate::helpers::{TestApp, PIN};
use crate::receiver::{Mode, Receiver};
use chrono::Duration;
use diesel::RunQueryDsl;
use serde_json::{json, Value};
use std::collections::HashMap;
use std::sync::Arc;

async fn id_of(res: crate::helpers::Res) -> String {
    res.ok(201)["id"].as_str().unwrap().to_string()
}

/// The merchant's delivery log, polled until `done(log)` holds (10 s at most).
async fn log_until(app: &TestApp, token: &str, done: impl Fn(&Value) -> bool) -> Value {
    for _ in 0..200 {
        let log = app.get("/v1/callbacks", Some(token)).await.ok(200).clone();
        if done(&log) {
            return log;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    panic!("the callback log never reached the expected state");
}

fn attempts(log: &Value) -> usize {
    log["data"][0]["attempts"].as_array().map_or(0, Vec::len)
}

#[tokio::test]
async fn a_healthy_receiver_gets_each_event_type_once_signed() {
    let app = TestApp::spawn().await;
    let receiver = Receiver::start().await;
    let (shop, secret) = app.corporate_plus_with_secret("shop").await;
    let anna = app.wallet_user("anna").await;
    app.deposit("anna", "100.00").await.ok(201);
    app.deposit("shop", "10.00").await.ok(201);
    let set = app
        .put(
            "/v1/callback-url",
            Some(&shop),
            json!({"url": receiver.url()}),
        )
        .await;
    assert_eq!(set.ok(200)["url"], receiver.url());
    assert!(
        set.body.get("webhook_secret").is_none(),
        "the secret was shown with the first API token"
    );

    let paid = id_of(
        app.create_request(&shop, json!({"payer": "anna", "amount": "20.00"}))
            .await,
    )
    .await;
    app.approve(&anna, &paid, PIN).await.ok(200);
    app.post(
        &format!("/v1/money-requests/{paid}/refunds"),
        Some(&shop),
        json!({"amount": "5.00"}),
    )
    .await
    .ok(201);
    let declined = id_of(
        app.create_request(&shop, json!({"payer": "anna", "amount": "2.00"}))
            .await,
    )
    .await;
    app.post(
        &format!("/v1/wallet/money-requests/{declined}/decline"),
        Some(&anna),
        json!({}),
    )
    .await
    .ok(200);
    let cancelled = id_of(
        app.create_request(&shop, json!({"payer": "anna", "amount": "2.00"}))
            .await,
    )
    .await;
    app.post(
        &format!("/v1/money-requests/{cancelled}/cancel"),
        Some(&shop),
        json!({}),
    )
    .await
    .ok(200);
    let expired = id_of(
        app.create_request(
            &shop,
            json!({"payer": "anna", "amount": "2.00", "expires_in": 60}),
        )
        .await,
    )
    .await;
    app.clock.advance(Duration::seconds(61));

    let hits = receiver.wait_for(5).await;
    tokio::time::sleep(std::time::Duration::from_millis(400)).await; // eight more worker rounds
    let hits_after = receiver.hits();
    assert_eq!(hits_after.len(), 5, "each event exactly once");
    let mut seen: HashMap<String, String> = HashMap::new();
    for hit in &hits {
        assert!(hit.verifies_with(&secret), "signature of {}", hit.id);
        let body = hit.json();
        assert_eq!(body["id"], hit.id.as_str(), "webhook-id is the event id");
        seen.insert(
            body["type"].as_str().unwrap().to_string(),
            body["data"]["id"].as_str().unwrap().to_string(),
        );
    }
    assert_eq!(seen["money_request.approved"], paid);
    assert_eq!(seen["money_request.declined"], declined);
    assert_eq!(seen["money_request.cancelled"], cancelled);
    assert_eq!(seen["money_request.expired"], expired);
    assert!(seen["refund.succeeded"].starts_with("re_"));

    let log = app.get("/v1/callbacks", Some(&shop)).await;
    for event in log.ok(200)["data"].as_array().unwrap() {
        assert_eq!(
            (
                event["status"].as_str(),
                event["attempts"][0]["http_status"].as_i64()
            ),
            (Some("delivered"), Some(200))
        );
    }
}

#[tokio::test]
async fn a_failed_approval_sends_no_callback() {
    let app = TestApp::spawn().await;
    let receiver = Receiver::start().await;
    let shop = app.corporate_plus("shop").await;
    let anna = app.wallet_user("anna").await;
    app.put(
        "/v1/callback-url",
        Some(&shop),
        json!({"url": receiver.url()}),
    )
    .await
    .ok(200);
    let id = id_of(
        app.create_request(&shop, json!({"payer": "anna", "amount": "20.00"}))
            .await,
    )
    .await;
    app.approve(&anna, &id, PIN)
        .await
        .problem(422, "insufficient_funds");
    tokio::time::sleep(std::time::Duration::from_millis(400)).await;
    assert!(receiver.hits().is_empty());
    assert_eq!(
        app.get("/v1/callbacks", Some(&shop)).await.ok(200)["data"],
        json!([])
    );
}

#[tokio::test]
async fn retries_follow_the_schedule_through_failures_and_a_restart() {
    let app = TestApp::spawn().await;
    let port = Receiver::free_port();
    let (shop, secret) = app.corporate_plus_with_secret("shop").await;
    app.wallet_user("anna").await;
    let url = format!("http://127.0.0.1:{port}/callbacks");
    let id = id_of(
        app.create_request(
            &shop,
            json!({"payer": "anna", "amount": "3.00", "callback_url": url}),
        )
        .await,
    )
    .await;
    app.post(
        &format!("/v1/money-requests/{id}/cancel"),
        Some(&shop),
        json!({}),
    )
    .await
    .ok(200);

    // 1: nothing listens: connection refused.
    let log = log_until(&app, &shop, |l| attempts(l) == 1).await;
    let event = &log["data"][0];
    assert!(
        event["attempts"][0]["error"]
            .as_str()
            .unwrap()
            .starts_with("connection failed"),
        "{event}"
    );
    assert_eq!(event["status"], "pending");

    // 2: 500, after the 5 s wait (and not before it).
    let receiver = Receiver::start_on(port).await;
    receiver.set(Mode::Fail500);
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    assert!(receiver.hits().is_empty(), "no retry before its time");
    app.clock.advance(Duration::seconds(5));
    let log = log_until(&app, &shop, |l| attempts(l) == 2).await;
    assert_eq!(log["data"][0]["attempts"][1]["http_status"], 500);

    // 3: a redirect is a failure and is not followed.
    receiver.set(Mode::Redirect302);
    app.clock.advance(Duration::minutes(5));
    let log = log_until(&app, &shop, |l| attempts(l) == 3).await;
    assert_eq!(log["data"][0]["attempts"][2]["http_status"], 302);

    // 4: the receiver hangs past the timeout.
    receiver.set(Mode::Hang);
    app.clock.advance(Duration::minutes(30));
    let log = log_until(&app, &shop, |l| attempts(l) == 4).await;
    assert!(log["data"][0]["attempts"][3]["error"]
        .as_str()
        .unwrap()
        .starts_with("timeout"));

    // A restart between attempts loses nothing.
    let app = app.restart().await;
    receiver.set(Mode::Healthy);
    app.clock.advance(Duration::hours(2));
    let log = log_until(&app, &shop, |l| l["data"][0]["status"] == "delivered").await;
    assert_eq!(attempts(&log), 5);

    let hits = receiver.hits();
    assert!(
        hits.iter().all(|h| h.path == "/callbacks"),
        "the redirect target was never called"
    );
    assert!(
        hits.iter().all(|h| h.id == hits[0].id),
        "the same webhook-id on every attempt"
    );
    assert!(hits.last().unwrap().verifies_with(&secret));
    let stamps: Vec<&String> = hits.iter().map(|h| &h.timestamp).collect();
    assert!(
        stamps.windows(2).all(|w| w[0] != w[1]),
        "a new timestamp per attempt"
    );
}

/// PostgreSQL: another instance's `NOTIFY` on the outbox channel wakes this instance's
/// worker (an instance skips only its own, whose worker it woke in process).
#[tokio::test]
async fn another_instances_notify_wakes_the_worker_without_polling() {
    if std::env::var("PINPAY_TEST_DATABASE_URL").map_or(true, |v| v.is_empty()) {
        return; // SQLite: instances share no NOTIFY; polling finds other processes' events.
    }
    let app = TestApp::spawn_with(|c| c.delivery_interval_ms = 3_600_000).await;
    let port = Receiver::free_port();
    let shop = app.corporate_plus("shop").await;
    app.set_callback_url(&shop, &format!("http://127.0.0.1:{port}/callbacks"))
        .await;
    let id = app.cancelled_links(&shop, 1).await.remove(0);
    // The first attempt finds nothing listening; the retry falls due 5 s later.
    log_until(&app, &shop, |l| attempts(l) == 1).await;
    let receiver = Receiver::start_on(port).await;
    app.clock.advance(Duration::seconds(6));
    tokio::time::sleep(std::time::Duration::from_millis(500)).await;
    assert!(
        receiver.hits().is_empty(),
        "with polling off, nothing wakes the worker yet"
    );
    // What another instance's commit of an event sends.
    let mut conn = pinpay::db::Db::connect(&app.database_url(), 1)
        .unwrap()
        .get()
        .unwrap();
    diesel::sql_query("SELECT pg_notify('pinpay_outbox', 'another-instance')")
        .execute(&mut **conn)
        .unwrap();
    let hits = receiver.wait_for(1).await;
    assert_eq!(hits[0].json()["data"]["id"], id.as_str());
    let log = log_until(&app, &shop, |l| l["data"][0]["status"] == "delivered").await;
    assert_eq!(attempts(&log), 2);
}

#[tokio::test]
async fn retry_after_is_honoured_and_eight_failures_end_in_failed() {
    let app = TestApp::spawn().await;
    let receiver = Receiver::start().await;
    let shop = app.corporate_plus("shop").await;
    app.wallet_user("anna").await;
    app.put(
        "/v1/callback-url",
        Some(&shop),
        json!({"url": receiver.url()}),
    )
    .await
    .ok(200);
    receiver.set(Mode::Busy503);
    let id = id_of(
        app.create_request(&shop, json!({"payer": "anna", "amount": "3.00"}))
            .await,
    )
    .await;
    app.post(
        &format!("/v1/money-requests/{id}/cancel"),
        Some(&shop),
        json!({}),
    )
    .await
    .ok(200);
    let log = log_until(&app, &shop, |l| attempts(l) == 1).await;
    let created: chrono::DateTime<chrono::Utc> = log["data"][0]["attempts"][0]["started_at"]
        .as_str()
        .unwrap()
        .parse()
        .unwrap();
    let next: chrono::DateTime<chrono::Utc> = log["data"][0]["next_attempt_at"]
        .as_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!(
        next - created >= Duration::seconds(3599),
        "Retry-After: 3600 outranks the 5 s step"
    );

    receiver.set(Mode::Fail500);
    for (n, wait) in [
        (2, 3600),
        (3, 300),
        (4, 1800),
        (5, 7200),
        (6, 18_000),
        (7, 36_000),
        (8, 36_000),
    ] {
        app.clock.advance(Duration::seconds(wait));
        log_until(&app, &shop, |l| attempts(l) == n).await;
    }
    let log = log_until(&app, &shop, |l| l["data"][0]["status"] == "failed").await;
    assert_eq!(attempts(&log), 8);

    let event_id = log["data"][0]["id"].as_str().unwrap().to_string();
    receiver.set(Mode::Healthy);
    let again = app
        .post(
            &format!("/v1/callbacks/{event_id}/redeliver"),
            Some(&shop),
            json!({}),
        )
        .await;
    assert_eq!(again.ok(202)["status"], "pending");
    log_until(&app, &shop, |l| l["data"][0]["status"] == "delivered").await;
    app.post(
        &format!("/v1/callbacks/{event_id}/redeliver"),
        Some(&app.corporate_plus("rival").await),
        json!({}),
    )
    .await
    .problem(404, "not_found");
}

#[tokio::test]
async fn both_secrets_sign_for_a_day_after_rotation() {
    let app = TestApp::spawn().await;
    let receiver = Receiver::start().await;
    let (shop, old) = app.corporate_plus_with_secret("shop").await;
    app.wallet_user("anna").await;
    app.put(
        "/v1/callback-url",
        Some(&shop),
        json!({"url": receiver.url()}),
    )
    .await
    .ok(200);
    let rotated = app
        .post("/v1/callback-secret/rotate", Some(&shop), json!({}))
        .await;
    let new = rotated.ok(201)["webhook_secret"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(new.starts_with("whsec_") && new != old);

    let first = id_of(
        app.create_request(&shop, json!({"payer": "anna", "amount": "1.00"}))
            .await,
    )
    .await;
    app.post(
        &format!("/v1/money-requests/{first}/cancel"),
        Some(&shop),
        json!({}),
    )
    .await
    .ok(200);
    let hit = receiver.wait_for(1).await.remove(0);
    assert_eq!(hit.signature.split(' ').count(), 2);
    assert!(hit.verifies_with(&old) && hit.verifies_with(&new));

    app.clock.advance(Duration::hours(25));
    let second = id_of(
        app.create_request(&shop, json!({"payer": "anna", "amount": "1.00"}))
            .await,
    )
    .await;
    app.post(
        &format!("/v1/money-requests/{second}/cancel"),
        Some(&shop),
        json!({}),
    )
    .await
    .ok(200);
    let hit = receiver.wait_for(2).await.remove(1);
    assert!(hit.verifies_with(&new) && !hit.verifies_with(&old));
}

#[tokio::test]
async fn internal_targets_are_refused_when_set_and_at_delivery() {
    let app = TestApp::spawn_with(|c| c.callback_allow_private = false).await;
    let receiver = Receiver::start().await;
    let shop = app.corporate_plus("shop").await;
    app.wallet_user("anna").await;
    for bad in [
        "http://shop.example.com/cb",
        "https://127.0.0.1/cb",
        "https://127.1/cb",
        "https://2130706433/cb",
        "https://0x7f000001/cb",
        "https://0177.0.0.1/cb",
        "https://10.1.2.3/cb",
        "https://192.168.0.10/cb",
        "https://169.254.169.254/cb",
        "https://100.64.1.1/cb",
        "https://198.51.100.1/cb",
        "https://239.1.1.1/cb",
        "https://0.0.0.0/cb",
        "https://[::1]/cb",
        "https://[::ffff:127.0.0.1]/cb",
        "https://[fe80::1]/cb",
        "https://[fc00::1]/cb",
        "https://localhost/cb",
    ] {
        let res = app
            .put("/v1/callback-url", Some(&shop), json!({"url": bad}))
            .await;
        assert_eq!(
            res.problem(422, "invalid_callback_url")["field"],
            "url",
            "{bad}"
        );
        let res = app
            .create_request(
                &shop,
                json!({"payer": "anna", "amount": "1.00", "callback_url": bad}),
            )
            .await;
        res.problem(422, "invalid_callback_url");
    }

    // A name that was public when registered but now resolves to loopback (rebinding):
    // the resolver refuses it at connect time and the receiver never hears of it.
    app.put(
        "/v1/callback-url",
        Some(&shop),
        json!({"url": "https://shop.example.com/cb"}),
    )
    .await
    .ok(200);
    let mut conn = pinpay::db::Db::connect(&app.database_url(), 1)
        .unwrap()
        .get()
        .unwrap();
    diesel::sql_query(format!(
        "UPDATE merchant_callbacks SET url = 'https://localhost:{}/callbacks'",
        receiver.port
    ))
    .execute(&mut **conn)
    .unwrap();
    let id = id_of(
        app.create_request(&shop, json!({"payer": "anna", "amount": "1.00"}))
            .await,
    )
    .await;
    app.post(
        &format!("/v1/money-requests/{id}/cancel"),
        Some(&shop),
        json!({}),
    )
    .await
    .ok(200);
    let log = log_until(&app, &shop, |l| attempts(l) == 1).await;
    let error = log["data"][0]["attempts"][0]["error"].as_str().unwrap();
    assert!(error.contains("non-public address"), "{error}");
    assert!(receiver.hits().is_empty());
}

#[tokio::test]
async fn two_instances_deliver_1000_events_without_sending_an_attempt_twice() {
    let app = Arc::new(TestApp::spawn().await);
    let receiver = Receiver::start().await;
    let shop = app.corporate_plus("shop").await;
    app.wallet_user("anna").await;
    app.put(
        "/v1/callback-url",
        Some(&shop),
        json!({"url": receiver.url()}),
    )
    .await
    .ok(200);
    let (_second, second_handle) = app.second_instance().await;

    let items: Vec<Value> = (0..1000)
        .map(|i| json!({"payer": "anna", "amount": "1.00", "reference": format!("r{i}")}))
        .collect();
    let bulk = app
        .post(
            "/v1/money-requests/bulk",
            Some(&shop),
            json!({"requests": items}),
        )
        .await;
    let ids: Vec<String> = bulk.ok(200)["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["money_request"]["id"].as_str().unwrap().to_string())
        .collect();
    let tasks: Vec<_> = ids
        .chunks(250)
        .map(|chunk| {
            let (app, shop, chunk) = (app.clone(), shop.clone(), chunk.to_vec());
            tokio::spawn(async move {
                for id in chunk {
                    app.post(
                        &format!("/v1/money-requests/{id}/cancel"),
                        Some(&shop),
                        json!({}),
                    )
                    .await
                    .ok(200);
                }
            })
        })
        .collect();
    for t in tasks {
        t.await.unwrap();
    }

    let hits = receiver
        .wait_for_within(1000, std::time::Duration::from_secs(60))
        .await;
    tokio::time::sleep(std::time::Duration::from_millis(500)).await;
    let hits_after = receiver.hits();
    let mut per_event: HashMap<String, usize> = HashMap::new();
    for h in &hits_after {
        *per_event.entry(h.id.clone()).or_default() += 1;
    }
    assert_eq!(
        (hits.len(), hits_after.len(), per_event.len()),
        (1000, 1000, 1000)
    );
    assert!(
        per_event.values().all(|n| *n == 1),
        "no event was sent twice"
    );
    second_handle.stop(true).await;
}

#[tokio::test]
async fn the_default_url_must_be_given_explicitly() {
    let app = TestApp::spawn().await;
    let shop = app.corporate_plus("shop").await;
    app.put("/v1/callback-url", Some(&shop), json!({}))
        .await
        .problem(422, "invalid_body");
    assert_eq!(
        app.put("/v1/callback-url", Some(&shop), json!({"url": null}))
            .await
            .ok(200)["url"],
        json!(null)
    );
}
