//! Database outages: 503 problem+json with `Retry-After` within 2 s, `/ready` reports
//! them, and the server recovers by itself. On PostgreSQL the outage is real: the server
//! reaches the database through a loopback TCP relay that the test cuts (open connections
//! dropped, new ones closed at once) and restores. On SQLite another connection holds the
//! write lock, as another process would.

use crate::helpers::{TestApp, PASSWORD};
use diesel::connection::SimpleConnection;
use diesel::{Connection, SqliteConnection};
use serde_json::json;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::net::{TcpListener, TcpStream};
use tokio::task::AbortHandle;

/// A loopback relay to PostgreSQL that can be cut and restored.
struct Relay {
    port: u16,
    up: Arc<AtomicBool>,
    /// Blackholed: connections stay open, and every byte is dropped silently, as a
    /// network that loses packets would.
    hole: Arc<AtomicBool>,
    links: Arc<Mutex<Vec<AbortHandle>>>,
}

/// Copies `from` to `to` until either closes, dropping the bytes while `hole` is set.
async fn pump(
    mut from: tokio::net::tcp::OwnedReadHalf,
    mut to: tokio::net::tcp::OwnedWriteHalf,
    hole: Arc<AtomicBool>,
) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut buf = vec![0u8; 16 * 1024];
    loop {
        match from.read(&mut buf).await {
            Ok(0) | Err(_) => return,
            Ok(n) if !hole.load(Ordering::SeqCst) => {
                if to.write_all(&buf[..n]).await.is_err() {
                    return;
                }
            }
            Ok(_) => {}
        }
    }
}

impl Relay {
    async fn start(target: String) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let up = Arc::new(AtomicBool::new(true));
        let hole = Arc::new(AtomicBool::new(false));
        let links = Arc::new(Mutex::new(Vec::new()));
        let (up2, hole2, links2) = (up.clone(), hole.clone(), links.clone());
        tokio::spawn(async move {
            while let Ok((client, _)) = listener.accept().await {
                if !up2.load(Ordering::SeqCst) {
                    continue; // dropped: the connection closes at once
                }
                let (target, hole) = (target.clone(), hole2.clone());
                let link = tokio::spawn(async move {
                    if let Ok(server) = TcpStream::connect(&target).await {
                        let (cr, cw) = client.into_split();
                        let (sr, sw) = server.into_split();
                        tokio::select! {
                            _ = pump(cr, sw, hole.clone()) => {}
                            _ = pump(sr, cw, hole) => {}
                        }
                    }
                });
                links2.lock().unwrap().push(link.abort_handle());
            }
        });
        Self {
            port,
            up,
            hole,
            links,
        }
    }

    /// Packets vanish: nothing is forwarded and nothing is closed.
    fn blackhole(&self) {
        self.hole.store(true, Ordering::SeqCst);
    }

    /// The network is back; the connections that lost bytes are gone (as their
    /// keepalives would have ended them), new ones work.
    fn heal(&self) {
        for link in self.links.lock().unwrap().drain(..) {
            link.abort();
        }
        self.hole.store(false, Ordering::SeqCst);
    }

    fn cut(&self) {
        self.up.store(false, Ordering::SeqCst);
        for link in self.links.lock().unwrap().drain(..) {
            link.abort();
        }
    }

    fn restore(&self) {
        self.up.store(true, Ordering::SeqCst);
    }
}

/// A call that must be a 503 `database_unavailable` with `Retry-After`, within 2 s.
async fn assert_unavailable(
    app: &TestApp,
    method: &str,
    path: &str,
    token: Option<&str>,
    body: Option<serde_json::Value>,
) {
    let started = Instant::now();
    let mut req = app.client.request(
        reqwest::Method::from_bytes(method.as_bytes()).unwrap(),
        format!("{}{path}", app.address),
    );
    if let Some(t) = token {
        req = req.bearer_auth(t);
    }
    if let Some(b) = body {
        req = req.json(&b);
    }
    let res = req.send().await.unwrap();
    let took = started.elapsed();
    assert_eq!(res.status(), 503, "{method} {path}");
    assert!(
        res.headers().contains_key("retry-after"),
        "{path}: Retry-After"
    );
    assert_eq!(res.headers()["content-type"], "application/problem+json");
    let problem: serde_json::Value = res.json().await.unwrap();
    assert_eq!(problem["code"], "database_unavailable", "{problem}");
    assert!(
        took < Duration::from_secs(2),
        "{method} {path} took {took:?}"
    );
}

