//! Rolling API keys: a new token with `previous_valid_for` keeps the earlier ones valid
//! until the grace period ends (to the second, by the test clock and across a restart);
//! the live tokens are listed without their values; one token can be revoked alone.

use crate::helpers::{TestApp, TestDb, PASSWORD};
use crate::process::{wait_healthy, ServerProcess};
use serde_json::{json, Value};

/// Whether `token` is accepted by the list and, given a payment `link` of the shop's, by a
/// status read of it (which loads its caller in its own database turn): both must agree.
async fn works(app: &TestApp, token: &str, link: Option<&str>) -> bool {
    let accepted = |status: u16| match status {
        200 => true,
        401 => false,
        other => panic!("unexpected {other}"),
    };
    let list = accepted(app.get("/v1/money-requests", Some(token)).await.status);
    if let Some(link) = link {
        let read = app
            .get(&format!("/v1/money-requests/{link}"), Some(token))
            .await;
        assert_eq!(list, accepted(read.status), "{}", read.body);
    }
    list
}

async fn token(app: &TestApp, body: Value) -> (String, String) {
    let res = app.post("/v1/auth/tokens", None, body).await;
    let t = res.ok(201);
    (
        t["id"].as_str().unwrap().to_string(),
        t["token"].as_str().unwrap().to_string(),
    )
}

#[tokio::test]
async fn a_new_key_keeps_the_old_one_for_its_grace_period_and_one_key_can_be_revoked_alone() {
    let app = TestApp::spawn().await;
    app.corporate_plus("shop").await;
    let creds = json!({"username": "shop", "password": PASSWORD});
    let (old_id, old) = token(&app, creds.clone()).await;
    let mut rolling = creds.clone();
    rolling["previous_valid_for"] = json!(600);
    let (new_id, new) = token(&app, rolling).await;
    // A payment link for `works` to read.
    let link = app
        .post("/v1/money-requests", Some(&new), json!({"amount": "1.00"}))
        .await
        .ok(201)["id"]
        .as_str()
        .unwrap()
        .to_string();
    let link = Some(link.as_str());
    assert!(works(&app, &old, link).await && works(&app, &new, link).await);

    let listed = app.get("/v1/auth/tokens", Some(&new)).await;
    let data = listed.ok(200)["data"].as_array().unwrap().clone();
    let ids: Vec<&str> = data.iter().map(|t| t["id"].as_str().unwrap()).collect();
    assert_eq!(ids, [new_id.as_str(), old_id.as_str()]);
    assert!(data[0]["revokes_at"].is_null());
    assert!(data[1]["revokes_at"].is_string());
    assert!(
        data.iter().all(|t| t.get("token").is_none()),
        "never the token's value: {data:?}"
    );

    app.clock.advance(chrono::Duration::seconds(599));
    assert!(works(&app, &old, link).await, "inside the grace period");
    app.clock.advance(chrono::Duration::seconds(1));
    assert!(
        !works(&app, &old, link).await,
        "the second the grace period ends"
    );
    assert!(works(&app, &new, link).await);
    let listed = app.get("/v1/auth/tokens", Some(&new)).await;
    assert_eq!(listed.ok(200)["data"].as_array().unwrap().len(), 1);

    // Two live keys again; deleting one kills exactly that one.
    let mut rolling = creds.clone();
    rolling["previous_valid_for"] = json!(3600);
    let (newest_id, newest) = token(&app, rolling).await;
    assert!(works(&app, &new, link).await && works(&app, &newest, link).await);
    app.delete(&format!("/v1/auth/tokens/{new_id}"), Some(&newest))
        .await
        .ok(204);
    assert!(!works(&app, &new, link).await);
    assert!(works(&app, &newest, link).await);
    app.delete(&format!("/v1/auth/tokens/{new_id}"), Some(&newest))
        .await
        .problem(404, "not_found");

    // Revoking the current key by id (with itself: a superseded key may not) leaves the
    // one in its grace period alive.
    let mut rolling = creds.clone();
    rolling["previous_valid_for"] = json!(3600);
    let (_, fourth) = token(&app, rolling).await;
    let listed = app.get("/v1/auth/tokens", Some(&fourth)).await;
    let current = listed.ok(200)["data"][0]["id"]
        .as_str()
        .unwrap()
        .to_string();
    app.delete(&format!("/v1/auth/tokens/{current}"), Some(&newest))
        .await
        .problem(403, "superseded_token");
    app.delete(&format!("/v1/auth/tokens/{current}"), Some(&fourth))
        .await
        .ok(204);
    assert!(!works(&app, &fourth, link).await);
    assert!(works(&app, &newest, link).await);
    let _ = newest_id;

    // Without a grace period every earlier key dies at once (SPEC §3).
    let (_, fifth) = token(&app, creds.clone()).await;
    assert!(!works(&app, &newest, link).await);
    assert!(works(&app, &fifth, link).await);

    // DELETE /v1/auth/tokens revokes all, those in a grace period too.
    let mut rolling = creds.clone();
    rolling["previous_valid_for"] = json!(3600);
    let (_, sixth) = token(&app, rolling).await;
    app.delete("/v1/auth/tokens", Some(&sixth)).await.ok(204);
    assert!(!works(&app, &fifth, link).await && !works(&app, &sixth, link).await);
}

