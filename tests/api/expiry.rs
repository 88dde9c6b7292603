//! Expiry as everyone sees it: a request past its deadline reads `expired` on every read
//! at once, before the sweeper writes it; and a burst of deadlines is written in one
//! sweeper round, not one batch per interval.

use crate::helpers::TestApp;
use chrono::Duration;
use diesel::{QueryableByName, RunQueryDsl};
use serde_json::{json, Value};
use std::time::Instant;

#[tokio::test]
async fn a_request_past_its_deadline_reads_expired_everywhere_before_the_sweeper_runs() {
    // The sweeper's first round runs at start; the next one is an hour away.
    let app = TestApp::spawn_with(|c| c.sweep_interval_ms = 3_600_000).await;
    let shop = app.corporate_plus("shop").await;
    let anna = app.wallet_user("anna").await;
    let id = app
        .create_request(
            &shop,
            json!({"payer": "anna", "amount": "5.00", "expires_in": 60}),
        )
        .await
        .ok(201)["id"]
        .as_str()
        .unwrap()
        .to_string();
    let deadline = app
        .get(&format!("/v1/money-requests/{id}"), Some(&shop))
        .await
        .ok(200)["expires_at"]
        .clone();
    app.clock.advance(Duration::seconds(61));

    let ids = |list: &Value| -> Vec<String> {
        list["data"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| r["id"].as_str().unwrap().to_string())
            .collect()
    };
    let merchant = app
        .get(&format!("/v1/money-requests/{id}"), Some(&shop))
        .await;
    assert_eq!(merchant.ok(200)["status"], "expired");
    assert_eq!(merchant.body["resolved_at"], deadline);
    let payer = app
        .get(&format!("/v1/wallet/money-requests/{id}"), Some(&anna))
        .await;
    assert_eq!(payer.ok(200)["status"], "expired");
    let list = app.get("/v1/money-requests", Some(&shop)).await;
    assert_eq!(list.ok(200)["data"][0]["status"], "expired");
    let pending = app
        .get("/v1/money-requests?status=pending", Some(&shop))
        .await;
    assert!(ids(pending.ok(200)).is_empty());
    let expired = app
        .get("/v1/money-requests?status=expired", Some(&shop))
        .await;
    assert_eq!(ids(expired.ok(200)), vec![id.clone()]);
    let inbox = app
        .get("/v1/wallet/money-requests?status=pending", Some(&anna))
        .await;
    assert!(ids(inbox.ok(200)).is_empty());
    let inbox = app
        .get("/v1/wallet/money-requests?status=expired", Some(&anna))
        .await;
    assert_eq!(ids(inbox.ok(200)), vec![id.clone()]);
    // And it cannot be paid.
    let res = app.approve(&anna, &id, crate::helpers::PIN).await;
    res.problem(409, "request_expired");
}

#[derive(QueryableByName)]
struct Count {
    #[diesel(sql_type = diesel::sql_types::BigInt)]
    n: i64,
}

#[tokio::test]
async fn a_thousand_deadlines_at_once_are_written_in_one_sweeper_round() {
    let app = TestApp::spawn_with(|c| c.sweep_interval_ms = 8000).await;
    let shop = app.corporate_plus("shop").await;
    app.wallet_user("anna").await;
    let items: Vec<Value> = (0..1000)
        .map(|_| json!({"payer": "anna", "amount": "1.00", "expires_in": 60}))
        .collect();
    let res = app
        .post(
            "/v1/money-requests/bulk",
            Some(&shop),
            json!({"requests": items}),
        )
        .await;
    assert_eq!(res.ok(200)["created"], 1000);
    app.clock.advance(Duration::seconds(61));

    // Written state, read on the database itself: the API already shows them expired.
    let db = pinpay::db::Db::connect(&app.database_url(), 1).unwrap();
    let written = || {
        let mut c = db.get().unwrap();
        diesel::sql_query("SELECT COUNT(*) AS n FROM money_requests WHERE status = 'expired'")
            .get_result::<Count>(&mut **c)
            .unwrap()
            .n
    };
    // Within two intervals a round has run to its end; one round must clear the whole
    // burst (batches of 100 per interval would have written at most 200 by then). The
    // intervals are long so a slow round on a loaded machine still ends inside them.
    let until = Instant::now() + std::time::Duration::from_millis(17_000);
    while written() < 1000 && Instant::now() < until {
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert_eq!(written(), 1000);
}
