//! The reads benchmark: how the merchant's and the payer's reads grow with the data. One
//! merchant and one payer are measured; their requests are seeded by SQL in steps to 10k,
//! 100k and 1M (80 % approved with real payment postings, the ledger kept whole), and as
//! many between 20 other merchants and 20 other payers (declined, one in 400 pending: few enough that a planner may think a scan of all pending requests cheap) (so the database holds
//! twice as many, from many accounts, as in production); after each step every
//! read is timed over the HTTP API of the release server: p50 and p99 of `SAMPLES` calls
//! one after the other. At the end the query plans of the list queries are printed, and
//! status reads are driven from 8 clients for 5 s, then at 70 % of that rate open loop.
//!
//! ```sh
//! cargo bench --bench reads                                       # SQLite
//! cargo bench --bench reads -- postgres://postgres@127.0.0.1:5432/postgres
//! BENCH_SIZES=10000,100000 cargo bench --bench reads              # smaller steps
//! ```

#[path = "common/mod.rs"]
mod common;

use common::{config, load};
use diesel::connection::SimpleConnection;
use diesel::RunQueryDsl;
use pinpay::clock::Clock;
use pinpay::db::{Db, DbConn};
use pinpay::startup::Application;
use serde_json::{json, Value};
use std::time::Instant;

const PASSWORD: &str = "correct horse battery";
const PIN: &str = "482915";
const SAMPLES: usize = 200;
/// Seeded requests are 5 s apart, the newest a few seconds ago.
const STEP_SECS: i64 = 5;

struct Api {
    client: reqwest::Client,
    base: String,
}

impl Api {
    async fn call(&self, method: reqwest::Method, path: &str, token: &str, body: Value) -> Value {
        let mut req = self
            .client
            .request(method, format!("{}{path}", self.base))
            .bearer_auth(token);
        if !body.is_null() {
            req = req.json(&body);
        }
        let res = req.send().await.expect("request");
        let status = res.status();
        let body = res.json().await.unwrap_or(Value::Null);
        assert!(status.is_success(), "{path}: {status} {body}");
        body
    }

    /// p50 and p99 in ms of `SAMPLES` sequential GETs of `path` (fewer, at least 5, if
    /// they take more than 10 s together).
    async fn time(&self, path: &str, token: &str) -> (f64, f64) {
        let mut ms = Vec::with_capacity(SAMPLES);
        let budget = Instant::now() + std::time::Duration::from_secs(10);
        while ms.len() < SAMPLES && (ms.len() < 5 || Instant::now() < budget) {
            let started = Instant::now();
            let res = self
                .client
                .get(format!("{}{path}", self.base))
                .bearer_auth(token)
                .send()
                .await
                .expect("request");
            assert!(res.status().is_success(), "{path}: {}", res.status());
            res.bytes().await.unwrap();
            ms.push(started.elapsed().as_secs_f64() * 1000.0);
        }
        ms.sort_by(|a, b| a.partial_cmp(b).unwrap());
        (ms[ms.len() / 2], ms[ms.len() * 99 / 100])
    }
}

/// `SELECT n` for n in lo..=hi, in the backend's dialect.
fn numbers(pg: bool, lo: i64, hi: i64) -> String {
    if pg {
        format!("SELECT g AS n FROM generate_series({lo}, {hi}) AS g")
    } else {
        format!(
            "WITH RECURSIVE seq(n) AS (SELECT {lo} UNION ALL SELECT n + 1 FROM seq WHERE n < {hi}) \
             SELECT n FROM seq"
        )
    }
}

/// The timestamp of seeded row `n` of `total`, in the backend's dialect.
fn stamp(pg: bool, base: &str, n: &str) -> String {
    if pg {
        format!("(TIMESTAMP '{base}' + ({n} * {STEP_SECS}) * INTERVAL '1 second')")
    } else {
        format!("datetime('{base}', '+' || ({n} * {STEP_SECS}) || ' seconds')")
    }
}

/// The other merchants and payers: the database holds as many of their requests as of the
/// measured pair's, so the planner sees many accounts (as in production) and a list must
/// find the measured merchant's rows among others'.
const OTHERS: i64 = 20;

