//! Deposits, transfers, payouts, balances and history on the double-entry ledger.

use crate::helpers::{TestApp, ADMIN_TOKEN, PIN};
use diesel::RunQueryDsl;
use serde_json::{json, Value};

#[tokio::test]
async fn deposits_come_from_bank_clearing_and_a_reference_books_once() {
    let app = TestApp::spawn().await;
    let token = app.wallet_user("anna").await;
    let body = json!({"username": "anna", "amount": "100.00", "bank_reference": "SEPA-1"});
    let first = app
        .post("/v1/admin/deposits", Some(ADMIN_TOKEN), body.clone())
        .await;
    let first = first.ok(201).clone();
    assert_eq!(
        (first["amount"].as_str(), first["object"].as_str()),
        (Some("100.00"), Some("deposit"))
    );

    let again = app
        .post("/v1/admin/deposits", Some(ADMIN_TOKEN), body)
        .await;
    assert_eq!(
        again.ok(200)["id"],
        first["id"],
        "the same bank reference is not booked twice"
    );
    let changed = json!({"username": "anna", "amount": "90.00", "bank_reference": "SEPA-1"});
    app.post("/v1/admin/deposits", Some(ADMIN_TOKEN), changed)
        .await
        .problem(409, "duplicate_bank_reference");
    let unknown = json!({"username": "nobody", "amount": "1.00", "bank_reference": "SEPA-2"});
    app.post("/v1/admin/deposits", Some(ADMIN_TOKEN), unknown)
        .await
        .problem(422, "unknown_account");
    let to_system = json!({"username": "fees", "amount": "1.00", "bank_reference": "SEPA-3"});
    app.post("/v1/admin/deposits", Some(ADMIN_TOKEN), to_system)
        .await
        .problem(422, "unknown_account");
    app.post("/v1/admin/deposits", Some(&token), json!({}))
        .await
        .problem(401, "unauthenticated");

    assert_eq!(app.balance(&token).await, "100.00");
    let report = app.ledger_report().await;
    assert_eq!(
        (report["ok"].as_bool(), report["balance_sum"].as_str()),
        (Some(true), Some("0.00"))
    );
    assert_eq!(report["transactions"], 1);
}

