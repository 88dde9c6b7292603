//! PIN setting, changing and the blocking rule (5 wrong PINs block for 30 minutes).

use crate::helpers::{TestApp, PASSWORD, PIN};
use chrono::Duration;
use serde_json::json;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

const WRONG: &str = "111112";
const NEW_PIN: &str = "246813";

#[tokio::test]
async fn pin_is_set_with_the_password_and_changed_with_the_old_pin() {
    let app = TestApp::spawn().await;
    app.register_private("hana").await.ok(201);
    let token = app.access_token("hana").await;

    app.put(
        "/v1/me/pin",
        Some(&token),
        json!({"pin": "12345", "password": PASSWORD}),
    )
    .await
    .problem(422, "invalid_pin_format");
    app.put(
        "/v1/me/pin",
        Some(&token),
        json!({"pin": "123456", "password": PASSWORD}),
    )
    .await
    .problem(422, "pin_too_weak");
    app.put(
        "/v1/me/pin",
        Some(&token),
        json!({"pin": PIN, "password": "wrong password!"}),
    )
    .await
    .problem(401, "invalid_credentials");
    app.put("/v1/me/pin", Some(&token), json!({"pin": PIN}))
        .await
        .problem(422, "pin_authorisation_required");
    app.change_pin(&token, PIN, NEW_PIN)
        .await
        .problem(409, "pin_not_set");
    assert_eq!(
        app.get("/v1/me", Some(&token)).await.ok(200)["pin_set"],
        false,
        "refused requests set nothing"
    );

    app.put(
        "/v1/me/pin",
        Some(&token),
        json!({"pin": PIN, "password": PASSWORD}),
    )
    .await
    .ok(204);
    assert_eq!(
        app.get("/v1/me", Some(&token)).await.ok(200)["pin_set"],
        true
    );

    app.change_pin(&token, WRONG, NEW_PIN)
        .await
        .problem(403, "pin_invalid");
    app.change_pin(&token, PIN, NEW_PIN).await.ok(204);
    app.change_pin(&token, PIN, NEW_PIN)
        .await
        .problem(403, "pin_invalid");
    app.change_pin(&token, NEW_PIN, PIN).await.ok(204);
}

#[tokio::test]
async fn five_wrong_pins_block_until_thirty_minutes_pass() {
    let app = TestApp::spawn().await;
    let token = app.wallet_user("ivan").await;

    for remaining in (1..=4).rev() {
        let res = app.change_pin(&token, WRONG, NEW_PIN).await;
        assert_eq!(
            res.problem(403, "pin_invalid")["attempts_remaining"],
            remaining
        );
    }
    app.change_pin(&token, WRONG, NEW_PIN)
        .await
        .problem(403, "pin_blocked");
    // Blocked: even the right PIN is refused, across a restart too.
    app.change_pin(&token, PIN, NEW_PIN)
        .await
        .problem(403, "pin_blocked");
    let app = app.restart().await;
    app.clock.advance(Duration::minutes(29));
    let token = app.access_token("ivan").await;
    app.change_pin(&token, PIN, NEW_PIN)
        .await
        .problem(403, "pin_blocked");

    app.clock
        .advance(Duration::minutes(1) + Duration::seconds(1));
    let token = app.access_token("ivan").await;
    app.change_pin(&token, PIN, NEW_PIN).await.ok(204);
}

#[tokio::test]
async fn a_right_pin_resets_the_counter() {
    let app = TestApp::spawn().await;
    let token = app.wallet_user("jon").await;
    for _ in 0..4 {
        app.change_pin(&token, WRONG, NEW_PIN)
            .await
            .problem(403, "pin_invalid");
    }
    app.change_pin(&token, PIN, PIN).await.ok(204);
    let res = app.change_pin(&token, WRONG, NEW_PIN).await;
    assert_eq!(res.problem(403, "pin_invalid")["attempts_remaining"], 4);
}

