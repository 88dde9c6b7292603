//! Each limit row of the tier table at its boundary, calendar edges in Europe/Berlin,
//! and limits under concurrency.

use crate::helpers::{Res, TestApp};
use chrono::{DateTime, Utc};
use serde_json::json;
use std::sync::Arc;

#[track_caller]
fn limit(res: &Res, name: &str, value: serde_json::Value, usage: serde_json::Value) {
    let body = res.problem(422, "limit_exceeded");
    assert_eq!(
        (&body["limit"], &body["value"], &body["usage"]),
        (&json!(name), &value, &usage),
        "{body}"
    );
}

fn at(s: &str) -> DateTime<Utc> {
    s.parse().unwrap()
}

#[tokio::test]
async fn top_ups_per_day_by_tier() {
    let app = TestApp::spawn().await;
    app.merchant_app("corp", "corporate").await;
    app.merchant_app("plus", "corporate_plus").await;
    app.wallet_user("anna").await;
    app.clock.set(at("2026-12-02T09:00:00Z"));
    for _ in 0..3 {
        app.deposit("corp", "1.00").await.ok(201);
    }
    limit(
        &app.deposit("corp", "1.00").await,
        "deposits_per_day",
        json!(3),
        json!(3),
    );
    for _ in 0..5 {
        app.deposit("plus", "1.00").await.ok(201);
    }
    limit(
        &app.deposit("plus", "1.00").await,
        "deposits_per_day",
        json!(5),
        json!(5),
    );
    for _ in 0..8 {
        app.deposit("anna", "1.00").await.ok(201);
    }
    app.clock.set(at("2026-12-02T23:00:00Z")); // 00:00 on 3 December in Berlin
    app.deposit("corp", "1.00").await.ok(201);
}

#[tokio::test]
async fn yearly_top_up_total_resets_on_the_first_of_january_in_berlin() {
    let app = TestApp::spawn().await;
    app.merchant_app("corp", "corporate").await;
    app.merchant_app("plus", "corporate_plus").await;
    app.clock.set(at("2026-12-31T22:59:00Z")); // 23:59 on 31 December in Berlin
    app.deposit("corp", "2499.99").await.ok(201);
    app.deposit("corp", "0.01").await.ok(201);
    limit(
        &app.deposit("corp", "0.01").await,
        "deposit_total_per_year",
        json!("2500.00"),
        json!("2500.00"),
    );
    app.deposit("plus", "10000.00").await.ok(201);
    app.clock.set(at("2026-12-31T23:00:30Z")); // 00:00:30 on 1 January in Berlin
    app.deposit("corp", "0.01").await.ok(201);
}

#[tokio::test]
async fn transactions_per_day_count_every_movement_on_both_sides() {
    let app = TestApp::spawn().await;
    app.clock.set(at("2026-12-02T09:00:00Z"));
    let corp = app.merchant_app("corp", "corporate").await;
    let anna = app.wallet_user("anna").await;
    app.wallet_user("ben").await;
    app.merchant_app("corp2", "corporate").await;
    app.deposit("corp", "100.00").await.ok(201); // movement 1
    for _ in 0..4 {
        app.transfer(&corp, "anna", "1.00").await.ok(201); // movements 2-5 (fees not counted)
    }
    limit(
        &app.transfer(&corp, "anna", "1.00").await,
        "transactions_per_day",
        json!(5),
        json!(5),
    );

    // The receiving side counts too: corp2 reaches 5 movements.
    app.deposit("anna", "50.00").await.ok(201);
    app.deposit("corp2", "1.00").await.ok(201);
    for _ in 0..4 {
        app.transfer(&anna, "corp2", "1.00").await.ok(201);
    }
    let refused = app.transfer(&anna, "corp2", "1.00").await;
    limit(&refused, "transactions_per_day", json!(5), json!(5));
    assert_eq!(refused.body["party"], "recipient");

    // Private wallets have no daily cap: anna is far past 5 movements today.
    for _ in 0..7 {
        app.transfer(&anna, "ben", "0.01").await.ok(201);
    }
    // The next Berlin day the Corporate merchant may move money again.
    app.clock.set(at("2026-12-02T23:00:00Z"));
    let corp = app.access_token("corp").await;
    app.transfer(&corp, "anna", "1.00").await.ok(201);
}

