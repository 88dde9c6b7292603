//! App sessions, merchant API tokens and the JWT rules (RFC 8725).

use crate::helpers::{TestApp, JWT_SECRET, PIN};
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use chrono::Duration;
use jsonwebtoken::{encode, Algorithm, EncodingKey, Header};
use serde_json::{json, Value};

#[tokio::test]
async fn api_tokens_need_corporate_plus_and_each_new_one_revokes_the_last() {
    let app = TestApp::spawn().await;
    app.register_merchant("shop").await.ok(201);
    app.create_api_token("shop")
        .await
        .problem(403, "api_access_requires_corporate_plus");

    app.onboard("shop").await;
    let first = app.create_api_token("shop").await.ok(201)["token"]
        .as_str()
        .unwrap()
        .to_string();
    assert_eq!(
        app.get("/v1/me", Some(&first)).await.ok(200)["kind"],
        "corporate_plus"
    );

    let second = app.create_api_token("shop").await.ok(201)["token"]
        .as_str()
        .unwrap()
        .to_string();
    app.get("/v1/me", Some(&first))
        .await
        .problem(401, "unauthenticated");
    app.get("/v1/me", Some(&second)).await.ok(200);

    let app = app.restart().await;
    app.get("/v1/me", Some(&first))
        .await
        .problem(401, "unauthenticated");
    app.get("/v1/me", Some(&second)).await.ok(200);

    app.delete("/v1/auth/tokens", Some(&second)).await.ok(204);
    app.get("/v1/me", Some(&second))
        .await
        .problem(401, "unauthenticated");
}

#[tokio::test]
async fn downgrade_revokes_api_access() {
    let app = TestApp::spawn().await;
    let token = app.corporate_plus("shop").await;
    app.set_tier("shop", "corporate").await.ok(200);
    app.get("/v1/me", Some(&token))
        .await
        .problem(401, "unauthenticated");
    app.set_tier("shop", "corporate_plus").await.ok(200);
    app.get("/v1/me", Some(&token))
        .await
        .problem(401, "unauthenticated");
}

fn split(token: &str) -> (String, Value, String) {
    let parts: Vec<&str> = token.split('.').collect();
    let claims = serde_json::from_slice(&URL_SAFE_NO_PAD.decode(parts[1]).unwrap()).unwrap();
    (parts[0].to_string(), claims, parts[2].to_string())
}