/// Seeds requests `lo..=hi`: a deposit that covers them, then per request the request and,
/// for 4 in 5, its payment (1.00 EUR, no fee) with both postings, side by side as
/// `ledger::post` writes them (SQLite's planner estimates a walk by id from samples that
/// assume an account's postings are spread through the table, not in one block); balances and running
/// debit totals are recomputed from the postings, so the ledger verifies. As many declined
/// requests (no postings) go from the other merchants to the other payers
/// (`others`: the first ids of each, `OTHERS` consecutive ids).
fn seed(
    c: &mut DbConn,
    pg: bool,
    (lo, hi, total): (i64, i64, i64),
    (shop, anna): (i64, i64),
    others: (i64, i64),
) {
    let now = chrono::Utc::now().naive_utc();
    let base = (now - chrono::Duration::seconds(total * STEP_SECS + 60))
        .format("%Y-%m-%d %H:%M:%S")
        .to_string();
    let nums = numbers(pg, lo, hi);
    let ts = stamp(pg, &base, "n");
    let approved = (hi - lo + 1) - (hi / 5 - (lo - 1) / 5);
    let bank: i64 = diesel::sql_query("SELECT id FROM accounts WHERE username = 'bank_clearing'")
        .get_result::<IdRow>(c)
        .unwrap()
        .id;
    let max_tx = max_id(c, "ledger_transactions");
    let max_mr = max_id(c, "money_requests");
    let sql = format!(
        "INSERT INTO ledger_transactions (kind, external_ref, description, created_at) \
           VALUES ('deposit', 'seed-deposit-{hi}', 'Seed deposit', {first});
         INSERT INTO postings (transaction_id, account_id, kind, amount, counterparty_id, created_at)
           SELECT id, {bank}, 'deposit', -{cents}, {anna}, created_at FROM ledger_transactions WHERE external_ref = 'seed-deposit-{hi}';
         INSERT INTO postings (transaction_id, account_id, kind, amount, counterparty_id, created_at)
           SELECT id, {anna}, 'deposit', {cents}, {bank}, created_at FROM ledger_transactions WHERE external_ref = 'seed-deposit-{hi}';
         INSERT INTO money_requests (public_id, merchant_id, payer_id, status, amount, fee, description,
             expires_at, paid_by, refunded_amount, resolved_at, created_at, updated_at, kind)
           SELECT 'mr_seed' || n, {shop}, {anna}, CASE WHEN n % 5 = 0 THEN 'declined' ELSE 'approved' END,
             100, 0, 'Seeded', {ts}, CASE WHEN n % 5 = 0 THEN NULL ELSE {anna} END, 0, {ts}, {ts}, {ts}, 'addressed'
           FROM ({nums}) AS s;
         INSERT INTO money_requests (public_id, merchant_id, payer_id, status, amount, fee, description,
             expires_at, refunded_amount, resolved_at, created_at, updated_at, kind)
           SELECT 'mr_other' || n, {om} + n % {OTHERS}, {op} + n % {OTHERS},
             CASE WHEN n % 400 = 0 THEN 'pending' ELSE 'declined' END,
             100, 0, 'Seeded', CASE WHEN n % 400 = 0 THEN '{tomorrow}' ELSE {ts} END, 0,
             CASE WHEN n % 400 = 0 THEN NULL ELSE {ts} END, {ts}, {ts}, 'addressed'
           FROM ({nums}) AS s;
         INSERT INTO ledger_transactions (kind, external_ref, description, created_at)
           SELECT 'payment', 'seed-' || n, 'Seeded payment', {ts} FROM ({nums}) AS s WHERE n % 5 <> 0;
         INSERT INTO postings (transaction_id, account_id, kind, amount, counterparty_id, created_at)
           SELECT t.id, l.account_id, 'payment', l.amount, l.counterparty, t.created_at
           FROM ledger_transactions t,
             (SELECT 0 AS leg, {anna} AS account_id, -100 AS amount, {shop} AS counterparty
              UNION ALL SELECT 1, {shop}, 100, {anna}) AS l
           WHERE t.id > {max_tx} AND t.kind = 'payment'
           ORDER BY t.id, l.leg;
         UPDATE money_requests SET payment_transaction_id = (SELECT t.id FROM ledger_transactions t
             WHERE t.external_ref = 'seed-' || substr(money_requests.public_id, 8))
           WHERE id > {max_mr} AND status = 'approved';",
        first = stamp(pg, &base, &lo.to_string()),
        cents = approved * 100,
        om = others.0,
        // One in 400 of the others' requests is still pending (for a day): the pending
        // lists of the measured merchant and payer must not read them.
        tomorrow = (now + chrono::Duration::days(1)).format("%Y-%m-%d %H:%M:%S"),
        op = others.1,
    );
    // A million rows take longer than the pool's statement timeout (a server setting).
    if pg {
        c.batch_execute("SET statement_timeout = 0")
            .expect("no timeout");
    }
    c.batch_execute(&sql).expect("seed");
    // Running debit totals and balances (where the schema has them) and balances of the
    // three accounts, from their postings.
    let running_totals = c
        .batch_execute("SELECT debited_through FROM postings LIMIT 0")
        .is_ok();
    if c.batch_execute("SELECT balance_after FROM postings LIMIT 0")
        .is_ok()
    {
        c.batch_execute(if pg {
            "UPDATE postings p SET balance_after = s.running FROM (SELECT id, SUM(amount) \
             OVER (PARTITION BY account_id ORDER BY id) AS running FROM postings) s \
             WHERE p.id = s.id AND p.balance_after <> s.running"
        } else {
            "UPDATE postings SET balance_after = s.running FROM (SELECT id, SUM(amount) \
             OVER (PARTITION BY account_id ORDER BY id) AS running FROM postings) AS s \
             WHERE postings.id = s.id AND postings.balance_after <> s.running"
        })
        .expect("running balances");
    }
    let running = if pg {
        "UPDATE postings p SET debited_through = s.running FROM (SELECT id, SUM(CASE WHEN amount < 0 \
         THEN -amount ELSE 0 END) OVER (PARTITION BY account_id ORDER BY id) AS running FROM postings) s \
         WHERE p.id = s.id AND p.debited_through <> s.running"
    } else {
        "UPDATE postings SET debited_through = s.running FROM (SELECT id, SUM(CASE WHEN amount < 0 \
         THEN -amount ELSE 0 END) OVER (PARTITION BY account_id ORDER BY id) AS running FROM postings) AS s \
         WHERE postings.id = s.id AND postings.debited_through <> s.running"
    };
    let debited_total = if running_totals {
        c.batch_execute(running).expect("running totals");
        ", debited_total = COALESCE((SELECT SUM(-amount) FROM postings p \
         WHERE p.account_id = accounts.id AND p.amount < 0), 0)"
    } else {
        ""
    };
    let booking_clock = if c
        .batch_execute("SELECT booking_clock FROM accounts LIMIT 0")
        .is_ok()
    {
        ", booking_clock = COALESCE((SELECT MAX(created_at) FROM postings p \
         WHERE p.account_id = accounts.id), booking_clock)"
    } else {
        ""
    };
    c.batch_execute(&format!(
        "UPDATE accounts SET balance = COALESCE((SELECT SUM(amount) FROM postings p \
         WHERE p.account_id = accounts.id), 0){debited_total}{booking_clock} \
         WHERE id IN ({bank}, {shop}, {anna})"
    ))
    .expect("balances");
    c.batch_execute("ANALYZE").expect("analyze");
    // The seed's write-ahead log copied into the database file now: a bulk write of a
    // million rows at once (never the shape of production's writes) would otherwise be
    // checkpointed in the background while the reads are timed.
    if !pg {
        c.batch_execute("PRAGMA wal_checkpoint(TRUNCATE)")
            .expect("checkpoint");
    }
}