/// Takes SQLite's write lock from another connection, as another process would: waiting
/// for whatever the server is writing at that moment (its workers write too) to finish.
fn hold_write_lock(path: &str) -> SqliteConnection {
    let mut other = SqliteConnection::establish(path).unwrap();
    other.batch_execute("PRAGMA busy_timeout = 10000").unwrap();
    other.batch_execute("BEGIN IMMEDIATE").unwrap();
    other
}

async fn wait_ready(app: &TestApp) {
    for _ in 0..200 {
        if app.get("/ready", None).await.status == 200 {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("the server never became ready again");
}

// Several threads: the relay must keep serving while the server's start blocks one.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgresql_cut_off_answers_503_quickly_and_recovers_by_itself() {
    if std::env::var("PINPAY_TEST_DATABASE_URL").map_or(true, |v| v.is_empty()) {
        return; // the SQLite variant below covers this backend
    }
    let relay = Relay::start("127.0.0.1:5432".into()).await;
    let port = relay.port;
    let app = TestApp::spawn_with(move |c| {
        c.database_url = c.database_url.replacen(":5432/", &format!(":{port}/"), 1);
        assert!(c.database_url.contains(&format!(":{port}/")), "relayed");
    })
    .await;
    let anna = app.wallet_user("anna").await;

    relay.cut();
    for _ in 0..3 {
        assert_unavailable(&app, "GET", "/ready", None, None).await;
        assert_unavailable(&app, "GET", "/v1/balance", Some(&anna), None).await;
        assert_unavailable(
            &app,
            "POST",
            "/v1/sessions",
            None,
            Some(json!({"username": "anna", "password": PASSWORD})),
        )
        .await;
    }

    relay.restore();
    wait_ready(&app).await;
    assert_eq!(app.balance(&anna).await, "0.00");
    app.register_private("bert").await.ok(201);
}

#[tokio::test]
async fn sqlite_locked_by_another_process_answers_503_not_500() {
    if std::env::var("PINPAY_TEST_DATABASE_URL").is_ok_and(|v| !v.is_empty()) {
        return; // the PostgreSQL variant above covers that backend
    }
    let app = TestApp::spawn().await;
    let anna = app.wallet_user("anna").await;
    let path = app
        .database_url()
        .trim_start_matches("sqlite://")
        .to_string();
    let mut other = hold_write_lock(&path);

    assert_unavailable(&app, "GET", "/ready", None, None).await;
    assert_unavailable(
        &app,
        "POST",
        "/v1/accounts",
        None,
        Some(json!({"kind": "private", "username": "bert", "password": PASSWORD, "email": "bert@example.com"})),
    )
    .await;
    // Readers are not blocked by a writer (WAL).
    assert_eq!(app.balance(&anna).await, "0.00");

    other.batch_execute("ROLLBACK").unwrap();
    wait_ready(&app).await;
    app.register_private("bert").await.ok(201);
}

/// Retries a keyed bulk call until it is answered with something other than 409 or 503.
async fn bulk_until_answered(
    app: &TestApp,
    shop: &str,
    key: &str,
    body: &serde_json::Value,
) -> crate::helpers::Res {
    for _ in 0..200 {
        let (res, _) = app
            .post_with_key("/v1/money-requests/bulk", shop, key, body.clone())
            .await;
        if res.status != 409 && res.status != 503 {
            return res;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("the bulk call was never answered");
}

/// Every request of the merchant, by reference: how many carry each.
async fn references(app: &TestApp, shop: &str) -> std::collections::HashMap<String, usize> {
    let (mut seen, mut after) = (std::collections::HashMap::new(), None::<String>);
    loop {
        let path = match &after {
            Some(id) => format!("/v1/money-requests?limit=100&starting_after={id}"),
            None => "/v1/money-requests?limit=100".to_string(),
        };
        let page = app.get(&path, Some(shop)).await.ok(200).clone();
        for r in page["data"].as_array().unwrap() {
            *seen
                .entry(r["reference"].as_str().unwrap().to_string())
                .or_default() += 1;
            after = Some(r["id"].as_str().unwrap().to_string());
        }
        if page["has_more"] != true {
            return seen;
        }
    }
}

/// A bulk call interrupted by an outage leaves nothing; its retry creates every item once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_bulk_call_interrupted_by_an_outage_is_completed_once_by_its_retry() {
    let postgres = std::env::var("PINPAY_TEST_DATABASE_URL").is_ok_and(|v| !v.is_empty());
    let relay = Relay::start("127.0.0.1:5432".into()).await;
    let port = relay.port;
    let app = TestApp::spawn_with(move |c| {
        if postgres {
            c.database_url = c.database_url.replacen(":5432/", &format!(":{port}/"), 1);
        }
    })
    .await;
    let shop = app.corporate_plus("shop").await;
    app.wallet_user("anna").await;
    let items: Vec<_> = (0..1000)
        .map(|i| json!({"payer": "anna", "amount": "1.00", "reference": format!("order-{i}")}))
        .collect();
    let body = json!({"requests": items});

    let first = if postgres {
        // Cut PostgreSQL off while the call runs.
        let call = app.post_with_key("/v1/money-requests/bulk", &shop, "bulk-1", body.clone());
        let cut = async {
            tokio::time::sleep(Duration::from_millis(150)).await;
            relay.cut();
        };
        let ((res, _), ()) = tokio::join!(call, cut);
        relay.restore();
        res
    } else {
        // Another process holds SQLite's write lock while the call runs.
        let path = app
            .database_url()
            .trim_start_matches("sqlite://")
            .to_string();
        let mut other = hold_write_lock(&path);
        let (res, _) = app
            .post_with_key("/v1/money-requests/bulk", &shop, "bulk-1", body.clone())
            .await;
        other.batch_execute("ROLLBACK").unwrap();
        res
    };
    if first.status != 200 {
        first.problem(503, "database_unavailable");
    }
    wait_ready(&app).await;
    let retried = bulk_until_answered(&app, &shop, "bulk-1", &body).await;
    assert_eq!(retried.ok(200)["created"], 1000);
    let seen = references(&app, &shop).await;
    assert_eq!(seen.len(), 1000);
    assert!(seen.values().all(|n| *n == 1), "no item created twice");
}

/// PostgreSQL's packets are dropped silently (the connections stay open): requests already
/// inside a database call, and new ones, answer 503 within the call deadline instead of
/// hanging for the outage; afterwards the server serves again by itself, and no money
/// moved twice.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn postgresql_packets_dropped_answer_503_within_the_call_deadline() {
    if std::env::var("PINPAY_TEST_DATABASE_URL").map_or(true, |v| v.is_empty()) {
        return; // a network between server and database: PostgreSQL only
    }
    let relay = Relay::start("127.0.0.1:5432".into()).await;
    let port = relay.port;
    let app = TestApp::spawn_with(move |c| {
        c.database_url = c.database_url.replacen(":5432/", &format!(":{port}/"), 1);
        c.db_call_timeout_ms = 2000;
    })
    .await;
    let anna = app.wallet_user("anna").await;
    app.deposit("anna", "50.00").await.ok(201);
    app.wallet_user("bert").await;

    relay.blackhole();
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(30))
        .build()
        .unwrap();
    let mut calls = Vec::new();
    for i in 0..6 {
        let (client, address, anna) = (client.clone(), app.address.clone(), anna.clone());
        calls.push(tokio::spawn(async move {
            let started = Instant::now();
            let req = if i % 2 == 0 {
                client.get(format!("{address}/v1/balance"))
            } else {
                client
                    .post(format!("{address}/v1/transfers"))
                    .header("idempotency-key", format!("blackhole-{i}"))
                    .json(&json!({"to": "bert", "amount": "1.00", "pin": crate::helpers::PIN}))
            };
            let res = req
                .bearer_auth(&anna)
                .send()
                .await
                .expect("an answer, not a hang");
            let status = res.status().as_u16();
            let retry = res.headers().contains_key("retry-after");
            let problem: serde_json::Value = res.json().await.unwrap_or_default();
            (status, retry, problem, started.elapsed())
        }));
    }
    for call in calls {
        let (status, retry, problem, took) = call.await.unwrap();
        eprintln!(
            "during the blackhole: {status} {} after {took:?}",
            problem["code"]
        );
        assert_eq!(status, 503, "{problem}");
        assert!(retry, "Retry-After");
        assert!(
            ["database_timeout", "database_unavailable"]
                .contains(&problem["code"].as_str().unwrap()),
            "{problem}"
        );
        // The deadline is 2 s, plus a checkout wait of up to 5 s; far from the outage's end.
        assert!(took < Duration::from_secs(10), "{took:?}");
    }

    relay.heal();
    wait_ready(&app).await;
    // Every transfer either committed or did not; their retries settle it exactly once.
    for i in [1, 3, 5] {
        let res = app
            .client
            .post(format!("{}/v1/transfers", app.address))
            .bearer_auth(&anna)
            .header("idempotency-key", format!("blackhole-{i}"))
            .json(&json!({"to": "bert", "amount": "1.00", "pin": crate::helpers::PIN}))
            .send()
            .await
            .unwrap();
        assert_eq!(res.status().as_u16(), 201, "{:?}", res.text().await);
    }
    assert_eq!(app.balance(&anna).await, "47.00");
    assert_eq!(app.ledger_report().await["ok"], true);
}