#[tokio::test]
async fn merchants_pay_the_send_fee_by_recipient_kind_and_private_wallets_pay_none() {
    let app = TestApp::spawn().await;
    let shop = app.merchant_app("shop", "corporate_plus").await;
    let other = app.merchant_app("othershop", "corporate").await;
    let anna = app.wallet_user("anna").await;
    app.deposit("shop", "50.00").await.ok(201);
    app.deposit("anna", "20.00").await.ok(201);

    let to_private = app.transfer(&shop, "anna", "10.00").await;
    assert_eq!(to_private.ok(201)["fee"], "0.25");
    let to_merchant = app.transfer(&shop, "othershop", "10.00").await;
    assert_eq!(to_merchant.ok(201)["fee"], "0.50");
    let from_private = app.transfer(&anna, "shop", "5.00").await;
    assert_eq!(from_private.ok(201)["fee"], "0.00");

    assert_eq!(app.balance(&shop).await, "34.25"); // 50 - 10.25 - 10.50 + 5
    assert_eq!(app.balance(&anna).await, "25.00");
    assert_eq!(app.balance(&other).await, "10.00");

    // The fee shows in the payer's history, tied to the transfer it was charged on.
    let history = app.get("/v1/transactions?kind=fee", Some(&shop)).await;
    let fees: Vec<_> = history.ok(200)["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["amount"].clone())
        .collect();
    assert_eq!(fees, vec![json!("-0.50"), json!("-0.25")]);
    assert_eq!(
        history.body["data"][0]["related_transaction_id"],
        to_merchant.body["id"]
    );
}

#[tokio::test]
async fn payouts_go_to_bank_clearing_with_the_payout_fee() {
    let app = TestApp::spawn().await;
    let shop = app.merchant_app("shop", "corporate_plus").await;
    app.deposit("shop", "100.00").await.ok(201);
    let payout = app.payout(&shop, "10.00").await;
    let payout = payout.ok(201);
    assert_eq!(
        (payout["fee"].as_str(), payout["iban"].as_str()),
        (Some("2.00"), Some(crate::helpers::IBAN))
    );
    assert_eq!(app.balance(&shop).await, "88.00");

    // A private wallet without an IBAN has nowhere to pay out to.
    let anna = app.wallet_user("anna").await;
    app.deposit("anna", "5.00").await.ok(201);
    app.payout(&anna, "1.00")
        .await
        .problem(409, "no_bank_account");
}

#[tokio::test]
async fn insufficient_funds_moves_nothing() {
    let app = TestApp::spawn().await;
    let shop = app.merchant_app("shop", "corporate_plus").await;
    app.wallet_user("anna").await;
    app.deposit("shop", "10.00").await.ok(201);
    // 10.00 plus the 0.25 fee is more than the balance.
    app.transfer(&shop, "anna", "10.00")
        .await
        .problem(422, "insufficient_funds");
    // 9.00 plus the 2.00 payout fee too.
    app.payout(&shop, "9.00")
        .await
        .problem(422, "insufficient_funds");
    assert_eq!(app.balance(&shop).await, "10.00");
    // The deposit and the onboarding's 0.02 EUR verification payout.
    assert_eq!(app.ledger_report().await["transactions"], 2);
}

#[tokio::test]
async fn transfers_need_the_right_pin_and_a_real_recipient() {
    let app = TestApp::spawn().await;
    let anna = app.wallet_user("anna").await;
    app.wallet_user("ben").await;
    app.deposit("anna", "10.00").await.ok(201);
    let wrong_pin = app
        .post(
            "/v1/transfers",
            Some(&anna),
            json!({"to": "ben", "amount": "1.00", "pin": "111112"}),
        )
        .await;
    assert_eq!(
        wrong_pin.problem(403, "pin_invalid")["attempts_remaining"],
        4
    );
    app.transfer(&anna, "nobody", "1.00")
        .await
        .problem(422, "unknown_recipient");
    app.transfer(&anna, "fees", "1.00")
        .await
        .problem(422, "unknown_recipient");
    app.transfer(&anna, "ANNA", "1.00")
        .await
        .problem(422, "validation_failed");
    let long = json!({"to": "ben", "amount": "1.00", "pin": PIN, "description": "x".repeat(141)});
    app.post("/v1/transfers", Some(&anna), long)
        .await
        .problem(422, "validation_failed");
    assert_eq!(app.balance(&anna).await, "10.00");
}

#[tokio::test]
async fn bad_amounts_are_422_and_book_nothing() {
    let app = TestApp::spawn().await;
    let anna = app.wallet_user("anna").await;
    app.wallet_user("ben").await;
    app.deposit("anna", "50.00").await.ok(201);
    for bad in [
        "1.234",
        "-1",
        "0",
        "0.00",
        "1e3",
        "",
        " 1.00",
        "1.",
        ".5",
        "01.00",
        "1,00",
        "1000000000.01",
        "99999999999999999999999",
    ] {
        let res = app.transfer(&anna, "ben", bad).await;
        assert_eq!(
            res.problem(422, "invalid_amount")["field"],
            "amount",
            "{bad:?}"
        );
        let dep = json!({"username": "anna", "amount": bad, "bank_reference": "R-1"});
        app.post("/v1/admin/deposits", Some(ADMIN_TOKEN), dep)
            .await
            .problem(422, "invalid_amount");
    }
    for number in [json!(12.3), json!(5), json!(null), json!(["1.00"])] {
        let res = app
            .post(
                "/v1/transfers",
                Some(&anna),
                json!({"to": "ben", "amount": number, "pin": PIN}),
            )
            .await;
        res.problem(422, "invalid_body");
    }
    assert_eq!(app.balance(&anna).await, "50.00");
    assert_eq!(app.ledger_report().await["transactions"], 1);
}

#[tokio::test]
async fn balance_is_amount_minus_usage_for_the_month() {
    let app = TestApp::spawn().await;
    let shop = app.merchant_app("shop", "corporate_plus").await;
    app.wallet_user("anna").await;
    app.deposit("shop", "30.00").await.ok(201);
    app.transfer(&shop, "anna", "5.00").await.ok(201);
    let b = app.get("/v1/balance", Some(&shop)).await;
    let b = b.ok(200);
    assert_eq!(
        (
            b["balance"].as_str(),
            b["amount"].as_str(),
            b["usage"].as_str(),
            b["currency"].as_str()
        ),
        (Some("24.75"), Some("30.00"), Some("5.25"), Some("EUR"))
    );
    // A month later the opening balance carries into `amount` and usage starts afresh.
    app.clock.advance(chrono::Duration::days(32));
    let shop = app.access_token("shop").await;
    let b = app.get("/v1/balance", Some(&shop)).await;
    assert_eq!(
        (b.ok(200)["amount"].as_str(), b.body["usage"].as_str()),
        (Some("24.75"), Some("0.00"))
    );
}

/// The balance view's figures after payments, a refund and a transfer on both sides of a
/// month boundary: the opening balance carries over, and `usage` is what the month debited.
#[tokio::test]
async fn balance_view_totals_follow_payments_refunds_and_transfers_across_a_month() {
    let app = TestApp::spawn().await;
    app.corporate_plus("shop").await;
    let anna = app.wallet_user("anna").await;
    app.deposit("anna", "100.00").await.ok(201);
    let pay = |shop: String, anna: String, amount: &'static str| {
        let app = &app;
        async move {
            let mr = app
                .create_request(&shop, json!({"payer": "anna", "amount": amount}))
                .await;
            let id = mr.ok(201)["id"].as_str().unwrap().to_string();
            app.approve(&anna, &id, PIN).await.ok(200);
            id
        }
    };
    let shop = app.create_api_token("shop").await.ok(201)["token"]
        .as_str()
        .unwrap()
        .to_string();
    pay(shop, anna, "10.00").await; // shop 10.00 - 0.25 fee

    app.clock.advance(chrono::Duration::days(32));
    let shop = app.create_api_token("shop").await.ok(201)["token"]
        .as_str()
        .unwrap()
        .to_string();
    let anna = app.access_token("anna").await;
    let id = pay(shop.clone(), anna.clone(), "20.00").await; // fee 0.35
    app.post(
        &format!("/v1/money-requests/{id}/refunds"),
        Some(&shop),
        json!({"amount": "5.00"}),
    )
    .await
    .ok(201);
    app.transfer(&anna, "shop", "3.00").await.ok(201);

    let view = |token: String| {
        let app = &app;
        async move {
            let b = app.get("/v1/balance", Some(&token)).await;
            let b = b.ok(200);
            (
                b["balance"].as_str().unwrap().to_string(),
                b["amount"].as_str().unwrap().to_string(),
                b["usage"].as_str().unwrap().to_string(),
            )
        }
    };
    let shop_app = app.access_token("shop").await;
    // Shop: opening 9.75, credited 20.00 + 3.00, debited 0.35 fee + 5.00 refund.
    assert_eq!(
        view(shop_app).await,
        ("27.40".into(), "32.75".into(), "5.35".into())
    );
    // Anna: opening 90.00, credited the 5.00 refund, debited 20.00 + 3.00.
    assert_eq!(
        view(anna).await,
        ("72.00".into(), "95.00".into(), "23.00".into())
    );
    assert_eq!(app.ledger_report().await["ok"], true);
}

