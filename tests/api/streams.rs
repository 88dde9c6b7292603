//! Event streams and connection slots under attack: a flood of stream attempts from many
//! client addresses never starves the API; streams are capped per link, per address and in
//! total (429/503 with `Retry-After`), end after their lifetime with a `retry:` hint, and a
//! wallet's stream ends with its session; one address holds a bounded number of
//! connections (more are closed at once), and under pressure a connection without a head
//! is cut off quickly.

use crate::helpers::TestApp;
use serde_json::json;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpSocket, TcpStream};

/// A connection from `source` (a 127.x address) to the test server.
async fn connect_from(app: &str, source: &str) -> std::io::Result<TcpStream> {
    let socket = TcpSocket::new_v4()?;
    socket.bind(format!("{source}:0").parse().unwrap())?;
    socket
        .connect(app.trim_start_matches("http://").parse().unwrap())
        .await
}

/// Sends `GET path` on `s` and reads what arrives within `wait` (the head and the
/// stream's first bytes).
async fn get_on(s: &mut TcpStream, path: &str, wait: Duration) -> String {
    let head = format!("GET {path} HTTP/1.1\r\nHost: x\r\nAccept: text/event-stream\r\n\r\n");
    if s.write_all(head.as_bytes()).await.is_err() {
        return String::new();
    }
    let mut seen = Vec::new();
    let mut buf = [0u8; 2048];
    let until = tokio::time::Instant::now() + wait;
    while !String::from_utf8_lossy(&seen).contains("\r\n\r\n") || seen.ends_with(b"\r\n\r\n") {
        match tokio::time::timeout_at(until, s.read(&mut buf)).await {
            Ok(Ok(n)) if n > 0 => seen.extend_from_slice(&buf[..n]),
            _ => break,
        }
        let text = String::from_utf8_lossy(&seen);
        if text.contains("event: status") || text.contains(": connected") || text.contains("}") {
            break;
        }
    }
    String::from_utf8_lossy(&seen).into_owned()
}

/// Opens a stream from `source` and keeps the connection: its status code (0: closed
/// without an answer) and the text so far.
async fn open_stream(app: &str, source: &str, path: &str) -> (u16, String, Option<TcpStream>) {
    let Ok(mut s) = connect_from(app, source).await else {
        return (0, String::new(), None);
    };
    let text = get_on(&mut s, path, Duration::from_secs(5)).await;
    let status = text
        .strip_prefix("HTTP/1.1 ")
        .and_then(|t| t.get(..3))
        .and_then(|c| c.parse().ok())
        .unwrap_or(0);
    (status, text, Some(s))
}