#[tokio::test]
async fn grace_periods_beyond_a_day_or_below_zero_are_refused_and_change_nothing() {
    let app = TestApp::spawn().await;
    app.corporate_plus("shop").await;
    let (_, current) = token(&app, json!({"username": "shop", "password": PASSWORD})).await;
    for bad in [json!(86_401), json!(-1), json!("600"), json!(1.5)] {
        let res = app
            .post(
                "/v1/auth/tokens",
                None,
                json!({"username": "shop", "password": PASSWORD, "previous_valid_for": bad}),
            )
            .await;
        assert_eq!(res.status, 422, "{bad}: {:?}", res.body);
        assert_eq!(res.content_type, "application/problem+json");
    }
    assert!(
        works(&app, &current, None).await,
        "a refused call revoked nothing"
    );
    let listed = app.get("/v1/auth/tokens", Some(&current)).await;
    assert_eq!(listed.ok(200)["data"].as_array().unwrap().len(), 1);
}

/// The grace period lives in the database: after a restart the old key still works
/// inside it and fails once it has passed (real time: tokens do not follow test clocks).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_grace_period_survives_a_restart() {
    let db = TestDb::create();
    let client = reqwest::Client::new();
    let mut server = ServerProcess::start(&db.url(), &[]);
    let base = server.address();
    wait_healthy(&client, &base).await;
    let api = crate::process::Api::new(base.clone());
    let old = api.corporate_plus("shop").await;
    let rotated = api
        .post(
            "/v1/auth/tokens",
            None,
            json!({"username": "shop", "password": PASSWORD, "previous_valid_for": 8}),
        )
        .await;
    let rotated_at = std::time::Instant::now();
    let new = rotated["token"].as_str().unwrap().to_string();
    server.kill();
    server.spawn();
    wait_healthy(&client, &base).await;
    let status = |token: String| {
        let (client, base) = (client.clone(), base.clone());
        async move {
            client
                .get(format!("{base}/v1/money-requests"))
                .bearer_auth(token)
                .send()
                .await
                .unwrap()
                .status()
                .as_u16()
        }
    };
    assert!(rotated_at.elapsed() < std::time::Duration::from_secs(7));
    assert_eq!(status(old.clone()).await, 200, "still in its grace period");
    tokio::time::sleep(std::time::Duration::from_secs(9).saturating_sub(rotated_at.elapsed()))
        .await;
    assert_eq!(status(old).await, 401, "the grace period ended");
    assert_eq!(status(new).await, 200);
    server.kill();
}

/// A superseded key inside its grace period still works, but cannot revoke the new one
/// (nor all): a leaked old key must not lock the shop out. The newest key and the app can.
#[tokio::test]
async fn an_old_key_in_its_grace_period_cannot_revoke_the_new_one() {
    let app = TestApp::spawn().await;
    app.corporate_plus("shop").await;
    let creds = json!({"username": "shop", "password": PASSWORD});
    let (old_id, old) = token(&app, creds.clone()).await;
    let mut rolling = creds.clone();
    rolling["previous_valid_for"] = json!(3600);
    let (new_id, new) = token(&app, rolling).await;
    assert!(works(&app, &old, None).await);
    app.delete(&format!("/v1/auth/tokens/{new_id}"), Some(&old))
        .await
        .problem(403, "superseded_token");
    app.delete("/v1/auth/tokens", Some(&old))
        .await
        .problem(403, "superseded_token");
    // Nor may it change the shop's settings: callbacks, their secret, the hosted page,
    // alerts, auto-reload.
    for (method, path, body) in [
        (
            "PUT",
            "/v1/callback-url",
            json!({"url": "https://evil.example/hook"}),
        ),
        ("POST", "/v1/callback-secret/rotate", json!({})),
        (
            "PUT",
            "/v1/hosted-page",
            json!({"frame_ancestors": ["https://evil.example"]}),
        ),
        (
            "PUT",
            "/v1/me/balance-alert",
            json!({"threshold": "5.00", "recipients": ["x@evil.example"], "enabled": true}),
        ),
        (
            "PUT",
            "/v1/me/auto-reload",
            json!({"enabled": false, "replenish_amount": "10.00", "recurring_amount": "20.00", "provider": "sandbox"}),
        ),
    ] {
        let res = app
            .request(
                method,
                path,
                Some(&old),
                Some(crate::helpers::RawBody::Json(body)),
            )
            .await;
        res.problem(403, "superseded_token");
    }
    assert!(works(&app, &new, None).await, "the new key lives");
    app.put(
        "/v1/hosted-page",
        Some(&new),
        json!({"frame_ancestors": []}),
    )
    .await
    .ok(200);
    // The newest key revokes the old one; the app session could revoke all.
    let res = app
        .delete(&format!("/v1/auth/tokens/{old_id}"), Some(&new))
        .await;
    assert_eq!(res.status, 204);
    assert!(!works(&app, &old, None).await);
    let session = app.access_token("shop").await;
    assert_eq!(
        app.delete("/v1/auth/tokens", Some(&session)).await.status,
        204
    );
    assert!(!works(&app, &new, None).await);
}
