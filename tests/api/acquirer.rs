//! Reloads through a card acquirer over real HTTP both ways: PinPay places the order with
//! a loopback fake acquirer (Worldpay's hosted order flow in miniature), the payer
//! "pays" on the acquirer's page, and the acquirer posts its MAC-signed confirmation back
//! to PinPay's notification URL.

use crate::helpers::{TestApp, ADMIN_TOKEN, PIN};
use crate::receiver::Receiver;
use actix_web::{web, App, HttpRequest, HttpResponse, HttpServer};
use pinpay::config::{AcquirerConfig, Secret};
use serde_json::{json, Value};
use std::sync::atomic::{AtomicU16, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

const MAC_SECRET: &str = "acquirer-mac-secret-0123456789";
const PASSWORD: &str = "acquirer-xml-password";
const MERCHANT: &str = "PINPAYTEST";

/// The fake acquirer's memory: the orders it was sent (with their Authorization header),
/// how many order calls to answer 503 first, and the status to answer after that.
#[derive(Default)]
struct Acquirer {
    orders: Mutex<Vec<(String, Value)>>,
    /// The `Idempotency-Key` of each order call.
    keys: Mutex<Vec<String>>,
    unavailable_for: AtomicUsize,
    status: AtomicU16,
    port: AtomicU16,
}

async fn create_order(
    req: HttpRequest,
    body: web::Json<Value>,
    a: web::Data<Acquirer>,
) -> HttpResponse {
    let auth = req
        .headers()
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_string();
    let code = body["order_code"].as_str().unwrap_or_default().to_string();
    let key = req
        .headers()
        .get("idempotency-key")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_string();
    a.keys.lock().unwrap().push(key);
    a.orders.lock().unwrap().push((auth, body.into_inner()));
    if a.unavailable_for
        .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
        .is_ok()
    {
        return HttpResponse::ServiceUnavailable().finish();
    }
    match a.status.load(Ordering::SeqCst) {
        200 => HttpResponse::Ok().json(json!({
            "reference": format!("wp-{code}"),
            "payment_url": format!("http://127.0.0.1:{}/hpp/{code}", a.port.load(Ordering::SeqCst)),
        })),
        other => HttpResponse::build(actix_web::http::StatusCode::from_u16(other).unwrap())
            .json(json!({"error": "order refused"})),
    }
}

/// The payer finishes on the hosted page: the acquirer tells PinPay at the order's
/// notification URL, signed with the shared secret, and answers with PinPay's status.
async fn pay(
    path: web::Path<String>,
    outcome: web::Json<Value>,
    a: web::Data<Acquirer>,
) -> HttpResponse {
    let code = path.into_inner();
    let order = a
        .orders
        .lock()
        .unwrap()
        .iter()
        .rev()
        .find(|(_, o)| o["order_code"] == code.as_str())
        .map(|(_, o)| o.clone())
        .expect("the acquirer knows the order");
    let status = outcome["status"].as_str().unwrap();
    let amount = outcome["amount"]
        .as_str()
        .unwrap_or(order["amount"].as_str().unwrap());
    let mac = pinpay::domain::reload::mac(MAC_SECRET, &code, amount, "EUR", status);
    let res = reqwest::Client::new()
        .post(order["notification_url"].as_str().unwrap())
        .json(&json!({"order_code": code, "amount": amount, "currency": "EUR", "status": status, "mac": mac}))
        .send()
        .await
        .expect("PinPay answers the acquirer");
    let status = actix_web::http::StatusCode::from_u16(res.status().as_u16()).unwrap();
    HttpResponse::build(status).body(res.bytes().await.unwrap())
}

async fn start_acquirer() -> (Arc<Acquirer>, u16) {
    let acquirer = Arc::new(Acquirer::default());
    acquirer.status.store(200, Ordering::SeqCst);
    let data = web::Data::from(acquirer.clone());
    let server = HttpServer::new(move || {
        App::new()
            .app_data(data.clone())
            .route("/orders", web::post().to(create_order))
            .route("/hpp/{code}/pay", web::post().to(pay))
    })
    .workers(1)
    .bind(("127.0.0.1", 0))
    .unwrap();
    let port = server.addrs()[0].port();
    acquirer.port.store(port, Ordering::SeqCst);
    tokio::spawn(server.run());
    (acquirer, port)
}

/// A PinPay whose public URL is its real address, so the acquirer can call it back.
async fn app_with(acquirer_port: u16) -> TestApp {
    let port = Receiver::free_port();
    TestApp::spawn_with(|c| {
        c.bind = format!("127.0.0.1:{port}");
        c.public_url = format!("http://127.0.0.1:{port}");
        c.reload_acquirer = Some(AcquirerConfig {
            url: format!("http://127.0.0.1:{acquirer_port}/orders"),
            merchant_code: MERCHANT.into(),
            password: Some(Secret::new(PASSWORD)),
            mac_secret: Secret::new(MAC_SECRET),
        });
    })
    .await
}

async fn payer_pays(acquirer_port: u16, code: &str, body: Value) -> (u16, Value) {
    let res = reqwest::Client::new()
        .post(format!("http://127.0.0.1:{acquirer_port}/hpp/{code}/pay"))
        .json(&body)
        .send()
        .await
        .unwrap();
    let status = res.status().as_u16();
    (status, res.json().await.unwrap_or(Value::Null))
}

async fn orders(app: &TestApp, token: &str) -> Vec<Value> {
    let list = app.get("/v1/reloads", Some(token)).await;
    list.ok(200)["data"].as_array().unwrap().clone()
}

/// Waits until the newest order satisfies `done`.
async fn newest_order(app: &TestApp, token: &str, done: impl Fn(&Value) -> bool) -> Value {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let list = orders(app, token).await;
        if let Some(o) = list.first().filter(|o| done(o)) {
            return o.clone();
        }
        assert!(Instant::now() < deadline, "no such order: {list:?}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test]
async fn a_reload_through_the_card_acquirer_is_placed_over_http_and_booked_by_its_confirmation() {
    let (acquirer, port) = start_acquirer().await;
    let app = app_with(port).await;
    let anna = app.wallet_user("anna").await;

    let placed = app
        .post(
            "/v1/reloads",
            Some(&anna),
            json!({"amount": "30.00", "provider": "acquirer"}),
        )
        .await;
    let order = placed.ok(201).clone();
    let code = order["id"].as_str().unwrap().to_string();
    assert_eq!(order["status"], "pending");
    assert_eq!(order["provider"], "acquirer");
    assert_eq!(
        order["payment_url"],
        format!("http://127.0.0.1:{port}/hpp/{code}")
    );

    // What the acquirer was sent, and how PinPay signed in.
    let sent = acquirer.orders.lock().unwrap().clone();
    assert_eq!(sent.len(), 1);
    let (auth, body) = &sent[0];
    use base64::Engine;
    let basic = base64::engine::general_purpose::STANDARD.encode(format!("{MERCHANT}:{PASSWORD}"));
    assert_eq!(auth, &format!("Basic {basic}"));
    assert_eq!(body["merchant_code"], MERCHANT);
    assert_eq!(body["order_code"], code.as_str());
    assert_eq!(
        acquirer.keys.lock().unwrap()[0],
        code,
        "the order code deduplicates"
    );
    assert_eq!(
        (body["amount"].as_str(), body["currency"].as_str()),
        (Some("30.00"), Some("EUR"))
    );
    assert_eq!(body["shopper"], "anna");
    assert_eq!(
        body["notification_url"],
        format!("{}/v1/reload/confirmations/acquirer", app.address)
    );
    assert_eq!(app.balance(&anna).await, "0.00");

    // The payer pays; the acquirer's confirmation books the top-up.
    let (status, confirmed) = payer_pays(port, &code, json!({"status": "AUTHORISED"})).await;
    assert_eq!(status, 200, "{confirmed}");
    assert_eq!(confirmed["status"], "confirmed");
    assert_eq!(app.balance(&anna).await, "30.00");

    // The acquirer notifies again (at least once, as they do): nothing more is booked.
    let (status, again) = payer_pays(port, &code, json!({"status": "AUTHORISED"})).await;
    assert_eq!(status, 409, "{again}");
    assert_eq!(again["code"], "reload_already_resolved");
    assert_eq!(app.balance(&anna).await, "30.00");

    // The sandbox's secret does not sign for the acquirer.
    let second = app
        .post(
            "/v1/reloads",
            Some(&anna),
            json!({"amount": "5.00", "provider": "acquirer"}),
        )
        .await;
    let second = second.ok(201)["id"].as_str().unwrap().to_string();
    let sandbox_signed = pinpay::domain::reload::mac(
        "pinpay-sandbox-reload-secret",
        &second,
        "5.00",
        "EUR",
        "AUTHORISED",
    );
    app.post(
        "/v1/reload/confirmations/acquirer",
        None,
        json!({"order_code": second, "amount": "5.00", "currency": "EUR", "status": "AUTHORISED", "mac": sandbox_signed}),
    )
    .await
    .problem(401, "unauthenticated");
    assert_eq!(app.balance(&anna).await, "30.00");
    let txns = app.get("/v1/transactions", Some(&anna)).await;
    let txns = txns.ok(200)["data"].as_array().unwrap().clone();
    assert_eq!(txns.len(), 1, "one top-up: {txns:?}");
    assert_eq!(txns[0]["kind"], "deposit");
    assert_eq!(app.ledger_report().await["ok"], true);
}

#[tokio::test]
async fn an_auto_reload_waits_out_an_unavailable_acquirer_and_a_refused_order_fails() {
    let (acquirer, port) = start_acquirer().await;
    acquirer.unavailable_for.store(1, Ordering::SeqCst);
    let app = app_with(port).await;
    let shop = app.corporate_plus("shop").await;
    let anna = app.wallet_user("anna").await;
    app.deposit("anna", "50.00").await.ok(201);
    app.put(
        "/v1/me/auto-reload",
        Some(&anna),
        json!({"enabled": true, "replenish_amount": "40.00", "recurring_amount": "25.00", "provider": "acquirer"}),
    )
    .await
    .ok(200);

    let pay_shop = |amount: &'static str| {
        let (app, shop, anna) = (&app, &shop, &anna);
        async move {
            let mr = app
                .create_request(shop, json!({"payer": "anna", "amount": amount}))
                .await;
            let id = mr.ok(201)["id"].as_str().unwrap().to_string();
            app.approve(anna, &id, PIN).await.ok(200);
        }
    };
    pay_shop("15.00").await; // 35.00: below 40.00, an order for 25.00
    let order = newest_order(&app, &anna, |o| o["payment_url"].is_string()).await;
    let code = order["id"].as_str().unwrap().to_string();
    assert_eq!(order["origin"], "auto");
    let calls: Vec<Value> = acquirer
        .orders
        .lock()
        .unwrap()
        .iter()
        .map(|(_, o)| o["order_code"].clone())
        .collect();
    assert_eq!(calls, vec![json!(code), json!(code)], "503, then placed");

    let (status, _) = payer_pays(port, &code, json!({"status": "AUTHORISED"})).await;
    assert_eq!(status, 200);
    assert_eq!(app.balance(&anna).await, "60.00");

    // The acquirer now refuses orders: the next one fails with the reason and counts.
    acquirer.status.store(400, Ordering::SeqCst);
    pay_shop("25.00").await; // 35.00 again
    let failed = newest_order(&app, &anna, |o| o["status"] == "failed").await;
    assert_ne!(failed["id"], code.as_str());
    assert!(
        failed["reason"]
            .as_str()
            .unwrap()
            .contains("refused the order (HTTP 400)"),
        "{failed}"
    );
    let settings = app.get("/v1/me/auto-reload", Some(&anna)).await;
    assert_eq!(settings.ok(200)["consecutive_failures"], 1);
    assert_eq!(app.balance(&anna).await, "35.00");
    assert_eq!(app.ledger_report().await["ok"], true);
}

/// The acquirer's state machine: the payer's card is refused, then the payer retries and
/// it is authorised; or the authorisation arrives after the order's deadline. The payer
/// was charged, so the top-up books once, and the operator finds it in the audit log.
#[tokio::test]
async fn an_authorisation_after_a_refusal_or_the_deadline_books_once_and_tells_the_operator() {
    let (_acquirer, port) = start_acquirer().await;
    let app = app_with(port).await;
    let anna = app.wallet_user("anna").await;
    let order = |amount: &'static str| {
        let app = &app;
        let anna = anna.clone();
        async move {
            app.post(
                "/v1/reloads",
                Some(&anna),
                json!({"amount": amount, "provider": "acquirer"}),
            )
            .await
            .ok(201)["id"]
                .as_str()
                .unwrap()
                .to_string()
        }
    };

    let first = order("20.00").await;
    let (status, refused) = payer_pays(port, &first, json!({"status": "REFUSED"})).await;
    assert_eq!((status, refused["status"].as_str()), (200, Some("failed")));
    assert_eq!(app.balance(&anna).await, "0.00");
    let (status, booked) = payer_pays(port, &first, json!({"status": "AUTHORISED"})).await;
    assert_eq!(status, 200, "{booked}");
    assert_eq!(booked["status"], "confirmed");
    assert_eq!(app.balance(&anna).await, "20.00");
    // Retried notifications book nothing more, nor does a late REFUSED undo it.
    for again in ["AUTHORISED", "REFUSED"] {
        let (status, body) = payer_pays(port, &first, json!({ "status": again })).await;
        assert_eq!(status, 409, "{body}");
        assert_eq!(body["code"], "reload_already_resolved");
    }
    assert_eq!(app.balance(&anna).await, "20.00");

    // Past the order's deadline the sweeper fails it; the late authorisation books it.
    let second = order("7.50").await;
    app.clock.advance(chrono::Duration::hours(25));
    let anna = app.access_token("anna").await;
    let until = Instant::now() + Duration::from_secs(10);
    loop {
        let list = app.get("/v1/reloads", Some(&anna)).await;
        let failed = list.ok(200)["data"]
            .as_array()
            .unwrap()
            .iter()
            .any(|o| o["id"] == second.as_str() && o["status"] == "failed");
        if failed {
            break;
        }
        assert!(Instant::now() < until, "the stale order fails");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let (status, booked) = payer_pays(port, &second, json!({"status": "AUTHORISED"})).await;
    assert_eq!(
        (status, booked["status"].as_str()),
        (200, Some("confirmed"))
    );
    assert_eq!(app.balance(&anna).await, "27.50");

    let log = app
        .get("/v1/admin/audit?limit=100", Some(ADMIN_TOKEN))
        .await;
    let late: Vec<Value> = log.ok(200)["data"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["action"] == "reload.authorised_late")
        .cloned()
        .collect();
    assert_eq!(late.len(), 2, "{late:?}");
    assert!(late.iter().all(|e| e["actor"] == "provider:acquirer"));
    let txns = app.get("/v1/transactions", Some(&anna)).await;
    assert_eq!(txns.ok(200)["data"].as_array().unwrap().len(), 2);
    assert_eq!(app.ledger_report().await["ok"], true);
}
