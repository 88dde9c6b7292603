//! The sandbox (`PINPAY_ENV=sandbox`): test clock, simulated payer, sample callbacks,
//! self-service merchants; 404 elsewhere; a database serves one kind of server only.

use crate::helpers::{TestApp, ADMIN_TOKEN};
use crate::receiver::{Mode, Receiver};
use pinpay::config::{Environment, Secret};
use pinpay::startup::Application;
use serde_json::{json, Value};
use std::time::Duration;

async fn sandbox() -> TestApp {
    TestApp::spawn_with(|c| c.environment = Environment::Sandbox).await
}

/// A merchant from `POST /v1/sandbox/merchants` whose callbacks go to `receiver`;
/// returns its API token and signing secret.
async fn merchant(app: &TestApp, receiver: &Receiver) -> (String, String) {
    let created = app
        .post(
            "/v1/sandbox/merchants",
            None,
            json!({"company_name": "Test Shop"}),
        )
        .await;
    let created = created.ok(201);
    assert_eq!(created["tier"], "corporate_plus");
    assert_eq!(created["company_name"], "Test Shop");
    let token = created["api_token"].as_str().unwrap().to_string();
    let secret = created["webhook_secret"].as_str().unwrap().to_string();
    app.put(
        "/v1/callback-url",
        Some(&token),
        json!({"url": receiver.url()}),
    )
    .await
    .ok(200);
    // The generated password logs in like any other.
    app.post(
        "/v1/sessions",
        None,
        json!({"username": created["username"], "password": created["password"]}),
    )
    .await
    .ok(201);
    (token, secret)
}

fn event_type(hit: &crate::receiver::Hit) -> String {
    hit.json()["type"].as_str().unwrap().to_string()
}

