//! Slow clients: many connections trickling their bodies (or their headers) are cut off
//! after the configured time, so the bounded connection slots come free and a normal
//! client is still served.

use crate::helpers::TestApp;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// Sends a request head announcing a body, then one byte of it every 200 ms (at most
/// 50 bytes, so the loop ends by itself); returns what the server answered, if anything.
async fn slow_body(address: String) -> String {
    let Ok(mut s) = TcpStream::connect(address.trim_start_matches("http://")).await else {
        return String::new();
    };
    let head = "POST /v1/sessions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n";
    if s.write_all(head.as_bytes()).await.is_err() {
        return String::new();
    }
    let mut answer = Vec::new();
    for _ in 0..50 {
        if s.write_all(b" ").await.is_err() {
            break;
        }
        let mut buf = [0u8; 1024];
        match tokio::time::timeout(Duration::from_millis(200), s.read(&mut buf)).await {
            Ok(Ok(0)) | Ok(Err(_)) => break,
            Ok(Ok(n)) => answer.extend_from_slice(&buf[..n]),
            Err(_) => {}
        }
    }
    String::from_utf8_lossy(&answer).into_owned()
}

/// Opens a connection and sends half a request head, then nothing (at most 10 s).
async fn slow_head(address: String) -> bool {
    let Ok(mut s) = TcpStream::connect(address.trim_start_matches("http://")).await else {
        return false;
    };
    let _ = s.write_all(b"GET /health HTTP/1.1\r\nHost: x\r\n").await;
    let mut buf = [0u8; 1024];
    // The server closes it (or answers 408) once the head timeout has passed.
    tokio::time::timeout(Duration::from_secs(10), s.read(&mut buf))
        .await
        .is_ok()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn many_slow_connections_do_not_stop_a_normal_client() {
    let app = TestApp::spawn_with(|c| {
        c.max_connections = 25; // per worker; the test harness runs 2 workers
        c.body_timeout_ms = 1000;
        c.header_timeout_ms = 1000;
    })
    .await;
    let mut slow = Vec::new();
    for _ in 0..60 {
        slow.push(tokio::spawn(slow_body(app.address.clone())));
    }
    let mut heads = Vec::new();
    for _ in 0..20 {
        heads.push(tokio::spawn(slow_head(app.address.clone())));
    }
    tokio::time::sleep(Duration::from_millis(300)).await;

    // All 50 slots are taken by slow clients now; a normal client is served once the
    // timeouts free them (bounded here at 6 s; without them it would wait until the slow
    // clients give up by themselves, after 10 s).
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(6))
        .build()
        .unwrap();
    let res = client
        .get(format!("{}/health", app.address))
        .send()
        .await
        .expect("a normal client is served while slow clients hold connections");
    assert_eq!(res.status(), 200);

    let mut timed_out = 0;
    for task in slow {
        let answer = task.await.unwrap();
        if answer.starts_with("HTTP/1.1 408") {
            assert!(answer.contains("request_timeout"), "{answer}");
            timed_out += 1;
        }
    }
    assert!(
        timed_out > 0,
        "slow bodies are answered 408 request_timeout"
    );
    for task in heads {
        assert!(task.await.unwrap(), "a slow head is closed by the server");
    }
}