#[tokio::test]
async fn history_pages_with_a_cursor_and_filters_and_exports_csv() {
    let app = TestApp::spawn().await;
    let anna = app.wallet_user("anna").await;
    app.wallet_user("ben").await;
    for i in 1..=23 {
        app.deposit("anna", &format!("{i}.00")).await.ok(201);
    }
    app.transfer(&anna, "ben", "1.50").await.ok(201);

    let mut seen = Vec::new();
    let mut path = "/v1/transactions?limit=10".to_string();
    loop {
        let page = app.get(&path, Some(&anna)).await;
        let page = page.ok(200).clone();
        let data = page["data"].as_array().unwrap();
        seen.extend(data.iter().map(|p| p["id"].as_str().unwrap().to_string()));
        if !page["has_more"].as_bool().unwrap() {
            break;
        }
        path = format!(
            "/v1/transactions?limit=10&starting_after={}",
            data.last().unwrap()["id"].as_str().unwrap()
        );
    }
    assert_eq!(seen.len(), 24);
    let mut sorted = seen.clone();
    sorted.dedup();
    assert_eq!(sorted.len(), 24, "no posting twice");

    let transfers = app.get("/v1/transactions?kind=transfer", Some(&anna)).await;
    let t = &transfers.ok(200)["data"][0];
    assert_eq!(
        (t["amount"].as_str(), t["counterparty"].as_str()),
        (Some("-1.50"), Some("ben"))
    );

    let future = app
        .get("/v1/transactions?from=2099-01-01T00:00:00Z", Some(&anna))
        .await;
    assert_eq!(future.ok(200)["data"], json!([]));

    for bad in [
        "limit=0",
        "limit=101",
        "kind=bonus",
        "starting_after=txn_1",
        "from=yesterday",
        "colour=red",
    ] {
        app.get(&format!("/v1/transactions?{bad}"), Some(&anna))
            .await
            .problem(400, "invalid_query");
    }
    let backwards = "/v1/transactions?from=2026-02-01T00:00:00Z&to=2026-01-01T00:00:00Z";
    app.get(backwards, Some(&anna))
        .await
        .problem(422, "invalid_range");

    let res = app
        .client
        .get(format!("{}/v1/transactions.csv?kind=deposit", app.address))
        .bearer_auth(&anna)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    assert!(res.headers()["content-type"]
        .to_str()
        .unwrap()
        .starts_with("text/csv"));
    let csv = res.text().await.unwrap();
    let lines: Vec<&str> = csv.lines().collect();
    assert_eq!(
        lines[0],
        "id,transaction_id,created_at,kind,amount,currency,counterparty,description"
    );
    assert_eq!(lines.len(), 24, "header plus 23 deposits");
    assert!(lines[1].contains(",deposit,23.00,EUR,"), "{}", lines[1]);
}