#[tokio::test]
async fn amount_per_transaction_bounds() {
    let app = TestApp::spawn().await;
    let corp = app.merchant_app("corp", "corporate").await;
    let plus = app.merchant_app("plus", "corporate_plus").await;
    let anna = app.wallet_user("anna").await;
    app.deposit("corp", "500.00").await.ok(201);
    app.deposit("plus", "1000.00").await.ok(201);
    app.deposit("anna", "10.00").await.ok(201);

    limit(
        &app.transfer(&corp, "anna", "200.01").await,
        "max_per_transaction",
        json!("200.00"),
        json!("200.01"),
    );
    app.transfer(&corp, "anna", "200.00").await.ok(201);
    limit(
        &app.transfer(&corp, "anna", "0.19").await,
        "min_per_transaction",
        json!("0.20"),
        json!("0.19"),
    );
    app.transfer(&corp, "anna", "0.20").await.ok(201);

    app.transfer(&plus, "anna", "700.00").await.ok(201);
    limit(
        &app.transfer(&plus, "anna", "0.19").await,
        "min_per_transaction",
        json!("0.20"),
        json!("0.19"),
    );
    // Private wallets: no minimum; but a Corporate recipient's maximum still holds.
    app.transfer(&anna, "plus", "0.01").await.ok(201);
    app.deposit("anna", "1000.00").await.ok(201);
    let refused = app.transfer(&anna, "corp", "200.01").await;
    limit(
        &refused,
        "max_per_transaction",
        json!("200.00"),
        json!("200.01"),
    );
}

#[tokio::test]
async fn payout_limits_for_corporate() {
    let app = TestApp::spawn().await;
    app.merchant_app("corp", "corporate").await;
    app.clock.set(at("2026-06-10T08:00:00Z"));
    app.verify_bank_account("corp").await;
    let corp = app.access_token("corp").await;
    app.deposit("corp", "1500.00").await.ok(201);
    limit(
        &app.payout(&corp, "1000.01").await,
        "max_payout_per_transaction",
        json!("1000.00"),
        json!("1000.01"),
    );
    limit(
        &app.payout(&corp, "0.19").await,
        "min_per_transaction",
        json!("0.20"),
        json!("0.19"),
    );
    let paid = app.payout(&corp, "1000.00").await;
    assert_eq!(paid.ok(201)["fee"], "2.00");
    limit(
        &app.payout(&corp, "0.20").await,
        "payouts_per_day",
        json!(1),
        json!(1),
    );

    app.clock.set(at("2026-06-11T08:00:00Z"));
    let corp = app.access_token("corp").await;
    limit(
        &app.payout(&corp, "0.20").await,
        "payout_total_per_year",
        json!("1000.00"),
        json!("1000.00"),
    );
    app.clock.set(at("2027-01-01T08:00:00Z"));
    let corp = app.access_token("corp").await;
    app.payout(&corp, "0.20").await.ok(201);
    assert_eq!(app.balance(&corp).await, "495.80");
}

#[tokio::test]
async fn payout_limits_for_corporate_plus() {
    let app = TestApp::spawn().await;
    app.merchant_app("plus", "corporate_plus").await;
    app.clock.set(at("2026-06-10T08:00:00Z"));
    let plus = app.access_token("plus").await;
    app.deposit("plus", "6000.00").await.ok(201);
    app.payout(&plus, "5000.00").await.ok(201);
    limit(
        &app.payout(&plus, "0.20").await,
        "payouts_per_day",
        json!(1),
        json!(1),
    );
    app.clock.set(at("2026-06-11T08:00:00Z"));
    let plus = app.access_token("plus").await;
    app.payout(&plus, "900.00").await.ok(201);
}

