//! Settings from the environment, given to the real binary: each one read and seen to
//! take effect over HTTP (README's configuration table).

use crate::helpers::{TestDb, PASSWORD, PIN};
use crate::process::{wait_healthy, Api, ServerProcess};
use crate::receiver::Receiver;
use crate::smtp;
use serde_json::json;
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// Sends `head` on a raw connection and returns what the server answered (empty if it
/// closed the connection without a word), failing if nothing happened within 5 s.
async fn cut_off(base: &str, head: &str) -> String {
    let mut s = tokio::net::TcpStream::connect(base.trim_start_matches("http://"))
        .await
        .unwrap();
    s.write_all(head.as_bytes()).await.unwrap();
    let mut buf = vec![0u8; 2048];
    let n = tokio::time::timeout(Duration::from_secs(5), s.read(&mut buf))
        .await
        .expect("answered or closed before 5 s")
        .unwrap_or(0);
    String::from_utf8_lossy(&buf[..n]).into_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn settings_from_the_environment_take_effect() {
    let db = TestDb::create();
    // Started as systemd starts services: a soft limit on open files below the
    // connections the server accepts (2 workers x 1024).
    let hard = open_files_limits(std::process::id()).1;
    assert!(
        hard > 1024,
        "this machine's hard limit on open files is {hard}"
    );
    let server = ServerProcess::start_with_open_files(
        &db.url(),
        &[
            ("PINPAY_PUBLIC_URL", "https://pay.example.test/"),
            ("PINPAY_APP_TOKEN_TTL_SECS", "120"),
            ("PINPAY_LOGIN_FREE_FAILURES_PER_ACCOUNT", "1"),
            ("PINPAY_BODY_TIMEOUT_MS", "300"),
            ("PINPAY_LISTEN_BACKLOG", "777"),
        ],
        Some(1024),
    );
    let api = Api::new(server.address());
    wait_healthy(&api.client, &api.base).await;
    let shop = api.corporate_plus("shop").await;
    let link = api
        .post("/v1/money-requests", Some(&shop), json!({"amount": "1.00"}))
        .await;
    let pay_url = link["pay_url"].as_str().unwrap();
    assert!(
        pay_url.starts_with("https://pay.example.test/pay/mr_"),
        "{pay_url}"
    );
    let session = api
        .post(
            "/v1/sessions",
            None,
            json!({"username": "shop", "password": PASSWORD}),
        )
        .await;
    assert_eq!(session["expires_in"], 120);

    // One free failure per account: the next attempt backs off.
    let login = |password: &'static str| {
        api.client
            .post(format!("{}/v1/sessions", api.base))
            .json(&json!({"username": "shop", "password": password}))
            .send()
    };
    assert_eq!(login("wrong password!").await.unwrap().status(), 401);
    let refused = login(PASSWORD).await.unwrap();
    assert_eq!(refused.status(), 429);
    assert_eq!(refused.headers()["retry-after"], "1");

    // A body that stops arriving is cut off after 300 ms.
    let started = Instant::now();
    let head = "POST /v1/sessions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 50\r\n\r\n{";
    let answer = cut_off(&api.base, head).await;
    assert!(answer.starts_with("HTTP/1.1 408"), "{answer}");
    assert!(started.elapsed() < Duration::from_secs(3));

    // The listening socket queues 777 connections (`ss` shows a listener's backlog as
    // its Send-Q; iproute2).
    let port = api.base.rsplit(':').next().unwrap();
    let ss = std::process::Command::new("ss")
        .args(["-ltnH", &format!("sport = :{port}")])
        .output()
        .expect("ss runs (install iproute2)");
    let line = String::from_utf8(ss.stdout).unwrap();
    let send_q: Vec<&str> = line.split_whitespace().collect();
    assert_eq!(send_q.get(2), Some(&"777"), "{line}");

    // The server raised its soft limit on open files to the hard limit.
    assert_eq!(open_files_limits(server.pid()), (hard, hard));
}

/// A process's soft and hard limits on open files, from `/proc/<pid>/limits`.
fn open_files_limits(pid: u32) -> (u64, u64) {
    let limits = std::fs::read_to_string(format!("/proc/{pid}/limits")).unwrap();
    let line = limits
        .lines()
        .find(|l| l.starts_with("Max open files"))
        .expect("a line for open files");
    let numbers: Vec<u64> = line
        .split_whitespace()
        .filter_map(|w| w.parse().ok())
        .collect();
    (numbers[0], numbers[1])
}