#[tokio::test]
async fn fees_show_the_callers_tier_row_set() {
    let app = TestApp::spawn().await;
    let corporate = app.merchant_app("shop", "corporate").await;
    let plus = app.merchant_app("plus", "corporate_plus").await;
    let private = app.wallet_user("anna").await;
    let c = app.get("/v1/fees", Some(&corporate)).await;
    let c = c.ok(200);
    assert_eq!(
        (c["tier"].as_str(), c["fees"]["payout"].as_str()),
        (Some("corporate"), Some("2.00"))
    );
    assert_eq!(
        (
            c["fees"]["receive_percent"].as_str(),
            c["limits"]["transactions_per_day"].as_i64()
        ),
        (Some("1.5"), Some(5))
    );
    let p = app.get("/v1/fees", Some(&plus)).await;
    assert_eq!(
        (
            p.ok(200)["limits"]["transactions_per_day"].clone(),
            p.body["api_access"].clone()
        ),
        (json!(null), json!(true))
    );
    let v = app.get("/v1/fees", Some(&private)).await;
    assert_eq!(v.ok(200)["fees"]["send_to_merchant"], "0.00");
}

#[tokio::test]
async fn the_verifier_reports_a_corrupted_ledger() {
    let app = TestApp::spawn().await;
    app.wallet_user("anna").await;
    app.deposit("anna", "10.00").await.ok(201);
    let tamper = |sql: &str| {
        let url = app.database_url();
        let db = pinpay::db::Db::connect(&url, 1).unwrap();
        let mut conn = db.get().unwrap();
        diesel::sql_query(sql).execute(&mut **conn).unwrap();
    };
    let checks = |report: Value| -> Vec<String> {
        report["violations"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v["check"].as_str().unwrap().to_string())
            .collect()
    };
    // The checks `spoil` violates; `mend` puts the ledger right again.
    let violated = async |spoil: &str, mend: &str| -> Vec<String> {
        tamper(spoil);
        let report = app.ledger_report().await;
        assert_eq!(report["ok"], false);
        tamper(mend);
        assert_eq!(app.ledger_report().await["ok"], true);
        checks(report)
    };
    assert_eq!(
        violated(
            "UPDATE accounts SET balance = balance + 1 WHERE username = 'anna'",
            "UPDATE accounts SET balance = balance - 1 WHERE username = 'anna'",
        )
        .await,
        vec!["balance_matches_postings", "balances_sum_to_zero"]
    );

    // A running balance that statements would read wrongly.
    let anna_posting = "(SELECT p.id FROM postings p JOIN accounts a ON a.id = p.account_id \
                        WHERE a.username = 'anna')";
    assert_eq!(
        violated(
            &format!(
                "UPDATE postings SET balance_after = balance_after + 1 WHERE id IN {anna_posting}"
            ),
            &format!(
                "UPDATE postings SET balance_after = balance_after - 1 WHERE id IN {anna_posting}"
            ),
        )
        .await,
        vec!["running_balances_match_postings"]
    );

    // A posting booked earlier than the one before it on the same account.
    app.deposit("anna", "5.00").await.ok(201);
    let newest = "(SELECT MAX(p.id) FROM postings p JOIN accounts a ON a.id = p.account_id \
                  WHERE a.username = 'anna')";
    assert_eq!(
        violated(
            &format!("UPDATE postings SET created_at = '2000-01-01 00:00:00' WHERE id = {newest}"),
            &format!(
                "UPDATE postings SET created_at = \
                 (SELECT booking_clock FROM accounts WHERE username = 'anna') WHERE id = {newest}"
            ),
        )
        .await,
        vec!["postings_in_booking_order"]
    );
}