/// Pays out once at `first`, is refused at `same_day`, and may again at `next_day`.
async fn one_payout_per_local_day(first: &str, same_day: &str, next_day: &str) {
    let app = TestApp::spawn().await;
    app.merchant_app("plus", "corporate_plus").await;
    // The test's time starts before the account's first posting: its postings are booked
    // in order, so one backdated after them would carry the later time.
    app.clock.set(at(first));
    app.deposit("plus", "100.00").await.ok(201);
    for (when, allowed) in [(first, true), (same_day, false), (next_day, true)] {
        app.clock.set(at(when));
        let token = app.access_token("plus").await;
        let res = app.payout(&token, "1.00").await;
        if allowed {
            res.ok(201);
        } else {
            limit(&res, "payouts_per_day", json!(1), json!(1));
        }
    }
}

#[tokio::test]
async fn a_day_ends_at_midnight_in_berlin() {
    // 23:59 CET, then 00:00:30 the next day: one minute apart, two Berlin days.
    one_payout_per_local_day(
        "2026-12-01T22:58:00Z",
        "2026-12-01T22:59:00Z",
        "2026-12-01T23:00:30Z",
    )
    .await;
}

#[tokio::test]
async fn the_spring_forward_day_has_23_hours() {
    // 00:30 CET and 23:30 CEST on 28 March 2027 are one Berlin day; 00:10 on 29 March is the next.
    one_payout_per_local_day(
        "2027-03-27T23:30:00Z",
        "2027-03-28T21:30:00Z",
        "2027-03-28T22:10:00Z",
    )
    .await;
}

#[tokio::test]
async fn the_fall_back_day_has_25_hours() {
    // 00:30 CEST and 23:30 CET on 31 October 2027 are one Berlin day.
    one_payout_per_local_day(
        "2027-10-30T22:30:00Z",
        "2027-10-31T22:30:00Z",
        "2027-10-31T23:10:00Z",
    )
    .await;
}

#[tokio::test]
async fn fifty_concurrent_transfers_from_a_wallet_that_affords_ten() {
    let app = Arc::new(TestApp::spawn().await);
    let anna = app.wallet_user("anna").await;
    app.wallet_user("ben").await;
    app.deposit("anna", "100.00").await.ok(201);
    let tasks: Vec<_> = (0..50)
        .map(|_| {
            let (app, anna) = (app.clone(), anna.clone());
            tokio::spawn(async move { app.transfer(&anna, "ben", "10.00").await })
        })
        .collect();
    let (mut ok, mut short) = (0, 0);
    for t in tasks {
        let res = t.await.unwrap();
        match res.status {
            201 => ok += 1,
            _ => {
                res.problem(422, "insufficient_funds");
                short += 1;
            }
        }
    }
    assert_eq!((ok, short), (10, 40));
    assert_eq!(app.balance(&anna).await, "0.00");
    let ben = app.access_token("ben").await;
    assert_eq!(app.balance(&ben).await, "100.00");
}

#[tokio::test]
async fn concurrent_top_ups_against_the_daily_count_cap() {
    let app = Arc::new(TestApp::spawn().await);
    app.merchant_app("corp", "corporate").await;
    let tasks: Vec<_> = (0..10)
        .map(|_| {
            let app = app.clone();
            tokio::spawn(async move { app.deposit("corp", "5.00").await })
        })
        .collect();
    let mut ok = 0;
    for t in tasks {
        let res = t.await.unwrap();
        if res.status == 201 {
            ok += 1;
        } else {
            limit(&res, "deposits_per_day", json!(3), json!(3));
        }
    }
    assert_eq!(ok, 3);
    let corp = app.access_token("corp").await;
    assert_eq!(app.balance(&corp).await, "15.00");
}

#[tokio::test]
async fn concurrent_payouts_against_the_one_per_day_cap() {
    let app = Arc::new(TestApp::spawn().await);
    let plus = app.merchant_app("plus", "corporate_plus").await;
    app.deposit("plus", "100.00").await.ok(201);
    let tasks: Vec<_> = (0..8)
        .map(|_| {
            let (app, plus) = (app.clone(), plus.clone());
            tokio::spawn(async move { app.payout(&plus, "1.00").await })
        })
        .collect();
    let mut ok = 0;
    for t in tasks {
        let res = t.await.unwrap();
        if res.status == 201 {
            ok += 1;
        } else {
            limit(&res, "payouts_per_day", json!(1), json!(1));
        }
    }
    assert_eq!(ok, 1);
    assert_eq!(app.balance(&plus).await, "97.00");
}