/// A month long before the seeded requests, with one deposit to the payer: its
/// statement is one line, however much history followed it.
const QUIET_STATEMENT: &str = "/v1/statements/2025-06";

/// Books the quiet month's deposit (its balances are recomputed with the first seed).
/// The setup's postings (the merchant's bank check) move to the start of 2025 first: the
/// seeded history comes after them, as each account's booking order is its id order.
fn quiet_month(c: &mut DbConn, anna: i64) {
    c.batch_execute(&format!(
        "UPDATE postings SET created_at = '2025-01-01 00:00:00';
         UPDATE ledger_transactions SET created_at = '2025-01-01 00:00:00';
         INSERT INTO ledger_transactions (kind, external_ref, description, created_at) \
           VALUES ('deposit', 'seed-quiet-month', 'Quiet month', '2025-06-15 12:00:00');
         INSERT INTO postings (transaction_id, account_id, kind, amount, counterparty_id, created_at)
           SELECT t.id, a.id, 'deposit', -500, {anna}, t.created_at FROM ledger_transactions t, accounts a
           WHERE t.external_ref = 'seed-quiet-month' AND a.username = 'bank_clearing';
         INSERT INTO postings (transaction_id, account_id, kind, amount, counterparty_id, created_at)
           SELECT t.id, {anna}, 'deposit', 500, a.id, t.created_at FROM ledger_transactions t, accounts a
           WHERE t.external_ref = 'seed-quiet-month' AND a.username = 'bank_clearing';"
    ))
    .expect("quiet month");
}