#[tokio::test]
async fn concurrent_duplicate_deposits_all_get_the_one_booking() {
    let app = std::sync::Arc::new(TestApp::spawn().await);
    let anna = app.wallet_user("anna").await;
    let tasks: Vec<_> = (0..10)
        .map(|_| {
            let app = app.clone();
            tokio::spawn(async move {
                let body =
                    json!({"username": "anna", "amount": "25.00", "bank_reference": "SEPA-RACE"});
                app.post("/v1/admin/deposits", Some(ADMIN_TOKEN), body)
                    .await
            })
        })
        .collect();
    let (mut created, mut ids) = (0, std::collections::BTreeSet::new());
    for t in tasks {
        let res = t.await.unwrap();
        assert!(
            res.status == 201 || res.status == 200,
            "a duplicate is answered with the booking, not an error: {} {}",
            res.status,
            res.body
        );
        created += usize::from(res.status == 201);
        ids.insert(res.body["id"].as_str().unwrap().to_string());
    }
    assert_eq!((created, ids.len()), (1, 1));
    assert_eq!(app.balance(&anna).await, "25.00");
}

#[tokio::test]
async fn an_export_longer_than_one_read_keeps_every_posting_once_and_in_order() {
    let app = TestApp::spawn().await;
    let anna = app.wallet_user("anna").await;
    // 1205 deposits of 0.01 booked by SQL (the export reads its rows in slices of 500),
    // their running figures and the balances recomputed so the ledger stays whole.
    let db = pinpay::db::Db::connect(&app.database_url(), 1).unwrap();
    let mut conn = db.get().unwrap();
    let values: Vec<String> = (1..=1205)
        .map(|i| format!("('deposit', 'bulk-{i}', 'Bulk deposit {i}', CURRENT_TIMESTAMP)"))
        .collect();
    let sql = format!(
        "INSERT INTO ledger_transactions (kind, external_ref, description, created_at) VALUES {};
         INSERT INTO postings (transaction_id, account_id, kind, amount, counterparty_id, created_at)
           SELECT t.id, b.id, 'deposit', -1, a.id, t.created_at
           FROM ledger_transactions t, accounts b, accounts a
           WHERE t.external_ref LIKE 'bulk-%' AND b.username = 'bank_clearing' AND a.username = 'anna'
           ORDER BY t.id;
         INSERT INTO postings (transaction_id, account_id, kind, amount, counterparty_id, created_at)
           SELECT t.id, a.id, 'deposit', 1, b.id, t.created_at
           FROM ledger_transactions t, accounts b, accounts a
           WHERE t.external_ref LIKE 'bulk-%' AND b.username = 'bank_clearing' AND a.username = 'anna'
           ORDER BY t.id;
         UPDATE postings SET balance_after = s.running, debited_through = s.debited
           FROM (SELECT id, SUM(amount) OVER (PARTITION BY account_id ORDER BY id) AS running,
                   SUM(CASE WHEN amount < 0 THEN -amount ELSE 0 END)
                     OVER (PARTITION BY account_id ORDER BY id) AS debited
                 FROM postings) AS s
           WHERE postings.id = s.id;
         UPDATE accounts SET
           balance = (SELECT COALESCE(SUM(p.amount), 0) FROM postings p WHERE p.account_id = accounts.id),
           debited_total = (SELECT COALESCE(SUM(-p.amount), 0) FROM postings p
                            WHERE p.account_id = accounts.id AND p.amount < 0);",
        values.join(", ")
    );
    diesel::connection::SimpleConnection::batch_execute(&mut **conn, &sql).unwrap();
    assert_eq!(app.balance(&anna).await, "12.05");

    let csv = app
        .client
        .get(format!("{}/v1/transactions.csv", app.address))
        .bearer_auth(&anna)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let ids: Vec<i64> = csv
        .lines()
        .skip(1)
        .map(|l| {
            l.split(',').next().unwrap()["pst_".len()..]
                .parse()
                .unwrap()
        })
        .collect();
    assert_eq!(ids.len(), 1205);
    assert!(
        ids.windows(2).all(|w| w[0] > w[1]),
        "newest first, each once"
    );
    // The API's pages agree with the export: the first page is its first 100 rows.
    let page = app.get("/v1/transactions?limit=100", Some(&anna)).await;
    let paged: Vec<i64> = page.ok(200)["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["id"].as_str().unwrap()["pst_".len()..].parse().unwrap())
        .collect();
    assert_eq!(paged, ids[..100]);
    assert_eq!(app.ledger_report().await["ok"], true);
}

#[derive(diesel::QueryableByName)]
struct Count {
    #[diesel(sql_type = diesel::sql_types::BigInt)]
    n: i64,
}

/// A payment reads its time, then waits for its accounts' row locks; payments of other
/// merchants book their fees meanwhile. The fee of the one that waited is booked after
/// theirs on the fees account (each account's booking order is its id order, which
/// statements' running balances rely on), not at the earlier time it read. On PostgreSQL:
/// SQLite has one writer, and a payment there reads its time once it writes.
#[tokio::test]
async fn a_payment_that_waited_for_a_lock_is_booked_after_those_made_meanwhile() {
    let app = std::sync::Arc::new(TestApp::spawn().await);
    if !app.database_url().starts_with("postgres") {
        return;
    }
    // Anna's id is below shop1's: her approval locks her row, then waits for shop1's.
    let anna = app.wallet_user("anna").await;
    app.wallet_user("bob").await;
    let shop1 = app.corporate_plus("shop1").await;
    let shop2 = app.corporate_plus("shop2").await;
    app.deposit("anna", "50.00").await.ok(201);
    app.deposit("bob", "50.00").await.ok(201);
    let request = |shop: &str, payer: &str| {
        let (app, shop, payer) = (app.clone(), shop.to_string(), payer.to_string());
        async move {
            let res = app
                .create_request(&shop, json!({"payer": payer, "amount": "10.00"}))
                .await;
            res.ok(201)["id"].as_str().unwrap().to_string()
        }
    };
    let (for_anna, for_bob) = (request(&shop1, "anna").await, request(&shop2, "bob").await);

    let db = pinpay::db::Db::connect(&app.database_url(), 1).unwrap();
    let mut holder = db.get().unwrap();
    diesel::sql_query("BEGIN").execute(&mut **holder).unwrap();
    diesel::sql_query("SELECT id FROM accounts WHERE username = 'shop1' FOR UPDATE")
        .execute(&mut **holder)
        .unwrap();
    let waiting = {
        let (app, anna, id) = (app.clone(), anna.clone(), for_anna.clone());
        tokio::spawn(async move { app.approve(&anna, &id, PIN).await })
    };
    let mut polls = 0;
    while diesel::sql_query(
        "SELECT COUNT(*) AS n FROM pg_stat_activity \
         WHERE datname = current_database() AND wait_event_type = 'Lock'",
    )
    .get_result::<Count>(&mut **holder)
    .unwrap()
    .n == 0
    {
        polls += 1;
        assert!(polls < 500, "anna's approval never waited for shop1's row");
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    // A minute later by the server's clock, Bob's payment to shop2 goes through.
    app.clock.advance(chrono::Duration::minutes(1));
    let bob = app.access_token("bob").await;
    app.approve(&bob, &for_bob, PIN).await.ok(200);
    diesel::sql_query("ROLLBACK")
        .execute(&mut **holder)
        .unwrap();
    waiting.await.unwrap().ok(200);

    // The fees account: shop2's fee, then shop1's, in booking order as in id order.
    let report = app.ledger_report().await;
    assert_eq!(report["ok"], true, "{report}");
    // Anna's payment kept the time it read on her and shop1's idle accounts, a minute
    // before Bob's.
    let shop1 = app.create_api_token("shop1").await.ok(201)["token"]
        .as_str()
        .unwrap()
        .to_string();
    let anna_paid = app.get("/v1/transactions?kind=payment", Some(&anna)).await;
    let shop1_paid = app.get("/v1/transactions?kind=payment", Some(&shop1)).await;
    let bob_paid = app.get("/v1/transactions?kind=payment", Some(&bob)).await;
    let at = |res: &crate::helpers::Res| -> chrono::DateTime<chrono::Utc> {
        res.body["data"][0]["created_at"]
            .as_str()
            .unwrap()
            .parse()
            .unwrap()
    };
    assert!(at(&bob_paid) - at(&anna_paid) >= chrono::Duration::seconds(59));
    assert_eq!(
        at(&shop1_paid),
        at(&anna_paid),
        "shop1's account was idle too"
    );
}

/// The transactions list's `from` (inclusive) and `to` (exclusive), alone, together, with
/// a kind and across pages: exact at a posting's own booking time.
#[tokio::test]
async fn history_time_ranges_are_exact_at_their_ends() {
    let app = TestApp::spawn().await;
    let t0: chrono::DateTime<chrono::Utc> = "2027-05-01T10:00:00Z".parse().unwrap();
    app.clock.set(t0);
    app.wallet_user("anna").await;
    app.wallet_user("ben").await;
    for hour in 0..5 {
        app.clock.set(t0 + chrono::Duration::hours(hour));
        app.deposit("anna", &format!("{}.00", hour + 1))
            .await
            .ok(201);
    }
    app.clock.set(t0 + chrono::Duration::hours(5));
    let anna = app.access_token("anna").await;
    app.transfer(&anna, "ben", "0.50").await.ok(201);

    let list = |query: String| {
        let (app, anna) = (&app, anna.clone());
        async move {
            let res = app
                .get(&format!("/v1/transactions?{query}"), Some(&anna))
                .await;
            let page = res.ok(200).clone();
            let amounts: Vec<String> = page["data"]
                .as_array()
                .unwrap()
                .iter()
                .map(|p| p["amount"].as_str().unwrap().to_string())
                .collect();
            (amounts, page)
        }
    };
    // The booking times of the 2.00 and 4.00 deposits, as the list gives them.
    let (all, page) = list(String::new()).await;
    assert_eq!(all, ["-0.50", "5.00", "4.00", "3.00", "2.00", "1.00"]);
    let at = |i: usize| page["data"][i]["created_at"].as_str().unwrap().to_string();
    let (two, four, transfer) = (at(4), at(2), at(0));
    assert!(!two.contains('+'), "UTC times: {two}");

    let cases = [
        (
            format!("from={two}"),
            vec!["-0.50", "5.00", "4.00", "3.00", "2.00"],
        ),
        (format!("to={two}"), vec!["1.00"]),
        (format!("from={two}&to={four}"), vec!["3.00", "2.00"]),
        (format!("from={four}&to={four}"), vec![]),
        ("to=2027-05-01T10:00:00Z".to_string(), vec![]),
        (format!("from={transfer}&kind=transfer"), vec!["-0.50"]),
        (format!("to={transfer}&kind=transfer"), vec![]),
        (
            format!("from={two}&kind=deposit"),
            vec!["5.00", "4.00", "3.00", "2.00"],
        ),
    ];
    for (query, expected) in cases {
        assert_eq!(list(query.clone()).await.0, expected, "{query}");
    }
    // Pages inside a range: two, then the last one.
    let range = format!("from={two}&to={transfer}");
    let (first, page) = list(format!("{range}&limit=2")).await;
    assert_eq!(
        (first, page["has_more"].as_bool()),
        (vec!["5.00".to_string(), "4.00".into()], Some(true))
    );
    let after = page["data"][1]["id"].as_str().unwrap();
    let (second, page) = list(format!("{range}&limit=2&starting_after={after}")).await;
    assert_eq!(
        (second, page["has_more"].as_bool()),
        (vec!["3.00".to_string(), "2.00".into()], Some(false))
    );
}

/// Credits to one merchant from many payers at once (approvals lock the merchant's row
/// last), with the merchant's own debits racing them (refunds of earlier payments):
/// every approval and refund books whole, the merchant never goes below zero, and its
/// balance is exactly what its requests say it received, which `ledger verify` confirms.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_credits_to_one_merchant_and_its_refunds_stay_exact() {
    let app = std::sync::Arc::new(TestApp::spawn().await);
    let shop = app.corporate_plus("shop").await;
    let (payers, per_payer) = (12, 4);
    let mut tokens = Vec::new();
    for i in 0..payers {
        let name = format!("payer{i}");
        tokens.push(app.wallet_user(&name).await);
        app.deposit(&name, "100.00").await.ok(201);
    }
    let request = |payer: usize, amount: &str| {
        let (app, shop) = (app.clone(), shop.clone());
        let body = json!({"payer": format!("payer{payer}"), "amount": amount});
        async move {
            app.create_request(&shop, body).await.ok(201)["id"]
                .as_str()
                .unwrap()
                .to_string()
        }
    };
    // Earlier payments, refunded while the new ones arrive.
    let mut earlier = Vec::new();
    for (i, token) in tokens.iter().enumerate() {
        let id = request(i, "5.00").await;
        app.approve(token, &id, PIN).await.ok(200);
        earlier.push(id);
    }
    let mut fresh = Vec::new();
    for i in 0..payers {
        for _ in 0..per_payer {
            fresh.push((i, request(i, "2.50").await));
        }
    }
    let mut tasks = Vec::new();
    for (i, id) in fresh.clone() {
        let (app, token) = (app.clone(), tokens[i].clone());
        tasks.push(tokio::spawn(async move {
            app.approve(&token, &id, PIN).await.status
        }));
    }
    for id in earlier.clone() {
        let (app, shop) = (app.clone(), shop.clone());
        tasks.push(tokio::spawn(async move {
            let path = format!("/v1/money-requests/{id}/refunds");
            app.post(&path, Some(&shop), json!({"amount": "5.00"}))
                .await
                .status
        }));
    }
    let mut statuses = std::collections::BTreeMap::new();
    for t in tasks {
        *statuses.entry(t.await.unwrap()).or_insert(0) += 1;
    }
    let expected = std::collections::BTreeMap::from([(200, payers * per_payer), (201, payers)]);
    assert_eq!(statuses, expected, "every approval and refund went through");

    // What the merchant holds is what its requests say: amounts less fees and refunds.
    let mut cents = 0i64;
    for id in earlier.iter().chain(fresh.iter().map(|(_, id)| id)) {
        let r = app
            .get(&format!("/v1/money-requests/{id}"), Some(&shop))
            .await;
        let r = r.ok(200);
        let money = |field: &str| -> i64 {
            let v: f64 = r[field].as_str().unwrap_or("0").parse().unwrap();
            (v * 100.0).round() as i64
        };
        assert_eq!(r["status"], "approved", "{r}");
        cents += money("amount") - money("fee") - money("refunded_amount");
    }
    let held = format!("{}.{:02}", cents / 100, cents % 100);
    assert_eq!(app.balance(&shop).await, held);
    let report = app.ledger_report().await;
    assert_eq!(report["ok"], true, "{report}");
}
