//! `Idempotency-Key` on POSTs that create or move money.

use crate::helpers::{TestApp, PIN};
use serde_json::json;
use std::sync::Arc;

#[tokio::test]
async fn a_replay_returns_the_stored_status_and_body() {
    let app = TestApp::spawn().await;
    let shop = app.corporate_plus("shop").await;
    app.wallet_user("anna").await;
    let body = json!({"payer": "anna", "amount": "12.00", "reference": "o-1"});
    let (first, replayed) = app
        .post_with_key("/v1/money-requests", &shop, "key-1", body.clone())
        .await;
    assert!(!replayed);
    let (second, replayed) = app
        .post_with_key("/v1/money-requests", &shop, "key-1", body)
        .await;
    assert!(replayed);
    assert_eq!((second.status, &second.body), (first.status, &first.body));
    assert_eq!(
        app.get("/v1/money-requests", Some(&shop)).await.ok(200)["data"]
            .as_array()
            .unwrap()
            .len(),
        1
    );

    let changed = json!({"payer": "anna", "amount": "13.00", "reference": "o-1"});
    let (res, _) = app
        .post_with_key("/v1/money-requests", &shop, "key-1", changed)
        .await;
    res.problem(422, "idempotency_key_reused");
    let (res, _) = app
        .post_with_key("/v1/money-requests", &shop, &"k".repeat(256), json!({}))
        .await;
    res.problem(400, "invalid_idempotency_key");
}

#[tokio::test]
async fn concurrent_duplicates_create_one_request() {
    let app = Arc::new(TestApp::spawn().await);
    let shop = app.corporate_plus("shop").await;
    app.wallet_user("anna").await;
    let tasks: Vec<_> = (0..10)
        .map(|_| {
            let (app, shop) = (app.clone(), shop.clone());
            tokio::spawn(async move {
                app.post_with_key(
                    "/v1/money-requests",
                    &shop,
                    "dup",
                    json!({"payer": "anna", "amount": "5.00"}),
                )
                .await
                .0
            })
        })
        .collect();
    let mut bodies = Vec::new();
    for t in tasks {
        let res = t.await.unwrap();
        match res.status {
            201 => bodies.push(res.body),
            _ => {
                res.problem(409, "idempotency_key_in_flight");
            }
        }
    }
    assert!(!bodies.is_empty());
    assert!(
        bodies.iter().all(|b| b == &bodies[0]),
        "every success is the same request"
    );
    assert_eq!(
        app.get("/v1/money-requests", Some(&shop)).await.ok(200)["data"]
            .as_array()
            .unwrap()
            .len(),
        1
    );
}

#[tokio::test]
async fn keys_survive_a_restart_and_belong_to_one_caller() {
    let app = TestApp::spawn().await;
    let shop = app.corporate_plus("shop").await;
    let rival = app.corporate_plus("rival").await;
    app.wallet_user("anna").await;
    let body = json!({"payer": "anna", "amount": "9.00"});
    let (first, _) = app
        .post_with_key("/v1/money-requests", &shop, "order-77", body.clone())
        .await;
    first.ok(201);

    let app = app.restart().await;
    let (again, replayed) = app
        .post_with_key("/v1/money-requests", &shop, "order-77", body.clone())
        .await;
    assert!(replayed);
    assert_eq!(again.body, first.body);

    let (theirs, replayed) = app
        .post_with_key("/v1/money-requests", &rival, "order-77", body)
        .await;
    assert!(!replayed);
    assert_eq!(theirs.ok(201)["merchant"], "rival");
    assert_ne!(theirs.body["id"], first.body["id"]);
}

#[tokio::test]
async fn money_movements_replay_too_errors_included() {
    let app = TestApp::spawn().await;
    let anna = app.wallet_user("anna").await;
    app.wallet_user("ben").await;
    let transfer = json!({"to": "ben", "amount": "5.00", "pin": PIN});
    // Refused for funds: the refusal is the stored outcome, even after a deposit.
    let (short, _) = app
        .post_with_key("/v1/transfers", &anna, "t-1", transfer.clone())
        .await;
    short.problem(422, "insufficient_funds");
    app.deposit("anna", "20.00").await.ok(201);
    let (again, replayed) = app
        .post_with_key("/v1/transfers", &anna, "t-1", transfer.clone())
        .await;
    assert!(replayed);
    again.problem(422, "insufficient_funds");

    let (sent, _) = app
        .post_with_key("/v1/transfers", &anna, "t-2", transfer.clone())
        .await;
    sent.ok(201);
    let (resent, replayed) = app
        .post_with_key("/v1/transfers", &anna, "t-2", transfer)
        .await;
    assert!(replayed && resent.body == sent.body);
    assert_eq!(app.balance(&anna).await, "15.00", "one transfer, not two");
}