#[derive(diesel::QueryableByName)]
struct IdRow {
    #[diesel(sql_type = diesel::sql_types::BigInt)]
    id: i64,
}

fn max_id(c: &mut DbConn, table: &str) -> i64 {
    diesel::sql_query(format!(
        "SELECT CAST(COALESCE(MAX(id), 0) AS BIGINT) AS id FROM {table}"
    ))
    .get_result::<IdRow>(c)
    .unwrap()
    .id
}

fn account_id(c: &mut DbConn, name: &str) -> i64 {
    diesel::sql_query(format!("SELECT id FROM accounts WHERE username = '{name}'"))
        .get_result::<IdRow>(c)
        .unwrap()
        .id
}

#[derive(diesel::QueryableByName)]
struct PlanRow {
    #[diesel(sql_type = diesel::sql_types::Text, column_name = "QUERY PLAN")]
    plan: String,
}

#[derive(diesel::QueryableByName)]
struct SqlitePlanRow {
    #[diesel(sql_type = diesel::sql_types::Text)]
    detail: String,
}

/// The plan of each list query, as the database explains it.
fn plans(c: &mut DbConn, pg: bool, (shop, anna): (i64, i64)) {
    let now = chrono::Utc::now().naive_utc().format("%Y-%m-%d %H:%M:%S");
    let month_ago = (chrono::Utc::now() - chrono::Duration::days(30))
        .naive_utc()
        .format("%Y-%m-%d %H:%M:%S");
    let queries = [
        ("merchant list", format!("SELECT * FROM money_requests WHERE merchant_id = {shop} ORDER BY id DESC LIMIT 21")),
        ("merchant list status=cancelled", format!("SELECT * FROM money_requests WHERE merchant_id = {shop} AND status = 'cancelled' ORDER BY id DESC LIMIT 21")),
        ("merchant list status=pending", format!("SELECT * FROM money_requests WHERE merchant_id = {shop} AND status = 'pending' AND COALESCE(expires_at, expires_at) > '{now}' ORDER BY id DESC LIMIT 21")),
        ("merchant list kind=link", format!("SELECT * FROM money_requests WHERE merchant_id = {shop} AND kind = 'link' ORDER BY id DESC LIMIT 21")),
        ("wallet inbox", format!("SELECT * FROM money_requests WHERE payer_id = {anna} ORDER BY id DESC LIMIT 21")),
        ("wallet inbox status=approved", format!("SELECT * FROM money_requests WHERE payer_id = {anna} AND status = 'approved' ORDER BY id DESC LIMIT 21")),
        ("wallet inbox status=pending", format!("SELECT * FROM money_requests WHERE payer_id = {anna} AND status = 'pending' AND COALESCE(expires_at, expires_at) > '{now}' ORDER BY id DESC LIMIT 21")),
        ("wallet inbox, pushed links", format!("SELECT * FROM money_requests WHERE payer_id IS NULL AND id IN (SELECT request_id FROM link_pushes WHERE account_id = {anna}) ORDER BY id DESC LIMIT 21")),
        ("wallet stream fallback, pushed links", format!("SELECT public_id FROM money_requests WHERE payer_id IS NULL AND id IN (SELECT request_id FROM link_pushes WHERE account_id = {anna}) AND updated_at >= '{month_ago}' ORDER BY updated_at LIMIT 200")),
        ("transactions", format!("SELECT id FROM postings WHERE account_id = {anna} ORDER BY id DESC LIMIT 21")),
        ("transactions kind=payment", format!("SELECT id FROM postings WHERE account_id = {anna} AND kind = 'payment' ORDER BY id DESC LIMIT 21")),
        ("transactions kind=refund", format!("SELECT id FROM postings WHERE account_id = {anna} AND kind = 'refund' ORDER BY id DESC LIMIT 21")),
        ("transactions to=long ago: its last posting", format!("SELECT id, debited_through, balance_after FROM postings WHERE account_id = {anna} AND created_at < '2025-07-01 00:00:00' ORDER BY created_at DESC, id DESC LIMIT 1")),
        ("transactions to=later (all), before: the page", format!("SELECT id FROM postings WHERE account_id = {anna} AND created_at < '2099-01-01 00:00:00' ORDER BY id DESC LIMIT 21")),
        ("transactions from=long ago (all), before: the page", format!("SELECT id FROM postings WHERE account_id = {anna} AND created_at >= '2020-01-01 00:00:00' ORDER BY id DESC LIMIT 21")),
        ("transactions to=30 days ago, before: the page", format!("SELECT id FROM postings WHERE account_id = {anna} AND created_at < '{month_ago}' ORDER BY id DESC LIMIT 21")),
        ("transactions to=long ago, before: the page", format!("SELECT id FROM postings WHERE account_id = {anna} AND created_at < '2025-07-01 00:00:00' ORDER BY id DESC LIMIT 21")),
        ("transactions from/to, now: the page between the ends' ids", format!("SELECT id FROM postings WHERE account_id = {anna} AND id >= 1 AND id <= 1000000000 ORDER BY id DESC LIMIT 21")),
        ("transactions from=later (none): its first posting", format!("SELECT id FROM postings WHERE account_id = {anna} AND created_at >= '2099-01-01 00:00:00' ORDER BY created_at, id LIMIT 1")),
        ("statement: postings of a month", format!("SELECT * FROM postings WHERE account_id = {anna} AND created_at >= '2026-11-01 00:00:00' AND created_at < '{now}' ORDER BY created_at, id LIMIT 50001")),
        ("invoice: fees of a month", format!("SELECT * FROM postings WHERE account_id = {shop} AND kind = 'fee' AND created_at >= '2026-11-01 00:00:00' AND created_at < '{now}' ORDER BY id DESC")),
        ("statement and balance: running figures before a date", format!("SELECT debited_through, balance_after FROM postings WHERE account_id = {anna} AND created_at < '2026-11-01 00:00:00' ORDER BY created_at DESC, id DESC LIMIT 1")),
    ];
    for (name, q) in queries {
        let lines: Vec<String> = if pg {
            diesel::sql_query(format!("EXPLAIN {q}"))
                .load::<PlanRow>(c)
                .unwrap()
                .into_iter()
                .map(|r| r.plan)
                .collect()
        } else {
            diesel::sql_query(format!("EXPLAIN QUERY PLAN {q}"))
                .load::<SqlitePlanRow>(c)
                .unwrap()
                .into_iter()
                .map(|r| r.detail)
                .collect()
        };
        println!("  {name}: {}", lines.join(" | "));
    }
}

