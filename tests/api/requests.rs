//! Money requests end to end: create, approve with the PIN, decline, cancel, expiry,
//! refunds, isolation and concurrency.

use crate::helpers::{TestApp, ADMIN_TOKEN, PIN};
use chrono::{DateTime, Duration, Utc};
use serde_json::{json, Value};
use std::sync::Arc;

/// How many requests the merchant has (up to 100).
async fn request_count(app: &TestApp, shop: &str) -> usize {
    app.get("/v1/money-requests?limit=100", Some(shop))
        .await
        .ok(200)["data"]
        .as_array()
        .unwrap()
        .len()
}

/// A Corporate+ merchant `shop` (API token) and a wallet user `anna` with `funds`.
async fn shop_and_anna(app: &TestApp, funds: &str) -> (String, String) {
    let shop = app.corporate_plus("shop").await;
    let anna = app.wallet_user("anna").await;
    app.deposit("anna", funds).await.ok(201);
    (shop, anna)
}

#[tokio::test]
async fn the_whole_flow_as_its_users_do_it() {
    let app = TestApp::spawn().await;
    let (shop, anna) = shop_and_anna(&app, "100.00").await;
    let shop_app = app.access_token("shop").await;

    let created = app
        .create_request(&shop, json!({"payer": "anna", "amount": "12.34", "description": "Order 1001", "reference": "order-1001", "metadata": {"cart": "c-9"}}))
        .await;
    let created = created.ok(201).clone();
    let id = created["id"].as_str().unwrap();
    assert!(id.starts_with("mr_"));
    assert_eq!(
        (
            created["status"].as_str(),
            created["fee"].as_str(),
            created["net_amount"].as_str()
        ),
        (Some("pending"), Some("0.27"), Some("12.07"))
    );
    assert!(created["pay_url"]
        .as_str()
        .unwrap()
        .ends_with(&format!("/pay/{id}")));
    assert_eq!(created["metadata"], json!({"cart": "c-9"}));

    let inbox = app
        .get("/v1/wallet/money-requests?status=pending", Some(&anna))
        .await;
    let inbox = inbox.ok(200);
    assert_eq!(inbox["data"][0]["id"], id);
    assert!(
        inbox["data"][0].get("fee").is_none(),
        "the payer does not see the merchant's fee"
    );

    let approved = app.approve(&anna, id, PIN).await;
    assert_eq!(approved.ok(200)["status"], "approved");

    assert_eq!(app.balance(&anna).await, "87.66");
    assert_eq!(app.balance(&shop_app).await, "12.07");
    let fee = app.get("/v1/transactions?kind=fee", Some(&shop)).await;
    assert_eq!(fee.ok(200)["data"][0]["amount"], "-0.27");

    let check = app
        .get(&format!("/v1/money-requests/{id}"), Some(&shop))
        .await;
    let check = check.ok(200);
    assert_eq!(
        (check["status"].as_str(), check["paid_by"].as_str()),
        (Some("approved"), Some("anna"))
    );
    let events = app
        .get(&format!("/v1/money-requests/{id}/events"), Some(&shop))
        .await;
    let kinds: Vec<_> = events.ok(200)["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| (e["type"].clone(), e["actor"].clone()))
        .collect();
    assert_eq!(
        kinds,
        vec![
            (json!("created"), json!("merchant:shop")),
            (json!("approved"), json!("payer:anna"))
        ]
    );
    assert_eq!(app.ledger_report().await["ok"], true);
}

#[tokio::test]
async fn decline_and_cancel_are_terminal() {
    let app = TestApp::spawn().await;
    let (shop, anna) = shop_and_anna(&app, "50.00").await;
    let declined = app
        .create_request(&shop, json!({"payer": "anna", "amount": "5.00"}))
        .await
        .ok(201)["id"]
        .as_str()
        .unwrap()
        .to_string();
    let res = app
        .post(
            &format!("/v1/wallet/money-requests/{declined}/decline"),
            Some(&anna),
            json!({"reason_code": "not_recognised", "reason": "I did not order this"}),
        )
        .await;
    assert_eq!(
        (
            res.ok(200)["status"].as_str(),
            res.body["decline_reason_code"].as_str()
        ),
        (Some("declined"), Some("not_recognised"))
    );
    app.approve(&anna, &declined, PIN)
        .await
        .problem(409, "request_not_pending");
    app.post(
        &format!("/v1/money-requests/{declined}/cancel"),
        Some(&shop),
        json!({}),
    )
    .await
    .problem(409, "request_not_pending");

    let cancelled = app
        .create_request(&shop, json!({"payer": "anna", "amount": "5.00"}))
        .await
        .ok(201)["id"]
        .as_str()
        .unwrap()
        .to_string();
    assert_eq!(
        app.post(
            &format!("/v1/money-requests/{cancelled}/cancel"),
            Some(&shop),
            json!({})
        )
        .await
        .ok(200)["status"],
        "cancelled"
    );
    app.approve(&anna, &cancelled, PIN)
        .await
        .problem(409, "request_not_pending");
    app.post(
        &format!("/v1/wallet/money-requests/{cancelled}/decline"),
        Some(&anna),
        json!({}),
    )
    .await
    .problem(409, "request_not_pending");
    app.post(
        &format!("/v1/money-requests/{cancelled}/cancel"),
        Some(&shop),
        json!({}),
    )
    .await
    .problem(409, "request_not_pending");

    assert_eq!(app.balance(&anna).await, "50.00");
    assert_eq!(
        app.ledger_report().await["transactions"],
        2,
        "only the deposit (and the onboarding's verification payout) was booked"
    );
}

#[tokio::test]
async fn expiry_is_terminal_and_the_deadline_itself_is_too_late() {
    let app = TestApp::spawn().await;
    let (shop, anna) = shop_and_anna(&app, "50.00").await;

    let swept = app
        .create_request(
            &shop,
            json!({"payer": "anna", "amount": "5.00", "expires_in": 60}),
        )
        .await
        .ok(201)["id"]
        .as_str()
        .unwrap()
        .to_string();
    app.clock.advance(Duration::seconds(61));
    let view = app.wait_for_status(&shop, &swept, "expired").await;
    assert!(view["resolved_at"].is_string());
    app.approve(&anna, &swept, PIN)
        .await
        .problem(409, "request_expired");
    // The sweeper writes the expiry into the history (the reads above did not wait for it).
    let mut events = Value::Null;
    for _ in 0..100 {
        events = app
            .get(&format!("/v1/money-requests/{swept}/events"), Some(&shop))
            .await
            .ok(200)
            .clone();
        if events["data"][1].is_object() {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    assert_eq!(events["data"][1]["type"], "expired", "{events}");
    assert_eq!(events["data"][1]["actor"], "system");

    // Just before the deadline approval works; at the deadline it is refused.
    let early = app
        .create_request(
            &shop,
            json!({"payer": "anna", "amount": "5.00", "expires_in": 120}),
        )
        .await;
    let late = app
        .create_request(
            &shop,
            json!({"payer": "anna", "amount": "5.00", "expires_in": 120}),
        )
        .await;
    let deadline: DateTime<Utc> = early.ok(201)["expires_at"]
        .as_str()
        .unwrap()
        .parse()
        .unwrap();
    app.clock.set(deadline - Duration::seconds(3));
    let anna = app.access_token("anna").await;
    app.approve(&anna, early.body["id"].as_str().unwrap(), PIN)
        .await
        .ok(200);
    let late_deadline: DateTime<Utc> = late.body["expires_at"].as_str().unwrap().parse().unwrap();
    app.clock.set(late_deadline);
    let res = app
        .approve(&anna, late.body["id"].as_str().unwrap(), PIN)
        .await;
    // An expired request answers one code, whether the sweeper or this call found it.
    res.problem(409, "request_expired");
    assert_eq!(res.body["request_status"], "expired");
    assert_eq!(
        app.balance(&anna).await,
        "45.00",
        "only the early approval moved money"
    );
}

#[tokio::test]
async fn twenty_concurrent_approvals_make_one_payment() {
    let app = Arc::new(TestApp::spawn().await);
    let (shop, anna) = shop_and_anna(&app, "100.00").await;
    let id = app
        .create_request(&shop, json!({"payer": "anna", "amount": "10.00"}))
        .await
        .ok(201)["id"]
        .as_str()
        .unwrap()
        .to_string();
    let tasks: Vec<_> = (0..20)
        .map(|_| {
            let (app, anna, id) = (app.clone(), anna.clone(), id.clone());
            tokio::spawn(async move { app.approve(&anna, &id, PIN).await })
        })
        .collect();
    let mut approved = 0;
    for t in tasks {
        let res = t.await.unwrap();
        match res.status {
            200 => approved += 1,
            _ => {
                res.problem(409, "request_not_pending");
            }
        }
    }
    assert_eq!(approved, 1);
    assert_eq!(app.balance(&anna).await, "90.00");
    let payments = app.get("/v1/transactions?kind=payment", Some(&anna)).await;
    assert_eq!(payments.ok(200)["data"].as_array().unwrap().len(), 1);
}

#[tokio::test]
async fn refunds_partial_and_concurrent_never_exceed_the_payment() {
    let app = Arc::new(TestApp::spawn().await);
    let (shop, anna) = shop_and_anna(&app, "100.00").await;
    app.deposit("shop", "50.00").await.ok(201);
    let id = app
        .create_request(&shop, json!({"payer": "anna", "amount": "10.00"}))
        .await
        .ok(201)["id"]
        .as_str()
        .unwrap()
        .to_string();
    app.post(
        &format!("/v1/money-requests/{id}/refunds"),
        Some(&shop),
        json!({}),
    )
    .await
    .problem(409, "request_not_refundable");
    app.approve(&anna, &id, PIN).await.ok(200);

    let tasks: Vec<_> = (0..10)
        .map(|_| {
            let (app, shop, id) = (app.clone(), shop.clone(), id.clone());
            tokio::spawn(async move {
                app.post(
                    &format!("/v1/money-requests/{id}/refunds"),
                    Some(&shop),
                    json!({"amount": "3.00", "reason": "damaged"}),
                )
                .await
            })
        })
        .collect();
    let mut refunded = 0;
    for t in tasks {
        let res = t.await.unwrap();
        if res.status == 201 {
            refunded += 1;
        } else {
            assert_eq!(
                res.problem(422, "refund_exceeds_remaining")["remaining"],
                "1.00"
            );
        }
    }
    assert_eq!(refunded, 3);
    let rest = app
        .post(
            &format!("/v1/money-requests/{id}/refunds"),
            Some(&shop),
            json!({}),
        )
        .await;
    assert_eq!(
        rest.ok(201)["amount"],
        "1.00",
        "the default refunds what is left"
    );
    app.post(
        &format!("/v1/money-requests/{id}/refunds"),
        Some(&shop),
        json!({}),
    )
    .await
    .problem(409, "fully_refunded");

    let view = app
        .get(&format!("/v1/money-requests/{id}"), Some(&shop))
        .await;
    assert_eq!(view.ok(200)["refunded_amount"], "10.00");
    let list = app
        .get(&format!("/v1/money-requests/{id}/refunds"), Some(&shop))
        .await;
    assert_eq!(list.ok(200)["data"].as_array().unwrap().len(), 4);
    assert_eq!(app.balance(&anna).await, "100.00");
    // 50.00 + 10.00 - 0.15 - 0.10 fee, minus 10.00 refunded: the fee is not returned.
    let shop_app = app.access_token("shop").await;
    assert_eq!(app.balance(&shop_app).await, "49.75");
}

#[tokio::test]
async fn a_refund_needs_the_merchants_balance() {
    let app = TestApp::spawn().await;
    let (shop, anna) = shop_and_anna(&app, "100.00").await;
    let shop_app = app.access_token("shop").await;
    let pin = json!({"pin": PIN, "password": crate::helpers::PASSWORD});
    app.put("/v1/me/pin", Some(&shop_app), pin).await.ok(204);
    let id = app
        .create_request(&shop, json!({"payer": "anna", "amount": "20.00"}))
        .await
        .ok(201)["id"]
        .as_str()
        .unwrap()
        .to_string();
    app.approve(&anna, &id, PIN).await.ok(200);
    app.wallet_user("ben").await;
    // The merchant moves most of the money away, then cannot refund in full.
    app.transfer(&shop_app, "ben", "15.00").await.ok(201);
    app.post(
        &format!("/v1/money-requests/{id}/refunds"),
        Some(&shop),
        json!({}),
    )
    .await
    .problem(422, "insufficient_funds");
    assert_eq!(
        app.get(&format!("/v1/money-requests/{id}"), Some(&shop))
            .await
            .ok(200)["refunded_amount"],
        "0.00"
    );
}

#[tokio::test]
async fn wrong_pin_and_short_funds_move_nothing() {
    let app = TestApp::spawn().await;
    let (shop, anna) = shop_and_anna(&app, "5.00").await;
    let id = app
        .create_request(&shop, json!({"payer": "anna", "amount": "10.00"}))
        .await
        .ok(201)["id"]
        .as_str()
        .unwrap()
        .to_string();
    let wrong = app.approve(&anna, &id, "111112").await;
    assert_eq!(wrong.problem(403, "pin_invalid")["attempts_remaining"], 4);
    app.approve(&anna, &id, "12345")
        .await
        .problem(422, "invalid_pin_format");
    app.approve(&anna, &id, PIN)
        .await
        .problem(422, "insufficient_funds");
    assert_eq!(
        app.get(&format!("/v1/money-requests/{id}"), Some(&shop))
            .await
            .ok(200)["status"],
        "pending"
    );
    assert_eq!(app.balance(&anna).await, "5.00");
    // The right PIN reset the counter even though the payment failed for funds.
    assert_eq!(
        app.approve(&anna, &id, "111112")
            .await
            .problem(403, "pin_invalid")["attempts_remaining"],
        4
    );
}

#[tokio::test]
async fn merchants_and_payers_see_only_their_own() {
    let app = TestApp::spawn().await;
    let (shop, anna) = shop_and_anna(&app, "50.00").await;
    let rival = app.corporate_plus("rival").await;
    let ben = app.wallet_user("ben").await;
    app.deposit("ben", "50.00").await.ok(201);
    let id = app
        .create_request(&shop, json!({"payer": "anna", "amount": "5.00"}))
        .await
        .ok(201)["id"]
        .as_str()
        .unwrap()
        .to_string();

    app.get(&format!("/v1/money-requests/{id}"), Some(&rival))
        .await
        .problem(404, "not_found");
    // The status read admits its caller in its own database turn, by the same rules.
    app.get(&format!("/v1/money-requests/{id}"), Some(&anna))
        .await
        .problem(403, "merchant_only");
    app.get(&format!("/v1/money-requests/{id}"), None)
        .await
        .problem(401, "unauthenticated");
    app.get(&format!("/v1/money-requests/{id}"), Some("not-a-token"))
        .await
        .problem(401, "unauthenticated");
    app.post(
        &format!("/v1/money-requests/{id}/cancel"),
        Some(&rival),
        json!({}),
    )
    .await
    .problem(404, "not_found");
    app.post(
        &format!("/v1/money-requests/{id}/refunds"),
        Some(&rival),
        json!({}),
    )
    .await
    .problem(404, "not_found");
    app.get(&format!("/v1/money-requests/{id}/events"), Some(&rival))
        .await
        .problem(404, "not_found");
    assert_eq!(
        app.get("/v1/money-requests", Some(&rival)).await.ok(200)["data"],
        json!([])
    );
    app.get(&format!("/v1/wallet/money-requests/{id}"), Some(&ben))
        .await
        .problem(404, "not_found");
    app.approve(&ben, &id, PIN).await.problem(404, "not_found");
    app.get("/v1/money-requests/mr_doesnotexist", Some(&shop))
        .await
        .problem(404, "not_found");

    // An open payment link: anyone with the id may pay it, nobody's inbox lists it.
    let link = app
        .create_request(&shop, json!({"amount": "7.00"}))
        .await
        .ok(201)
        .clone();
    let link_id = link["id"].as_str().unwrap();
    assert_eq!(link["payer"], json!(null));
    let ttl = link["expires_at"]
        .as_str()
        .unwrap()
        .parse::<DateTime<Utc>>()
        .unwrap()
        - Utc::now();
    assert!(ttl > Duration::hours(71), "links default to 72 hours");
    assert_eq!(
        app.get("/v1/wallet/money-requests", Some(&ben))
            .await
            .ok(200)["data"],
        json!([])
    );
    app.get(&format!("/v1/wallet/money-requests/{link_id}"), Some(&ben))
        .await
        .ok(200);
    app.post(
        &format!("/v1/wallet/money-requests/{link_id}/decline"),
        Some(&ben),
        json!({}),
    )
    .await
    .problem(404, "not_found");
    assert_eq!(
        app.approve(&ben, link_id, PIN).await.ok(200)["paid_by"],
        "ben"
    );
    app.approve(&anna, link_id, PIN)
        .await
        .problem(409, "request_not_pending");
    assert_eq!(app.balance(&ben).await, "43.00");
}

#[tokio::test]
async fn creation_rules() {
    let app = TestApp::spawn().await;
    let (shop, anna) = shop_and_anna(&app, "10.00").await;
    let counter = app.merchant_app("kiosk", "corporate").await;
    app.register_merchant("other").await.ok(201);
    let cases = [
        (
            &shop,
            json!({"payer": "other", "amount": "5.00"}),
            422,
            "limit_exceeded",
        ),
        (
            &shop,
            json!({"payer": "shop", "amount": "5.00"}),
            422,
            "validation_failed",
        ),
        (
            &shop,
            json!({"payer": "nobody", "amount": "5.00"}),
            422,
            "unknown_payer",
        ),
        (
            &shop,
            json!({"payer": "anna", "amount": "0.19"}),
            422,
            "limit_exceeded",
        ),
        (
            &counter,
            json!({"payer": "anna", "amount": "200.01"}),
            422,
            "limit_exceeded",
        ),
        (
            &counter,
            json!({"payer": "anna", "amount": "5.00", "callback_url": "https://shop.example/cb"}),
            422,
            "validation_failed",
        ),
        (
            &shop,
            json!({"payer": "anna", "amount": "5.00", "expires_in": 59}),
            422,
            "validation_failed",
        ),
        (
            &shop,
            json!({"payer": "anna", "amount": "5.00", "expires_in": 2_592_001}),
            422,
            "validation_failed",
        ),
        (
            &shop,
            json!({"payer": "anna", "amount": "5.00", "metadata": {"a": {"b": 1}}}),
            422,
            "validation_failed",
        ),
        (
            &shop,
            json!({"payer": "anna", "amount": "5.00", "metadata": {"qty": 2}}),
            422,
            "validation_failed",
        ),
        (
            &shop,
            json!({"payer": "anna", "amount": "5.00", "metadata": {"gift": true}}),
            422,
            "validation_failed",
        ),
        (
            &shop,
            json!({"payer": "anna", "amount": "5.00", "metadata": {"a\u{0}": "x"}}),
            422,
            "validation_failed",
        ),
        (
            &shop,
            json!({"payer": "anna", "amount": "5.00", "metadata": {"a": "x\u{1b}[31m"}}),
            422,
            "validation_failed",
        ),
        (
            &shop,
            json!({"payer": "anna", "amount": "5.00", "description": "d".repeat(141)}),
            422,
            "validation_failed",
        ),
        (
            &shop,
            json!({"payer": "anna", "amount": "5.00", "reference": "r".repeat(65)}),
            422,
            "validation_failed",
        ),
        (
            &shop,
            json!({"payer": "anna", "amount": "5.00", "currency": "XYZ"}),
            422,
            "unsupported_currency",
        ),
        (
            &shop,
            json!({"payer": "anna", "amount": "5.00", "currency": "usd"}),
            422,
            "validation_failed",
        ),
        (
            &shop,
            json!({"payer": "anna", "amount": 5}),
            422,
            "invalid_body",
        ),
        (
            &shop,
            json!({"payer": "anna", "amount": "5.00", "callback_url": "ftp://x"}),
            422,
            "invalid_callback_url",
        ),
        (
            &anna,
            json!({"payer": "shop", "amount": "5.00"}),
            403,
            "merchant_only",
        ),
    ];
    for (token, body, status, code) in cases {
        let res = app.create_request(token, body.clone()).await;
        assert_eq!(res.status, status, "{body} -> {}", res.body);
        res.problem(status, code);
    }
    assert_eq!(
        app.get("/v1/money-requests", Some(&shop)).await.ok(200)["data"],
        json!([]),
        "nothing was created"
    );
    // A counter sale from the merchant app works without a callback URL.
    app.create_request(&counter, json!({"payer": "anna", "amount": "200.00"}))
        .await
        .ok(201);
}

#[tokio::test]
async fn a_usd_request_converts_with_the_rate_table_half_up() {
    let app = TestApp::spawn().await;
    let (shop, _) = shop_and_anna(&app, "10.00").await;
    let usd = app
        .create_request(
            &shop,
            json!({"payer": "anna", "amount": "10.00", "currency": "USD"}),
        )
        .await;
    let usd = usd.ok(201);
    assert_eq!(
        (usd["amount"].as_str(), usd["exchange_rate"].as_str()),
        (Some("9.22"), Some("1.0842"))
    );

    let rates = app
        .put(
            "/v1/admin/fx-rates",
            Some(ADMIN_TOKEN),
            json!({"rates": {"USD": "2"}}),
        )
        .await;
    assert_eq!(rates.ok(200)["rates"]["USD"], "2");
    app.put(
        "/v1/admin/fx-rates",
        Some(ADMIN_TOKEN),
        json!({"rates": {"USD": "-1"}}),
    )
    .await
    .problem(422, "validation_failed");
    app.put(
        "/v1/admin/fx-rates",
        Some(ADMIN_TOKEN),
        json!({"rates": {"EUR": "1"}}),
    )
    .await
    .problem(422, "validation_failed");
    let half = app
        .create_request(
            &shop,
            json!({"payer": "anna", "amount": "0.45", "currency": "USD"}),
        )
        .await;
    let half = half.ok(201);
    assert_eq!(
        (
            half["amount"].as_str(),
            half["original_amount"].as_str(),
            half["original_currency"].as_str(),
            half["exchange_rate"].as_str()
        ),
        (Some("0.23"), Some("0.45"), Some("USD"), Some("2"))
    );

    // Converted amounts keep the EUR bounds: refused, not saturated, nothing created.
    let before = request_count(&app, &shop).await;
    for rate in ["0.33", "0.00000001"] {
        app.put(
            "/v1/admin/fx-rates",
            Some(ADMIN_TOKEN),
            json!({"rates": {"USD": rate}}),
        )
        .await
        .ok(200);
        let big = json!({"payer": "anna", "amount": "1000000000.00", "currency": "USD"});
        app.create_request(&shop, big)
            .await
            .problem(422, "amount_out_of_range");
    }
    assert_eq!(request_count(&app, &shop).await, before);
}

#[tokio::test]
async fn bulk_creates_each_item_on_its_own() {
    let app = TestApp::spawn().await;
    let (shop, _) = shop_and_anna(&app, "10.00").await;
    let items = json!({"requests": [
        {"payer": "anna", "amount": "5.00", "reference": "b-1"},
        {"payer": "nobody", "amount": "5.00"},
        {"payer": "anna", "amount": "1.234"},
        {"payer": "anna", "amount": "6.00", "surprise": true},
    ]});
    let res = app
        .post("/v1/money-requests/bulk", Some(&shop), items)
        .await;
    let body = res.ok(200);
    assert_eq!(
        (body["created"].as_i64(), body["failed"].as_i64()),
        (Some(1), Some(3))
    );
    let statuses: Vec<_> = body["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["status"].as_i64().unwrap())
        .collect();
    assert_eq!(statuses, vec![201, 422, 422, 422]);
    assert_eq!(body["data"][1]["error"]["code"], "unknown_payer");
    assert_eq!(body["data"][2]["error"]["code"], "invalid_amount");
    assert_eq!(body["data"][3]["error"]["code"], "invalid_body");

    let too_many = json!({"requests": vec![json!({"payer": "anna", "amount": "1.00"}); 1001]});
    app.post("/v1/money-requests/bulk", Some(&shop), too_many)
        .await
        .problem(422, "validation_failed");
    let app_token = app.access_token("shop").await;
    app.post(
        "/v1/money-requests/bulk",
        Some(&app_token),
        json!({"requests": []}),
    )
    .await
    .problem(401, "unauthenticated");
}

#[tokio::test]
async fn merchant_lists_filter_and_page() {
    let app = TestApp::spawn().await;
    let (shop, anna) = shop_and_anna(&app, "10.00").await;
    let mut ids = Vec::new();
    for i in 0..5 {
        let r = app
            .create_request(
                &shop,
                json!({"payer": "anna", "amount": "1.00", "reference": format!("ord-{i}")}),
            )
            .await;
        ids.push(r.ok(201)["id"].as_str().unwrap().to_string());
    }
    app.approve(&anna, &ids[1], PIN).await.ok(200);
    let by_ref = app
        .get("/v1/money-requests?reference=ord-3", Some(&shop))
        .await;
    assert_eq!(by_ref.ok(200)["data"][0]["id"], ids[3].as_str());
    let approved = app
        .get("/v1/money-requests?status=approved", Some(&shop))
        .await;
    assert_eq!(approved.ok(200)["data"].as_array().unwrap().len(), 1);
    assert_eq!(
        app.get("/v1/money-requests?payer=ANNA", Some(&shop))
            .await
            .ok(200)["data"]
            .as_array()
            .unwrap()
            .len(),
        5
    );
    let page = app.get("/v1/money-requests?limit=2", Some(&shop)).await;
    let page = page.ok(200).clone();
    assert_eq!(
        (page["data"][0]["id"].as_str(), page["has_more"].as_bool()),
        (Some(ids[4].as_str()), Some(true))
    );
    let next = app
        .get(
            &format!(
                "/v1/money-requests?limit=2&starting_after={}",
                page["data"][1]["id"].as_str().unwrap()
            ),
            Some(&shop),
        )
        .await;
    assert_eq!(next.ok(200)["data"][0]["id"], ids[2].as_str());
    app.get("/v1/money-requests?status=paid", Some(&shop))
        .await
        .problem(400, "invalid_query");
    app.get("/v1/money-requests?starting_after=mr_nope", Some(&shop))
        .await
        .problem(404, "not_found");
    // Another merchant's request is no cursor of this merchant's list either.
    let rival = app.corporate_plus("rival").await;
    let theirs = app
        .get(
            &format!("/v1/money-requests?starting_after={}", ids[0]),
            Some(&rival),
        )
        .await;
    theirs.problem(404, "not_found");
}

#[tokio::test]
async fn optional_fields_may_be_left_out_but_not_sent_as_null() {
    // Both found by schemathesis: null was read as "absent", and bulk took non-object items.
    let app = TestApp::spawn().await;
    let (shop, anna) = shop_and_anna(&app, "10.00").await;
    for field in [
        "payer",
        "description",
        "reference",
        "currency",
        "expires_in",
        "metadata",
        "callback_url",
    ] {
        let mut body = json!({"amount": "1.00"});
        body[field] = json!(null);
        app.create_request(&shop, body)
            .await
            .problem(422, "invalid_body");
    }
    let decline = json!({"reason": null});
    app.post(
        "/v1/wallet/money-requests/mr_x/decline",
        Some(&anna),
        decline,
    )
    .await
    .problem(422, "invalid_body");
    let bulk = json!({"requests": [{"payer": "anna", "amount": "1.00"}, ["not", "an", "object"]]});
    app.post("/v1/money-requests/bulk", Some(&shop), bulk)
        .await
        .problem(422, "invalid_body");
    assert_eq!(
        app.get("/v1/money-requests", Some(&shop)).await.ok(200)["data"],
        json!([]),
        "nothing was created"
    );
    // Leaving them out is fine.
    app.create_request(&shop, json!({"amount": "1.00"}))
        .await
        .ok(201);
}