/// The fee table, the calendar's time zone, the SMS gateway, the SMTP server, the request
/// head timeout, the API token lifetime and the pepper, each given to the binary.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn tiers_zone_notifiers_head_timeout_token_lifetime_and_pepper_are_read() {
    let db = TestDb::create();
    let dir = std::env::temp_dir().join(format!("pinpay-settings-{}", Receiver::free_port()));
    std::fs::create_dir_all(&dir).unwrap();
    let mut table: serde_json::Value =
        serde_json::from_str(include_str!("../../src/domain/tiers.json")).unwrap();
    table["corporate_plus"]["fees"]["receive_percent"] = json!("3.0");
    let tiers = dir.join("tiers.json");
    std::fs::write(&tiers, table.to_string()).unwrap();
    let gateway = Receiver::start().await;
    let sms_url = format!("{}/sms", gateway.url());
    let smtp_port = Receiver::free_port();
    let mails = smtp::start(smtp_port).await;
    let smtp_port = smtp_port.to_string();
    let tiers = tiers.display().to_string();
    let with_pepper = |pepper: &'static str| {
        vec![
            ("PINPAY_TIERS_FILE", tiers.as_str()),
            ("PINPAY_TIMEZONE", "America/New_York"),
            ("PINPAY_SMS_URL", sms_url.as_str()),
            ("PINPAY_SMS_TOKEN", "gateway-secret-token"),
            ("PINPAY_SMS_SENDER", "Settings Shop"),
            ("PINPAY_SMTP_HOST", "127.0.0.1"),
            ("PINPAY_SMTP_PORT", smtp_port.as_str()),
            ("PINPAY_SMTP_TLS", "none"),
            ("PINPAY_SMTP_FROM", "Settings Shop <links@settings.test>"),
            ("PINPAY_HEADER_TIMEOUT_MS", "1000"),
            ("PINPAY_API_TOKEN_TTL_SECS", "600"),
            ("PINPAY_PEPPER", pepper),
        ]
    };
    const PEPPER: &str = "first-pepper-0123456789abcdef0123456789";
    let mut server = ServerProcess::start(&db.url(), &with_pepper(PEPPER));
    let mut api = Api::new(server.address());
    api.mailbox = mails.clone();
    wait_healthy(&api.client, &api.base).await;

    // API tokens live 600 s instead of 30 days.
    api.corporate_plus("shop").await;
    let issued = api
        .post(
            "/v1/auth/tokens",
            None,
            json!({"username": "shop", "password": PASSWORD}),
        )
        .await;
    let shop = issued["token"].as_str().unwrap().to_string();
    let expires: chrono::DateTime<chrono::Utc> =
        issued["expires_at"].as_str().unwrap().parse().unwrap();
    let left = (expires - chrono::Utc::now()).num_seconds();
    assert!((540..=600).contains(&left), "token lives {left} s");

    // The fee table from the file: 3 % + 0.15 on 10.00.
    let anna = api.wallet("anna", "100.00").await;
    let mr = api
        .post(
            "/v1/money-requests",
            Some(&shop),
            json!({"payer": "anna", "amount": "10.00"}),
        )
        .await;
    let id = mr["id"].as_str().unwrap();
    api.post(
        &format!("/v1/wallet/money-requests/{id}/approve"),
        Some(&anna),
        json!({"pin": PIN}),
    )
    .await;
    let approved = api.get(&format!("/v1/money-requests/{id}"), &shop).await;
    assert_eq!(approved["status"], "approved");
    assert_eq!(approved["fee"], "0.45", "{approved}");

    // The hosted page writes times in New York's zone.
    let link = api
        .post("/v1/money-requests", Some(&shop), json!({"amount": "5.00"}))
        .await;
    let id = link["id"].as_str().unwrap();
    let page = api
        .client
        .get(format!("{}/pay/{id}?lang=en", api.base))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(page.contains(" EST") && !page.contains(" CET"), "{page}");

    // Links go out through the configured SMS gateway and SMTP server.
    let path = format!("/v1/money-requests/{id}/send");
    let send = |body: serde_json::Value| api.post(&path, Some(&shop), body);
    send(json!({"channel": "sms", "to": "+4915112345678"})).await;
    let sms = &gateway.wait_for(1).await[0];
    assert_eq!(sms.json()["from"], "Settings Shop");
    assert_eq!(sms.authorization, "Bearer gateway-secret-token");
    send(json!({"channel": "email", "to": "anna@example.com"})).await;
    let deadline = Instant::now() + Duration::from_secs(10);
    let to_anna = || {
        let mails = mails.lock().unwrap();
        mails.iter().find(|m| m.to == "anna@example.com").cloned()
    };
    while to_anna().is_none() {
        assert!(Instant::now() < deadline, "no e-mail arrived");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let mail = to_anna().unwrap();
    assert_eq!(mail.to, "anna@example.com");
    let from = mail.data.lines().find(|l| l.starts_with("From:")).unwrap();
    assert!(
        from.contains("Settings Shop") && from.contains("<links@settings.test>"),
        "{from}"
    );

    // A request head that stops arriving is dropped after 1 s, not the default 5 s (a
    // shorter setting timed out the test's own requests on a loaded CI machine).
    let started = Instant::now();
    cut_off(&api.base, "GET /health HTTP/1.1\r\nHost: x\r\n").await;
    assert!(started.elapsed() < Duration::from_secs(3));

    // Passwords are hashed with the pepper: another pepper cannot check them.
    let login = |api: &Api| {
        api.client
            .post(format!("{}/v1/sessions", api.base))
            .json(&json!({"username": "anna", "password": PASSWORD}))
            .send()
    };
    server.kill();
    let other = ServerProcess::start(
        &db.url(),
        &with_pepper("other-pepper-0123456789abcdef0123456789"),
    );
    let api = Api::new(other.address());
    wait_healthy(&api.client, &api.base).await;
    assert_eq!(login(&api).await.unwrap().status(), 401);
    drop(other);
    let same = ServerProcess::start(&db.url(), &with_pepper(PEPPER));
    let api = Api::new(same.address());
    wait_healthy(&api.client, &api.base).await;
    assert_eq!(login(&api).await.unwrap().status(), 201);
    let _ = std::fs::remove_dir_all(dir);
}