#[tokio::test]
async fn a_refusal_that_asks_for_a_retry_releases_the_key() {
    let app = TestApp::spawn().await;
    let anna = app.wallet_user("anna").await;
    app.wallet_user("ben").await;
    app.deposit("anna", "20.00").await.ok(201);
    // Five PIN checks left in flight by a dead process hold all of anna's tries.
    app.hold_pin_tries("anna");
    let transfer = json!({"to": "ben", "amount": "5.00", "pin": PIN});
    let (busy, replayed) = app
        .post_with_key("/v1/transfers", &anna, "t-busy", transfer.clone())
        .await;
    assert!(!replayed);
    busy.problem(429, "pin_check_busy");

    // Their lease over, the same key runs the transfer instead of replaying the 429.
    app.clock.advance(chrono::Duration::seconds(31));
    let (sent, replayed) = app
        .post_with_key("/v1/transfers", &anna, "t-busy", transfer.clone())
        .await;
    assert!(!replayed);
    sent.ok(201);
    let (again, replayed) = app
        .post_with_key("/v1/transfers", &anna, "t-busy", transfer)
        .await;
    assert!(replayed && again.body == sent.body);
    assert_eq!(app.balance(&anna).await, "15.00", "one transfer, not two");
}

#[tokio::test]
async fn keys_expire_after_24_hours() {
    let app = TestApp::spawn().await;
    let shop = app.corporate_plus("shop").await;
    app.wallet_user("anna").await;
    let body = json!({"payer": "anna", "amount": "3.00"});
    let (first, _) = app
        .post_with_key("/v1/money-requests", &shop, "daily", body.clone())
        .await;
    app.clock.advance(chrono::Duration::hours(25));
    let (later, replayed) = app
        .post_with_key("/v1/money-requests", &shop, "daily", body)
        .await;
    assert!(!replayed);
    assert_ne!(later.ok(201)["id"], first.body["id"]);
}

#[tokio::test]
async fn a_request_the_client_gave_up_on_completes_once_and_replays() {
    let app = TestApp::spawn().await;
    let anna = app.wallet_user("anna").await;
    app.wallet_user("ben").await;
    app.deposit("anna", "20.00").await.ok(201);
    let body = json!({"to": "ben", "amount": "5.00", "pin": PIN});

    // The client hangs up after 1 ms, as a rule before the PIN check and the booking are
    // done. A keyed PIN check takes microseconds, so now and then the answer comes first:
    // then it is the transfer's 201, and everything below holds the same.
    let impatient = app
        .client
        .post(format!("{}/v1/transfers", app.address))
        .bearer_auth(&anna)
        .header("Idempotency-Key", "gone")
        .timeout(std::time::Duration::from_millis(1))
        .json(&body)
        .send()
        .await;
    if let Ok(answered) = &impatient {
        assert_eq!(
            answered.status(),
            201,
            "an answer before the hang-up is the transfer's"
        );
    }

    // Retrying with the same key: 409 while the first still runs, then its stored result;
    // or, when the hang-up came before the server claimed the key, a first execution.
    let mut outcome = None;
    for _ in 0..200 {
        let (res, replayed) = app
            .post_with_key("/v1/transfers", &anna, "gone", body.clone())
            .await;
        if res.status == 409 {
            res.problem(409, "idempotency_key_in_flight");
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
            continue;
        }
        outcome = Some((res, replayed));
        break;
    }
    let (res, _replayed) = outcome.expect("the key did not stay in flight");
    res.ok(201);
    // Either way the transfer ran exactly once.
    assert_eq!(app.balance(&anna).await, "15.00");
    let transfers = app.get("/v1/transactions?kind=transfer", Some(&anna)).await;
    assert_eq!(transfers.ok(200)["data"].as_array().unwrap().len(), 1);
    let (again, replayed) = app
        .post_with_key("/v1/transfers", &anna, "gone", body)
        .await;
    assert!(
        replayed && again.body == res.body,
        "later retries replay the stored outcome"
    );
}