#[tokio::test]
async fn the_test_clock_moves_expiry_and_callback_retries() {
    let app = sandbox().await;
    let receiver = Receiver::start().await;
    let (shop, _) = merchant(&app, &receiver).await;
    let before = app.get("/v1/sandbox/clock", Some(&shop)).await;
    assert_eq!(before.ok(200)["offset_seconds"], 0);
    let link = app
        .create_request(&shop, json!({"amount": "4.00", "expires_in": 600}))
        .await;
    let id = link.ok(201)["id"].as_str().unwrap().to_string();

    // The receiver fails: the expiry's first attempt fails, and so does the retry 5 s on.
    receiver.set(Mode::Fail500);
    let moved = app
        .post(
            "/v1/sandbox/clock",
            Some(&shop),
            json!({"advance_seconds": 601}),
        )
        .await;
    assert_eq!(moved.ok(200)["offset_seconds"], 601);
    let detail = app
        .get(&format!("/v1/money-requests/{id}"), Some(&shop))
        .await;
    assert_eq!(detail.ok(200)["status"], "expired");
    let first = receiver.wait_for(1).await;
    assert_eq!(event_type(&first[0]), "money_request.expired");
    app.post(
        "/v1/sandbox/clock",
        Some(&shop),
        json!({"advance_seconds": 6}),
    )
    .await
    .ok(200);
    receiver.wait_for(2).await;

    // The next retry is 5 minutes away; the clock brings it now.
    receiver.set(Mode::Healthy);
    // The worker records an attempt just after the receiver answered it.
    let deadline = std::time::Instant::now() + Duration::from_secs(5);
    loop {
        let log = app.get("/v1/callbacks", Some(&shop)).await;
        let attempts = log.ok(200)["data"][0]["attempts"].as_array().unwrap().len();
        if attempts == 2 {
            break;
        }
        assert!(std::time::Instant::now() < deadline, "{}", log.body);
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    app.post(
        "/v1/sandbox/clock",
        Some(&shop),
        json!({"advance_seconds": 301}),
    )
    .await
    .ok(200);
    let hits = receiver.wait_for_within(3, Duration::from_secs(5)).await;
    assert_eq!(hits.len(), 3, "the third attempt came with the clock");
    assert!(hits.iter().all(|h| h.id == hits[0].id), "one event, one id");
    let clock = app.get("/v1/sandbox/clock", Some(&shop)).await;
    assert_eq!(clock.ok(200)["offset_seconds"], 908);
    let now: chrono::DateTime<chrono::Utc> =
        clock.ok(200)["now"].as_str().unwrap().parse().unwrap();
    assert!((now - chrono::Utc::now()).num_seconds() >= 907);

    // The clock only moves forward, by a sane amount.
    for bad in [
        json!({"advance_seconds": 0}),
        json!({"advance_seconds": -5}),
    ] {
        app.post("/v1/sandbox/clock", Some(&shop), bad)
            .await
            .problem(422, "validation_failed");
    }
    app.post("/v1/sandbox/clock", None, json!({"advance_seconds": 5}))
        .await
        .problem(401, "unauthenticated");
}

#[tokio::test]
async fn a_simulated_payer_approves_through_the_ledger_and_the_callback_is_signed() {
    let app = sandbox().await;
    let receiver = Receiver::start().await;
    let (shop, secret) = merchant(&app, &receiver).await;

    // An open link: the built-in sandbox payer pays it, funded as needed.
    let link = app.create_request(&shop, json!({"amount": "12.50"})).await;
    let id = link.ok(201)["id"].as_str().unwrap().to_string();
    let paid = app
        .post(
            &format!("/v1/sandbox/money-requests/{id}/simulate"),
            Some(&shop),
            json!({"outcome": "approve"}),
        )
        .await;
    let paid = paid.ok(200);
    assert_eq!(paid["status"], "approved");
    assert_eq!(paid["paid_by"], "sandbox-payer");
    assert_eq!(paid["fee"], "0.28");
    let hit = &receiver.wait_for(1).await[0];
    assert_eq!(event_type(hit), "money_request.approved");
    assert!(
        hit.verifies_with(&secret),
        "signed with the merchant's secret"
    );
    assert_eq!(hit.json()["data"]["id"], id.as_str());
    assert_eq!(app.balance(&shop).await, "12.22");

    // A request addressed to a real wallet with nothing in it: funded, then paid.
    app.register_private("anna").await.ok(201);
    let anna = app.access_token("anna").await;
    let addressed = app
        .create_request(&shop, json!({"amount": "30.00", "payer": "anna"}))
        .await;
    let id = addressed.ok(201)["id"].as_str().unwrap().to_string();
    let paid = app
        .post(
            &format!("/v1/sandbox/money-requests/{id}/simulate"),
            Some(&shop),
            json!({"outcome": "approve", "payer": "bert"}),
        )
        .await;
    assert_eq!(paid.problem(422, "validation_failed")["field"], "payer");
    app.post(
        &format!("/v1/sandbox/money-requests/{id}/simulate"),
        Some(&shop),
        json!({"outcome": "approve"}),
    )
    .await
    .ok(200);
    assert_eq!(app.balance(&anna).await, "0.00");
    let history = app.get("/v1/transactions", Some(&anna)).await;
    let kinds: Vec<&str> = history.ok(200)["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["kind"].as_str().unwrap())
        .collect();
    assert_eq!(kinds, ["payment", "adjustment"], "{}", history.body);
    // Paying again is refused as it would be in the app.
    app.post(
        &format!("/v1/sandbox/money-requests/{id}/simulate"),
        Some(&shop),
        json!({"outcome": "approve"}),
    )
    .await
    .problem(409, "request_not_pending");

    // Declining an open link addresses it to the payer, then declines.
    let link = app.create_request(&shop, json!({"amount": "3.00"})).await;
    let id = link.ok(201)["id"].as_str().unwrap().to_string();
    let declined = app
        .post(
            &format!("/v1/sandbox/money-requests/{id}/simulate"),
            Some(&shop),
            json!({"outcome": "decline", "payer": "anna"}),
        )
        .await;
    assert_eq!(declined.ok(200)["status"], "declined");
    assert_eq!(declined.ok(200)["payer"], "anna");
    let hits = receiver.wait_for(3).await;
    assert_eq!(event_type(&hits[2]), "money_request.declined");
    app.post(
        &format!("/v1/sandbox/money-requests/{id}/simulate"),
        Some(&shop),
        json!({"outcome": "maybe"}),
    )
    .await
    .problem(422, "invalid_body");
    let created = app.post("/v1/sandbox/merchants", None, json!({})).await;
    let other = created.ok(201)["api_token"].as_str().unwrap().to_string();
    let other_name = created.ok(201)["username"].as_str().unwrap().to_string();
    app.post(
        &format!("/v1/sandbox/money-requests/{id}/simulate"),
        Some(&other),
        json!({"outcome": "approve"}),
    )
    .await
    .problem(404, "not_found");
    // Another merchant can be the payer too (Corporate+ merchants make purchases).
    let link = app.create_request(&shop, json!({"amount": "2.00"})).await;
    let id = link.ok(201)["id"].as_str().unwrap().to_string();
    let paid = app
        .post(
            &format!("/v1/sandbox/money-requests/{id}/simulate"),
            Some(&shop),
            json!({"outcome": "approve", "payer": other_name}),
        )
        .await;
    assert_eq!(paid.ok(200)["paid_by"], other_name.as_str());
    assert_eq!(app.ledger_report().await["ok"], true);
}

#[tokio::test]
async fn sample_callbacks_of_every_type_are_signed_and_sent() {
    let app = sandbox().await;
    let receiver = Receiver::start().await;
    let (shop, secret) = merchant(&app, &receiver).await;
    let types = [
        "money_request.approved",
        "money_request.declined",
        "money_request.expired",
        "money_request.cancelled",
        "refund.succeeded",
    ];
    for t in types {
        let queued = app
            .post(
                "/v1/sandbox/callbacks/test",
                Some(&shop),
                json!({"type": t}),
            )
            .await;
        assert_eq!(queued.ok(202)["type"], t);
    }
    let hits = receiver.wait_for(types.len()).await;
    let mut got: Vec<String> = hits.iter().map(event_type).collect();
    got.sort();
    let mut want: Vec<String> = types.iter().map(|t| t.to_string()).collect();
    want.sort();
    assert_eq!(got, want);
    for hit in &hits {
        assert!(hit.verifies_with(&secret));
        let body: Value = hit.json();
        let data = &body["data"];
        if body["type"] == "refund.succeeded" {
            assert_eq!(data["object"], "refund");
        } else {
            assert_eq!(data["object"], "money_request");
            assert_eq!(
                format!("money_request.{}", data["status"].as_str().unwrap()),
                body["type"]
            );
        }
    }
    // A body that is not an object is refused, even where every field is optional.
    for body in [json!([]), json!("shop"), json!(null)] {
        app.request(
            "POST",
            "/v1/sandbox/merchants",
            None,
            Some(crate::helpers::RawBody::Json(body)),
        )
        .await
        .problem(422, "invalid_body");
    }
    let bad = app
        .post(
            "/v1/sandbox/callbacks/test",
            Some(&shop),
            json!({"type": "money_request.paid"}),
        )
        .await;
    assert_eq!(bad.problem(422, "validation_failed")["field"], "type");
}

#[tokio::test]
async fn sandbox_routes_do_not_exist_in_development_or_production() {
    let dev = TestApp::spawn().await;
    let prod = TestApp::spawn_with(|c| {
        c.environment = Environment::Production;
        c.pepper = Secret::new("a-production-pepper-0123456789");
    })
    .await;
    for app in [&dev, &prod] {
        let shop = app.corporate_plus("shop").await;
        for (path, token) in [
            ("/v1/sandbox/merchants", None),
            ("/v1/sandbox/clock", Some(shop.as_str())),
            ("/v1/sandbox/clock", None),
            ("/v1/sandbox/callbacks/test", Some(shop.as_str())),
            (
                "/v1/sandbox/money-requests/mr_x/simulate",
                Some(shop.as_str()),
            ),
        ] {
            let res = app
                .post(path, token, json!({"type": "refund.succeeded"}))
                .await;
            res.problem(404, "route_not_found");
        }
        app.get("/v1/sandbox/clock", Some(&shop))
            .await
            .problem(404, "route_not_found");
        let _ = ADMIN_TOKEN;
    }
}

#[tokio::test]
async fn a_database_serves_either_a_sandbox_or_a_live_server() {
    let live = TestApp::spawn().await;
    live.corporate_plus("shop").await;
    let mut config = live.config();
    config.environment = Environment::Sandbox;
    let refused = Application::build(config, pinpay::clock::Clock::system()).await;
    let why = refused.err().expect("a sandbox refuses a live database");
    assert!(why.contains("belongs to a live server"), "{why}");

    let sandbox = sandbox().await;
    let mut config = sandbox.config();
    config.environment = Environment::Development;
    let refused = Application::build(config, pinpay::clock::Clock::system()).await;
    let why = refused
        .err()
        .expect("a live server refuses a sandbox database");
    assert!(why.contains("belongs to a sandbox server"), "{why}");
    // The sandbox itself starts again on its own database.
    sandbox.restart().await;
}

/// Two sandbox servers (processes) on one PostgreSQL: a merchant's clock moved through one
/// is the merchant's clock on the other at once (it lives in the database), and the
/// request it expired is expired there too.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_clock_moved_through_one_instance_moves_the_others() {
    use crate::process::{wait_healthy, ServerProcess};
    let on_postgres = std::env::var("PINPAY_TEST_DATABASE_URL").is_ok_and(|v| !v.is_empty());
    if !on_postgres {
        return;
    }
    let db = crate::helpers::TestDb::create();
    let settings = [
        ("PINPAY_ENV", "sandbox"),
        ("PINPAY_SWEEP_INTERVAL_MS", "60000"),
    ];
    let client = reqwest::Client::new();
    let a = ServerProcess::start(&db.url(), &settings);
    wait_healthy(&client, &a.address()).await;
    let b = ServerProcess::start(&db.url(), &settings);
    wait_healthy(&client, &b.address()).await;
    let created: Value = client
        .post(format!("{}/v1/sandbox/merchants", a.address()))
        .json(&json!({}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let shop = created["api_token"].as_str().unwrap().to_string();
    let link: Value = client
        .post(format!("{}/v1/money-requests", a.address()))
        .bearer_auth(&shop)
        .json(&json!({"amount": "1.00", "expires_in": 600}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let url = format!(
        "{}/v1/money-requests/{}",
        b.address(),
        link["id"].as_str().unwrap()
    );
    let status = || async {
        let v: Value = client
            .get(&url)
            .bearer_auth(&shop)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        v["status"].as_str().unwrap().to_string()
    };
    assert_eq!(status().await, "pending");
    let moved = client
        .post(format!("{}/v1/sandbox/clock", a.address()))
        .bearer_auth(&shop)
        .json(&json!({"advance_seconds": 601}))
        .send()
        .await
        .unwrap();
    assert_eq!(moved.status(), 200);
    assert_eq!(status().await, "expired");
    // B reads the merchant's clock from the database; what B writes carries real time.
    let clock: Value = client
        .get(format!("{}/v1/sandbox/clock", b.address()))
        .bearer_auth(&shop)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(clock["offset_seconds"], 601);
    let created: Value = client
        .post(format!("{}/v1/money-requests", b.address()))
        .bearer_auth(&shop)
        .json(&json!({"amount": "1.00"}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let at: chrono::DateTime<chrono::Utc> =
        created["created_at"].as_str().unwrap().parse().unwrap();
    assert!(
        (at - chrono::Utc::now()).num_seconds().abs() < 30,
        "{created}"
    );
}

/// Test clocks belong to the merchant who moves them: one merchant moving its clock 40 days
/// expires its own requests, not another merchant's; its API token (30 days) keeps
/// working; and callbacks are signed with real time, so a Standard Webhooks verifier
/// (which refuses timestamps more than 5 minutes off) accepts them.
/// A new request of `token`'s merchant; its id.
async fn new_request(app: &TestApp, token: &str, amount: &str) -> String {
    let res = app.create_request(token, json!({ "amount": amount })).await;
    res.ok(201)["id"].as_str().unwrap().to_string()
}

/// The request's status as its merchant reads it.
async fn status_of(app: &TestApp, token: &str, id: &str) -> String {
    let res = app
        .get(&format!("/v1/money-requests/{id}"), Some(token))
        .await;
    res.ok(200)["status"].as_str().unwrap().to_string()
}

/// Moves `token`'s test clock.
async fn advance(app: &TestApp, token: &str, seconds: i64) -> Value {
    let res = app
        .post(
            "/v1/sandbox/clock",
            Some(token),
            json!({ "advance_seconds": seconds }),
        )
        .await;
    res.ok(200).clone()
}

#[tokio::test]
async fn a_test_clock_belongs_to_its_merchant_and_signatures_keep_real_time() {
    let app = sandbox().await;
    let receiver = Receiver::start().await;
    let (mover, _) = merchant(&app, &receiver).await;
    let (bystander, _) = merchant(&app, &receiver).await;
    let mine = new_request(&app, &mover, "2.00").await;
    let theirs = new_request(&app, &bystander, "3.00").await;
    let moved = advance(&app, &mover, 40 * 24 * 3600).await;
    assert_eq!(moved["offset_seconds"], 40 * 24 * 3600);
    // The mover's request expired; its token still works (real time).
    assert_eq!(status_of(&app, &mover, &mine).await, "expired");
    // The bystander's clock and request did not move.
    let other = app.get("/v1/sandbox/clock", Some(&bystander)).await;
    assert_eq!(other.ok(200)["offset_seconds"], 0);
    assert_eq!(status_of(&app, &bystander, &theirs).await, "pending");
    // The expiry's callback carries real time in its signature.
    let hits = receiver.wait_for(1).await;
    assert_eq!(event_type(&hits[0]), "money_request.expired");
    let stamped: i64 = hits[0].timestamp.parse().unwrap();
    assert!(
        (stamped - chrono::Utc::now().timestamp()).abs() < 60,
        "webhook-timestamp {stamped} is real time"
    );
    // A request created after the move follows the merchant's clock: its deadline is the
    // default 72 h from now, and a further move of 73 h expires it.
    let later = new_request(&app, &mover, "2.00").await;
    advance(&app, &mover, 73 * 3600).await;
    assert_eq!(status_of(&app, &mover, &later).await, "expired");
    assert_eq!(status_of(&app, &bystander, &theirs).await, "pending");
}