/// `PINPAY_LOG_FORMAT=json`: one JSON object a line; request lines carry the request id,
/// route template, status, latency and the caller's account; a failed callback is a
/// warning with the event and merchant. Text logs written to a file carry no colour codes.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn logs_are_json_lines_with_request_fields_or_text_without_colour() {
    let db = TestDb::create();
    let dead = Receiver::free_port();
    let server = ServerProcess::start(&db.url(), &[("PINPAY_LOG_FORMAT", "json")]);
    let api = Api::new(server.address());
    wait_healthy(&api.client, &api.base).await;
    let shop = api.corporate_plus("shop").await;
    let url = format!("http://127.0.0.1:{dead}/callbacks");
    api.put("/v1/callback-url", &shop, json!({ "url": url }))
        .await;
    let link = api
        .post("/v1/money-requests", Some(&shop), json!({"amount": "2.00"}))
        .await;
    let id = link["id"].as_str().unwrap().to_string();
    api.post(
        &format!("/v1/money-requests/{id}/cancel"),
        Some(&shop),
        json!({}),
    )
    .await;
    let deadline = Instant::now() + Duration::from_secs(10);
    let lines: Vec<serde_json::Value> = loop {
        let lines: Vec<serde_json::Value> = server
            .log_text()
            .lines()
            .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON ({e}): {l}")))
            .collect();
        let warned = lines
            .iter()
            .any(|l| l["fields"]["message"] == "callback delivery failed");
        if warned || Instant::now() > deadline {
            break lines;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    let cancel = lines
        .iter()
        .find(|l| l["fields"]["route"] == "/v1/money-requests/:id/cancel")
        .expect("the cancel's request line");
    let fields = &cancel["fields"];
    assert_eq!(cancel["level"], "INFO");
    assert_eq!(fields["status"], 200);
    assert!(fields["request_id"].as_str().unwrap().starts_with("req_"));
    assert!(fields["elapsed_ms"].is_u64());
    assert!(fields["account"].is_i64(), "{cancel}");
    let failed = lines
        .iter()
        .find(|l| l["fields"]["message"] == "callback delivery failed")
        .expect("a warning for the failed callback");
    assert_eq!(failed["level"], "WARN");
    assert!(failed["fields"]["event"]
        .as_str()
        .unwrap()
        .starts_with("evt_"));
    assert_eq!(failed["fields"]["merchant"], fields["account"]);
    assert!(
        !server.log_text().contains("whsec_"),
        "no secrets in the log"
    );
    drop(server);

    let text = ServerProcess::start(&db.url(), &[("PINPAY_LOG_FORMAT", "text")]);
    let api = Api::new(text.address());
    wait_healthy(&api.client, &api.base).await;
    api.get("/v1/callbacks", &shop).await;
    let log = text.log_text();
    assert!(log.contains("request"), "{log}");
    assert!(!log.contains('\u{1b}'), "colour codes in a log file: {log}");
}