async fn run(db_url: String, sizes: Vec<i64>) {
    let pg = db_url.starts_with("postgres");
    let app = Application::build(
        {
            let mut c = config(&db_url);
            c.app_token_ttl_secs = 24 * 3600;
            c
        },
        Clock::system(),
    )
    .await
    .expect("server builds");
    let api = Api {
        client: common::client(),
        base: format!("http://127.0.0.1:{}", app.port()),
    };
    tokio::spawn(app.run_until_stopped());
    let anon = |path: &str, body: Value| {
        let api = &api;
        let path = path.to_string();
        async move {
            let res = api
                .client
                .post(format!("{}{path}", api.base))
                .json(&body)
                .send()
                .await
                .unwrap();
            assert!(res.status().is_success(), "{path}: {}", res.status());
            res.json::<Value>().await.unwrap()
        }
    };
    anon("/v1/accounts", json!({"kind": "corporate", "username": "shop", "password": PASSWORD,
        "email": "shop@shop.example", "company_name": "Shop GmbH", "iban": "DE89370400440532013000"})).await;
    common::onboard(&api.client, &api.base, "shop", PASSWORD).await;
    let shop = anon(
        "/v1/auth/tokens",
        json!({"username": "shop", "password": PASSWORD}),
    )
    .await["token"]
        .as_str()
        .unwrap()
        .to_string();
    anon("/v1/accounts", json!({"kind": "private", "username": "anna", "password": PASSWORD, "email": "anna@example.com"})).await;
    let anna = anon(
        "/v1/sessions",
        json!({"username": "anna", "password": PASSWORD}),
    )
    .await["access_token"]
        .as_str()
        .unwrap()
        .to_string();
    api.call(
        reqwest::Method::PUT,
        "/v1/me/pin",
        &anna,
        json!({"pin": PIN, "password": PASSWORD}),
    )
    .await;

    for i in 0..OTHERS {
        anon("/v1/accounts", json!({"kind": "corporate", "username": format!("merchant{i}"),
            "password": PASSWORD, "email": format!("m{i}@shop.example"), "company_name": format!("Merchant {i}"), "iban": "DE89370400440532013000"})).await;
    }
    for i in 0..OTHERS {
        anon(
            "/v1/accounts",
            json!({"kind": "private", "username": format!("payer{i}"),
            "password": PASSWORD, "email": format!("p{i}@example.com")}),
        )
        .await;
    }

    let db = Db::connect(&db_url, 1).expect("bench connection");
    let mut c = db.get().expect("connection");
    let ids = (account_id(&mut c, "shop"), account_id(&mut c, "anna"));
    let others = (
        account_id(&mut c, "merchant0"),
        account_id(&mut c, "payer0"),
    );
    assert_eq!(
        (
            account_id(&mut c, &format!("merchant{}", OTHERS - 1)),
            account_id(&mut c, &format!("payer{}", OTHERS - 1))
        ),
        (others.0 + OTHERS - 1, others.1 + OTHERS - 1),
        "the other accounts' ids are consecutive"
    );
    let total = *sizes.last().unwrap();
    quiet_month(&mut c, ids.1);
    let mut seeded = 0;
    // Seeded history spans the 58 days before now: 30 days ago is before all of it at 10k
    // and 100k requests and halfway through it at 1M.
    let to_month_ago: &str = Box::leak(
        format!(
            "/v1/transactions?limit=20&to={}",
            (chrono::Utc::now() - chrono::Duration::days(30)).format("%Y-%m-%dT%H:%M:%SZ")
        )
        .into_boxed_str(),
    );
    let reads: [(&str, &str, bool); 20] = [
        ("merchant GET /v1/balance", "/v1/balance", true),
        (
            "merchant GET /v1/transactions",
            "/v1/transactions?limit=20",
            true,
        ),
        ("merchant list", "/v1/money-requests?limit=20", true),
        (
            "merchant list status=cancelled (none)",
            "/v1/money-requests?limit=20&status=cancelled",
            true,
        ),
        (
            "merchant list status=pending (none)",
            "/v1/money-requests?limit=20&status=pending",
            true,
        ),
        (
            "merchant list kind=link (none)",
            "/v1/money-requests?limit=20&kind=link",
            true,
        ),
        ("merchant status read", "/v1/money-requests/mr_seed7", true),
        ("payer GET /v1/balance", "/v1/balance", false),
        (
            "payer GET /v1/transactions",
            "/v1/transactions?limit=20",
            false,
        ),
        (
            "payer GET /v1/transactions kind=payment",
            "/v1/transactions?limit=20&kind=payment",
            false,
        ),
        (
            "payer GET /v1/transactions kind=refund (none)",
            "/v1/transactions?limit=20&kind=refund",
            false,
        ),
        (
            "payer GET /v1/transactions to=long ago",
            "/v1/transactions?limit=20&to=2025-07-01T00:00:00Z",
            false,
        ),
        (
            "payer GET /v1/transactions from=later (none)",
            "/v1/transactions?limit=20&from=2099-01-01T00:00:00Z",
            false,
        ),
        (
            "payer GET /v1/transactions to=30 days ago",
            to_month_ago,
            false,
        ),
        (
            "payer GET /v1/transactions to=later (all)",
            "/v1/transactions?limit=20&to=2099-01-01T00:00:00Z",
            false,
        ),
        (
            "payer GET /v1/transactions from=long ago (all)",
            "/v1/transactions?limit=20&from=2020-01-01T00:00:00Z",
            false,
        ),
        ("wallet inbox", "/v1/wallet/money-requests?limit=20", false),
        ("payer statement of a quiet month", QUIET_STATEMENT, false),
        (
            "wallet inbox status=approved",
            "/v1/wallet/money-requests?limit=20&status=approved",
            false,
        ),
        (
            "wallet inbox status=pending (none)",
            "/v1/wallet/money-requests?limit=20&status=pending",
            false,
        ),
    ];
    let mut table: Vec<(String, Vec<(f64, f64)>)> = reads
        .iter()
        .map(|(n, _, _)| (n.to_string(), Vec::new()))
        .collect();
    for &size in &sizes {
        let started = Instant::now();
        seed(&mut c, pg, (seeded + 1, size, total), ids, others);
        println!(
            "seeded {size} requests in {:.1} s",
            started.elapsed().as_secs_f64()
        );
        seeded = size;
        for (k, (_, path, merchant)) in reads.iter().enumerate() {
            let token = if *merchant { &shop } else { &anna };
            table[k].1.push(api.time(path, token).await);
        }
    }
    let report = pinpay::ledger::verify::verify(&mut c).expect("verify");
    println!(
        "ledger after seeding: {} ({} transactions, {} postings)",
        if report.ok { "verified" } else { "VIOLATED" },
        report.transactions,
        report.postings
    );
    for v in report.violations.iter().take(5) {
        println!("  {}: {}", v.check, v.detail);
    }
    let head: Vec<String> = sizes.iter().map(|s| format!("{s}")).collect();
    println!(
        "\n| read, p50 / p99 ms | {} |\n|---|{}",
        head.join(" | "),
        "---|".repeat(sizes.len())
    );
    for (name, cells) in &table {
        let cells: Vec<String> = cells
            .iter()
            .map(|(p50, p99)| format!("{p50:.2} / {p99:.2}"))
            .collect();
        println!("| {name} | {} |", cells.join(" | "));
    }
    println!("\nplans at {total} requests:");
    plans(&mut c, pg, ids);
    status_read_throughput(&api, &shop, total).await;
}