#[tokio::test]
async fn twenty_concurrent_wrong_pins_leave_it_blocked() {
    let app = Arc::new(TestApp::spawn().await);
    let token = app.wallet_user("kim").await;
    let tasks: Vec<_> = (0..20)
        .map(|_| {
            let (app, token) = (app.clone(), token.clone());
            tokio::spawn(async move { app.change_pin(&token, WRONG, NEW_PIN).await })
        })
        .collect();
    let mut invalid = 0;
    for t in tasks {
        let res = t.await.unwrap();
        assert_eq!(res.status, 403, "{}", res.body);
        if res.body["code"] == "pin_invalid" {
            invalid += 1;
        } else {
            res.problem(403, "pin_blocked");
        }
    }
    assert_eq!(
        invalid, 4,
        "attempts 1-4 are wrong, the 5th blocks, the rest find it blocked"
    );
    app.change_pin(&token, PIN, NEW_PIN)
        .await
        .problem(403, "pin_blocked");
}

#[tokio::test]
async fn concurrent_right_pins_all_pass() {
    // Checks in flight hold tries only until they resolve: a burst of right PINs waits
    // its turn instead of being refused.
    let app = Arc::new(TestApp::spawn().await);
    let token = app.wallet_user("mia").await;
    let tasks: Vec<_> = (0..12)
        .map(|_| {
            let (app, token) = (app.clone(), token.clone());
            tokio::spawn(async move { app.change_pin(&token, PIN, PIN).await })
        })
        .collect();
    for t in tasks {
        t.await.unwrap().ok(204);
    }
    let res = app.change_pin(&token, WRONG, NEW_PIN).await;
    assert_eq!(res.problem(403, "pin_invalid")["attempts_remaining"], 4);
}

#[tokio::test]
async fn pin_hashing_does_not_block_the_server() {
    let app = Arc::new(TestApp::spawn().await);
    let mut tokens = Vec::new();
    for i in 0..8 {
        tokens.push(app.wallet_user(&format!("user{i}")).await);
    }
    let done = Arc::new(AtomicUsize::new(0));
    let tasks: Vec<_> = tokens
        .into_iter()
        .map(|token| {
            let (app, done) = (app.clone(), done.clone());
            // Each right-PIN change runs two argon2 hashes (verify old, hash new).
            tokio::spawn(async move {
                let res = app.change_pin(&token, PIN, PIN).await;
                done.fetch_add(1, Ordering::SeqCst);
                res
            })
        })
        .collect();
    tokio::task::yield_now().await;
    app.get("/health", None).await.ok(200);
    let finished_when_health_answered = done.load(Ordering::SeqCst);
    for t in tasks {
        t.await.unwrap().ok(204);
    }
    assert!(
        finished_when_health_answered < 8,
        "health answered only after all 8 PIN changes finished"
    );
}

/// Checks left in flight by a process that died hold the wallet's tries until their
/// 30 s lease ends: meanwhile a check waits its 10 s and is refused with 429
/// `pin_check_busy` and `Retry-After`, changing nothing; once the leases end it passes.
#[tokio::test]
async fn checks_left_by_a_dead_process_hold_the_tries_until_their_lease_ends() {
    let app = TestApp::spawn().await;
    let token = app.wallet_user("olga").await;
    app.hold_pin_tries("olga");
    let res = app
        .client
        .put(format!("{}/v1/me/pin", app.address))
        .bearer_auth(&token)
        .json(&json!({"pin": NEW_PIN, "old_pin": PIN}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status().as_u16(), 429);
    assert_eq!(
        res.headers()
            .get("retry-after")
            .and_then(|v| v.to_str().ok()),
        Some("1")
    );
    let body: serde_json::Value = res.json().await.unwrap();
    assert_eq!(body["code"], "pin_check_busy", "{body}");

    app.clock.advance(Duration::seconds(31));
    // The PIN is the old one, and no try was counted against it.
    let res = app.change_pin(&token, WRONG, NEW_PIN).await;
    assert_eq!(res.problem(403, "pin_invalid")["attempts_remaining"], 4);
    app.change_pin(&token, PIN, NEW_PIN).await.ok(204);
}
