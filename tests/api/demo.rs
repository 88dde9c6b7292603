//! `pinpay demo`: seeds a merchant and a wallet, prints a flow that runs as pasted against
//! the address the server listens on, and keeps earlier tokens valid when run again.

use crate::helpers::{TestDb, JWT_SECRET};
use crate::process::{wait_healthy, ServerProcess};
use crate::receiver::Receiver;
use std::process::Command;

fn demo(db_url: &str, port: u16, dir: &std::path::Path) -> serde_json::Value {
    demo_with(db_url, port, dir, Some(JWT_SECRET))
}

/// `pinpay demo --json` in `dir` with only these settings (`secret`: PINPAY_JWT_SECRET).
fn demo_with(
    db_url: &str,
    port: u16,
    dir: &std::path::Path,
    secret: Option<&str>,
) -> serde_json::Value {
    let mut command = Command::new(env!("CARGO_BIN_EXE_pinpay"));
    command
        .args(["demo", "--json"])
        .current_dir(dir)
        .env_clear()
        .env("DATABASE_URL", db_url)
        .env("PINPAY_BIND", format!("127.0.0.1:{port}"));
    if let Some(secret) = secret {
        command.env("PINPAY_JWT_SECRET", secret);
    }
    let out = command.output().expect("run pinpay demo");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).expect("demo --json prints JSON")
}

/// A fresh database, a folder to run the demo in, and a server process on them with
/// `extra` settings, healthy; and its port.
async fn server_and_folder(
    extra: &[(&str, &str)],
) -> (TestDb, std::path::PathBuf, ServerProcess, u16) {
    let db = TestDb::create();
    let dir = std::env::temp_dir().join(format!("pinpay-demo-{}", Receiver::free_port()));
    std::fs::create_dir_all(&dir).unwrap();
    let server = ServerProcess::start(&db.url(), extra);
    let port: u16 = server
        .address()
        .rsplit(':')
        .next()
        .unwrap()
        .parse()
        .unwrap();
    wait_healthy(&reqwest::Client::new(), &server.address()).await;
    (db, dir, server, port)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_demo_flow_runs_as_printed_and_a_second_run_keeps_the_first_token() {
    let (db, dir, server, port) = server_and_folder(&[]).await;
    let first = demo(&db.url(), port, &dir);
    let second = demo(&db.url(), port, &dir);
    assert_eq!(first["base_url"], server.address());
    assert_eq!(
        second["commands"].as_array().unwrap().len(),
        first["commands"].as_array().unwrap().len()
    );

    // The printed commands, pasted into a shell with the first run's tokens.
    let mut script: Vec<String> = first["commands"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c.as_str().unwrap().to_string())
        .collect();
    script.push("echo; echo STATUS=$(curl -s $BASE/v1/money-requests/$ID -H \"Authorization: Bearer $SHOP\" | sed -E 's/.*\"status\":\"([a-z]+)\".*/\\1/')".into());
    let out = Command::new("bash")
        .args(["-c", &script.join("\n")])
        .output()
        .expect("run the printed flow");
    let printed = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{printed}");
    assert!(
        printed.contains("STATUS=approved"),
        "the pasted flow approved the request with the first run's token: {printed}"
    );
    assert!(!printed.contains("<id>"));
    // Without a callback URL the approval's event fails, and the log says how to set one
    // (read again until the worker has recorded it).
    let shop = first["merchant_api_token"].as_str().unwrap();
    let client = reqwest::Client::new();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
    loop {
        let log: serde_json::Value = client
            .get(format!("{}/v1/callbacks", server.address()))
            .bearer_auth(shop)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        let told = log["data"][0]["last_error"]
            .as_str()
            .is_some_and(|e| e.contains("PUT /v1/callback-url"));
        if told {
            break;
        }
        assert!(std::time::Instant::now() < deadline, "{log}");
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    let _ = std::fs::remove_dir_all(dir);
}

/// The newcomer's trap: the server is already running (with a secret of its own) when
/// `pinpay demo` runs without PINPAY_JWT_SECRET. The demo finds the server, has it issue
/// the tokens, leaves .env alone, and the pasted flow works; a failing call stops the
/// flow instead of turning the problem into `$ID`.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_demo_run_beside_a_running_server_uses_the_servers_tokens() {
    let secret = (
        "PINPAY_JWT_SECRET",
        "a-secret-only-the-running-server-knows-0123456789",
    );
    let (db, dir, _server, port) = server_and_folder(&[secret]).await;
    let seeded = demo_with(&db.url(), port, &dir, None);
    assert!(
        !dir.join(".env").exists(),
        "no new secret written beside a running server"
    );
    let mut script: Vec<String> = seeded["commands"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c.as_str().unwrap().to_string())
        .collect();
    script.push("echo; echo STATUS=$(curl -s $BASE/v1/money-requests/$ID -H \"Authorization: Bearer $SHOP\" | sed -E 's/.*\"status\":\"([a-z]+)\".*/\\1/')".into());
    let run = |script: String| {
        let out = Command::new("bash").args(["-c", &script]).output().unwrap();
        String::from_utf8_lossy(&out.stdout).into_owned()
    };
    let printed = run(script.join("\n"));
    assert!(printed.contains("STATUS=approved"), "{printed}");
    // With a token the server refuses, the flow stops at the first call.
    let broken = script
        .iter()
        .map(|line| {
            if line.starts_with("export SHOP=") {
                "export SHOP=not-a-token".to_string()
            } else {
                line.clone()
            }
        })
        .collect::<Vec<_>>()
        .join("\n");
    let printed = run(broken);
    assert!(
        printed.contains("STOPPED, the server answered"),
        "{printed}"
    );
    assert!(!printed.contains("\"pin\""), "{printed}");
    let _ = std::fs::remove_dir_all(dir);
}