#[tokio::test]
async fn forged_and_misused_tokens_get_401() {
    let app = TestApp::spawn().await;
    let api_token = app.corporate_plus("shop").await;
    let app_token = app.wallet_user("erin").await;
    let session = app.login("erin").await;

    // A tampered signature.
    let (header, claims, sig) = split(&app_token);
    let flipped = if sig.starts_with('A') {
        sig.replacen('A', "B", 1)
    } else {
        format!("A{}", &sig[1..])
    };
    let tampered = format!(
        "{header}.{}.{flipped}",
        URL_SAFE_NO_PAD.encode(serde_json::to_vec(&claims).unwrap())
    );
    // A tampered payload with the original signature.
    let mut elevated = claims.clone();
    elevated["sub"] = json!("1");
    let swapped = format!(
        "{header}.{}.{sig}",
        URL_SAFE_NO_PAD.encode(serde_json::to_vec(&elevated).unwrap())
    );
    // alg = none, no signature.
    let none_header = URL_SAFE_NO_PAD.encode(br#"{"alg":"none","typ":"JWT"}"#);
    let unsigned = format!(
        "{none_header}.{}.",
        URL_SAFE_NO_PAD.encode(serde_json::to_vec(&claims).unwrap())
    );
    // Right secret, wrong algorithm.
    let hs512 = encode(
        &Header::new(Algorithm::HS512),
        &claims,
        &EncodingKey::from_secret(JWT_SECRET.as_bytes()),
    )
    .unwrap();
    // Right algorithm and secret, but a claim missing.
    let mut no_jti = claims.clone();
    no_jti.as_object_mut().unwrap().remove("jti");
    let missing_claim = encode(
        &Header::new(Algorithm::HS256),
        &no_jti,
        &EncodingKey::from_secret(JWT_SECRET.as_bytes()),
    )
    .unwrap();
    let refresh = session["refresh_token"].as_str().unwrap().to_string();

    // The control: the same route accepts the genuine token.
    app.get("/v1/me", Some(&app_token)).await.ok(200);
    for bad in [
        &tampered,
        &swapped,
        &unsigned,
        &hs512,
        &missing_claim,
        &refresh,
        &"garbage".to_string(),
    ] {
        app.get("/v1/me", Some(bad))
            .await
            .problem(401, "unauthenticated");
    }
    app.get("/v1/me", None)
        .await
        .problem(401, "unauthenticated");

    // One audience per token kind (bulk entry is for the merchant API only).
    app.post(
        "/v1/money-requests/bulk",
        Some(&app_token),
        json!({"requests": []}),
    )
    .await
    .problem(401, "unauthenticated");
    app.put(
        "/v1/me/pin",
        Some(&api_token),
        json!({"pin": "246813", "old_pin": PIN}),
    )
    .await
    .problem(401, "unauthenticated");
}

#[tokio::test]
async fn access_tokens_expire_by_the_clock_and_refresh_rotates() {
    let app = TestApp::spawn().await;
    app.register_private("frank").await.ok(201);
    let session = app.login("frank").await;
    let access = session["access_token"].as_str().unwrap();
    assert_eq!(session["expires_in"], 900);
    app.get("/v1/me", Some(access)).await.ok(200);

    app.clock.advance(Duration::minutes(16));
    app.get("/v1/me", Some(access))
        .await
        .problem(401, "unauthenticated");

    let refresh = session["refresh_token"].as_str().unwrap();
    let renewed = app
        .post(
            "/v1/sessions/refresh",
            None,
            json!({"refresh_token": refresh}),
        )
        .await;
    let renewed = renewed.ok(201).clone();
    app.get("/v1/me", Some(renewed["access_token"].as_str().unwrap()))
        .await
        .ok(200);
    assert_ne!(renewed["refresh_token"], session["refresh_token"]);

    // The spent refresh token replayed later (past the parallel-refresh grace) is
    // refused, and its reuse ends the whole family.
    app.clock.advance(Duration::seconds(11));
    app.post(
        "/v1/sessions/refresh",
        None,
        json!({"refresh_token": refresh}),
    )
    .await
    .problem(401, "unauthenticated");
    app.post(
        "/v1/sessions/refresh",
        None,
        json!({"refresh_token": renewed["refresh_token"]}),
    )
    .await
    .problem(401, "unauthenticated");
}

#[tokio::test]
async fn refresh_tokens_expire() {
    let app = TestApp::spawn().await;
    app.register_private("gina").await.ok(201);
    let session = app.login("gina").await;
    app.clock.advance(Duration::days(31));
    app.post(
        "/v1/sessions/refresh",
        None,
        json!({"refresh_token": session["refresh_token"]}),
    )
    .await
    .problem(401, "unauthenticated");
}

#[tokio::test]
async fn parallel_refreshes_with_one_token_leave_the_winner_signed_in() {
    let app = std::sync::Arc::new(TestApp::spawn().await);
    app.register_private("gina").await.ok(201);
    let session = app.login("gina").await;
    let refresh = session["refresh_token"].as_str().unwrap().to_string();
    let tasks: Vec<_> = (0..10)
        .map(|_| {
            let (app, refresh) = (app.clone(), refresh.clone());
            tokio::spawn(async move {
                app.post(
                    "/v1/sessions/refresh",
                    None,
                    json!({"refresh_token": refresh}),
                )
                .await
            })
        })
        .collect();
    let mut winners = Vec::new();
    for t in tasks {
        let res = t.await.unwrap();
        if res.status == 201 {
            winners.push(res.body);
        } else {
            res.problem(401, "unauthenticated");
        }
    }
    assert_eq!(winners.len(), 1, "exactly one parallel refresh rotates");
    let next = app
        .post(
            "/v1/sessions/refresh",
            None,
            json!({"refresh_token": winners[0]["refresh_token"]}),
        )
        .await;
    next.ok(201);
}