/// Status reads at this size: the maximum from 8 clients (closed loop), then 70 % of it
/// offered on a schedule (open loop, latency from the scheduled send time).
async fn status_read_throughput(api: &Api, token: &str, seeded: i64) {
    let (client, base, token) = (api.client.clone(), api.base.clone(), token.to_string());
    let read = move |seq: usize| {
        let (client, token) = (client.clone(), token.clone());
        let path = format!(
            "{base}/v1/money-requests/mr_seed{}",
            seq as i64 % seeded.min(9000) + 1
        );
        async move {
            match client.get(path).bearer_auth(&token).send().await {
                Ok(res) => res.status().is_success() && res.bytes().await.is_ok(),
                Err(_) => false,
            }
        }
    };
    let run = std::time::Duration::from_secs(5);
    println!();
    let max = load::closed(8, run, read.clone()).await;
    max.print("status reads", "closed, 8 clients");
    load::open(max.rate * 0.7, run, read)
        .await
        .print("status reads", "open at 70 %");
}

fn main() {
    // The allocator as the `pinpay` binary sets it up.
    pinpay::startup::bound_malloc_arenas();
    let sizes: Vec<i64> = std::env::var("BENCH_SIZES")
        .unwrap_or_else(|_| "10000,100000,1000000".into())
        .split(',')
        .map(|s| s.trim().parse().expect("BENCH_SIZES: numbers"))
        .collect();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    let (url, cleanup) = common::fresh_database("pinpay_reads");
    rt.block_on(run(url, sizes));
    cleanup();
    std::process::exit(0);
}