/// Opens a stream, retrying while it is refused: a closed stream's place comes free when
/// the server next writes to it (a keep-alive every 5 s), so within 15 s.
async fn open_once_freed(app: &str, source: &str, path: &str) -> String {
    let until = tokio::time::Instant::now() + Duration::from_secs(15);
    loop {
        let (status, text, _) = open_stream(app, source, path).await;
        if status == 200 || tokio::time::Instant::now() > until {
            return text;
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}

async fn shop_with_link(app: &TestApp) -> (String, String) {
    let shop = app.corporate_plus("shop").await;
    let mr = app
        .create_request(&shop, json!({"amount": "12.50", "reference": "order-1"}))
        .await
        .ok(201)
        .clone();
    (shop, mr["id"].as_str().unwrap().to_string())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn ten_thousand_stream_attempts_leave_the_api_answering() {
    let app = TestApp::spawn().await;
    let (shop, id) = shop_with_link(&app).await;
    let path = format!("/pay/{id}/events");
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));

    // The flood: 10 000 attempts from 40 addresses, at most 1 000 in flight; each one
    // that is given a stream holds it until the flood ends.
    let flood = {
        let (address, path, stop) = (app.address.clone(), path.clone(), stop.clone());
        tokio::spawn(async move {
            let limit = std::sync::Arc::new(tokio::sync::Semaphore::new(1000));
            let mut tasks = Vec::new();
            for i in 0..10_000u32 {
                let permit = limit.clone().acquire_owned().await.unwrap();
                let (app, path, stop) = (address.clone(), path.clone(), stop.clone());
                let source = format!("127.0.1.{}", 1 + i % 40);
                tasks.push(tokio::spawn(async move {
                    let (status, _, conn) = open_stream(&app, &source, &path).await;
                    if status == 200 {
                        // Held: wait for the end of the flood with the stream open, and
                        // give the in-flight place back.
                        drop(permit);
                        while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                            tokio::time::sleep(Duration::from_millis(100)).await;
                        }
                    }
                    drop(conn);
                    status
                }));
            }
            let mut counts = std::collections::BTreeMap::new();
            for t in tasks {
                *counts.entry(t.await.unwrap()).or_insert(0u32) += 1;
            }
            counts
        })
    };

    // Meanwhile the API answers within 1 s, again and again (a plain and a signed-in call).
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(1))
        .build()
        .unwrap();
    let mut probes = 0;
    while !flood.is_finished() && probes < 400 {
        let health = client.get(format!("{}/health", app.address)).send().await;
        assert_eq!(health.expect("/health within 1 s").status(), 200);
        let status = client
            .get(format!("{}/v1/money-requests/{id}", app.address))
            .bearer_auth(&shop)
            .send()
            .await
            .expect("the API within 1 s during the flood");
        assert_eq!(status.status(), 200);
        probes += 1;
        if probes == 50 {
            stop.store(true, std::sync::atomic::Ordering::Relaxed);
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    let counts = flood.await.unwrap();
    eprintln!("10 000 stream attempts: {counts:?}; {probes} API probes answered within 1 s");
    let total: u32 = counts.values().sum();
    assert_eq!(total, 10_000);
    // The link's cap held: at most 16 streams at once, so at most 16 answered 200 before
    // the flood's holders let go (later ones may have taken their places).
    assert!(counts.get(&200).copied().unwrap_or(0) >= 1, "{counts:?}");
    assert!(counts.get(&429).copied().unwrap_or(0) > 5000, "{counts:?}");
    assert!(probes >= 50, "the probes ran during the flood");
    // Afterwards the page's stream is served again.
    let text = open_once_freed(&app.address, "127.0.0.1", &path).await;
    assert!(text.starts_with("HTTP/1.1 200"), "{text}");
    assert!(text.contains("retry: 3000"), "{text}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn streams_are_capped_per_address_per_link_and_in_total() {
    let app = TestApp::spawn_with(|c| {
        c.max_streams = 20;
        c.max_streams_per_address = 8;
        c.max_streams_per_subject = 16;
    })
    .await;
    let (shop, a) = shop_with_link(&app).await;
    let mut held = Vec::new();
    for _ in 0..8 {
        let (status, text, conn) =
            open_stream(&app.address, "127.0.2.1", &format!("/pay/{a}/events")).await;
        assert_eq!(status, 200, "{text}");
        held.push(conn);
    }
    // The ninth from the same address.
    let (status, text, _) =
        open_stream(&app.address, "127.0.2.1", &format!("/pay/{a}/events")).await;
    assert_eq!(status, 429, "{text}");
    assert!(
        text.contains("too_many_streams") && text.contains("retry-after: 5"),
        "{text}"
    );
    // Other addresses on the same link, up to its 16.
    for i in 0..8 {
        let (status, _, conn) = open_stream(
            &app.address,
            &format!("127.0.2.{}", 10 + i),
            &format!("/pay/{a}/events"),
        )
        .await;
        assert_eq!(status, 200);
        held.push(conn);
    }
    let (status, text, _) =
        open_stream(&app.address, "127.0.2.30", &format!("/pay/{a}/events")).await;
    assert_eq!(status, 429, "the link's cap: {text}");
    // Another link takes the instance to its 20; the 21st is 503.
    let b = app
        .create_request(&shop, json!({"amount": "3.00"}))
        .await
        .ok(201)["id"]
        .as_str()
        .unwrap()
        .to_string();
    for i in 0..4 {
        let (status, _, conn) = open_stream(
            &app.address,
            &format!("127.0.3.{}", 1 + i),
            &format!("/pay/{b}/events"),
        )
        .await;
        assert_eq!(status, 200);
        held.push(conn);
    }
    let (status, text, _) =
        open_stream(&app.address, "127.0.3.9", &format!("/pay/{b}/events")).await;
    assert_eq!(status, 503, "{text}");
    assert!(
        text.contains("streams_busy") && text.contains("retry-after: 5"),
        "{text}"
    );
    // A closed stream gives its place back.
    held.pop();
    let text = open_once_freed(&app.address, "127.0.3.9", &format!("/pay/{b}/events")).await;
    assert!(text.starts_with("HTTP/1.1 200"), "{text}");
}

/// Reads `s` until the server closes it (at most `wait`): what arrived and whether it closed.
async fn read_to_end(s: &mut TcpStream, wait: Duration) -> (String, bool) {
    let mut seen = Vec::new();
    let mut buf = [0u8; 2048];
    let until = tokio::time::Instant::now() + wait;
    loop {
        match tokio::time::timeout_at(until, s.read(&mut buf)).await {
            Ok(Ok(0)) | Ok(Err(_)) => return (String::from_utf8_lossy(&seen).into(), true),
            Ok(Ok(n)) => seen.extend_from_slice(&buf[..n]),
            Err(_) => return (String::from_utf8_lossy(&seen).into(), false),
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stream_ends_after_its_lifetime_and_tells_the_client_to_reconnect() {
    let app = TestApp::spawn_with(|c| c.stream_lifetime_secs = 1).await;
    let (_shop, id) = shop_with_link(&app).await;
    let (status, text, conn) =
        open_stream(&app.address, "127.0.0.1", &format!("/pay/{id}/events")).await;
    assert_eq!(status, 200);
    assert!(text.contains("retry: 3000\nevent: status"), "{text}");
    let (_, closed) = read_to_end(&mut conn.unwrap(), Duration::from_secs(10)).await;
    assert!(closed, "the stream ends after its lifetime");
    // The client reconnects and gets the status again.
    let (status, text, _) =
        open_stream(&app.address, "127.0.0.1", &format!("/pay/{id}/events")).await;
    assert_eq!(status, 200);
    assert!(text.contains("\"status\":\"pending\""), "{text}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_wallet_stream_ends_when_its_session_expires() {
    let app = TestApp::spawn().await;
    let (shop, _) = shop_with_link(&app).await;
    let anna = app.wallet_user("anna").await;
    let mut s = connect_from(&app.address, "127.0.0.1").await.unwrap();
    let head = format!(
        "GET /v1/wallet/events HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {anna}\r\n\r\n"
    );
    s.write_all(head.as_bytes()).await.unwrap();
    let (text, closed) = read_to_end(&mut s, Duration::from_millis(500)).await;
    assert!(
        !closed && text.contains("retry: 3000\n: connected"),
        "{text}"
    );
    // The 15-minute access token expires; the stream closes within its next look.
    app.clock.advance(chrono::Duration::minutes(16));
    let (_, closed) = read_to_end(&mut s, Duration::from_secs(10)).await;
    assert!(closed, "the stream ends with its session");
    // A request made after the expiry never reaches the closed stream, and the old
    // token opens no new one.
    app.create_request(&shop, json!({"payer": "anna", "amount": "3.00"}))
        .await
        .ok(201);
    assert_eq!(app.get("/v1/wallet/events", Some(&anna)).await.status, 401);
    // Just past its expiry, inside the verifier's few seconds of leeway, the token opens no
    // stream either (it would end at once, and the app reconnect in a loop).
    let fresh = app.access_token("anna").await;
    app.clock.advance(chrono::Duration::seconds(15 * 60 + 2));
    assert_eq!(app.get("/v1/wallet/events", Some(&fresh)).await.status, 401);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_address_holds_a_bounded_number_of_connections() {
    let app = TestApp::spawn_with(|c| c.max_connections_per_address = 4).await;
    let mut held = Vec::new();
    for _ in 0..4 {
        let mut s = connect_from(&app.address, "127.0.4.1").await.unwrap();
        let text = get_on(&mut s, "/health", Duration::from_secs(2)).await;
        assert!(text.starts_with("HTTP/1.1 200"), "{text}");
        held.push(s);
    }
    // The fifth connection from that address is closed as soon as it is accepted: it
    // gets no answer and holds no slot.
    let mut s = connect_from(&app.address, "127.0.4.1").await.unwrap();
    let text = get_on(&mut s, "/health", Duration::from_secs(2)).await;
    assert_eq!(text, "", "no answer over the cap");
    let (_, closed) = read_to_end(&mut s, Duration::from_secs(5)).await;
    assert!(closed, "the connection over the cap is closed");
    // 1 000 more idle connections from one address hold no slots: another client is
    // answered within a second meanwhile.
    let mut flood = Vec::new();
    for _ in 0..1000 {
        if let Ok(s) = connect_from(&app.address, "127.0.4.2").await {
            flood.push(s);
        }
    }
    let quick = reqwest::Client::builder()
        .timeout(Duration::from_secs(1))
        .build()
        .unwrap();
    let health = quick.get(format!("{}/health", app.address)).send().await;
    assert_eq!(health.expect("/health within 1 s").status(), 200);
    drop(flood);
    // Another address is not affected; a closed connection frees a place.
    let res = app.get("/health", None).await;
    assert_eq!(res.status, 200);
    held.pop();
    tokio::time::sleep(Duration::from_millis(300)).await;
    let mut s = connect_from(&app.address, "127.0.4.1").await.unwrap();
    let text = get_on(&mut s, "/health", Duration::from_secs(2)).await;
    assert!(text.starts_with("HTTP/1.1 200"), "{text}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn under_pressure_a_connection_without_a_head_is_cut_off_soon() {
    let app = TestApp::spawn_with(|c| {
        c.max_connections = 10; // per worker: 20 slots, pressure above 10
        c.header_timeout_ms = 30_000;
        c.pressure_timeout_ms = 500;
    })
    .await;
    // A quiet server keeps a connection without a head for the normal deadline.
    let mut first = connect_from(&app.address, "127.0.5.1").await.unwrap();
    first.write_all(b"GET /health HTTP/1.1\r\n").await.unwrap();
    let (_, closed) = read_to_end(&mut first, Duration::from_secs(2)).await;
    assert!(
        !closed,
        "without pressure the normal 30 s head deadline applies"
    );
    // Twelve more idle connections from other addresses: more than half the slots.
    let mut idle = Vec::new();
    for i in 0..12 {
        let mut s = connect_from(&app.address, &format!("127.0.5.{}", 10 + i))
            .await
            .unwrap();
        s.write_all(b"GET /health HTTP/1.1\r\n").await.unwrap();
        idle.push(s);
    }
    tokio::time::sleep(Duration::from_millis(200)).await;
    // Under pressure, a new connection that sends no head is closed after the short
    // deadline, well before the normal 30 s.
    let mut late = connect_from(&app.address, "127.0.5.99").await.unwrap();
    late.write_all(b"GET /health HTTP/1.1\r\n").await.unwrap();
    let (_, closed) = read_to_end(&mut late, Duration::from_secs(10)).await;
    assert!(closed, "a slow head under pressure is cut off");
    // A normal client is still served.
    let res = app.get("/health", None).await;
    assert_eq!(res.status, 200);
}
