//! The ledger's invariants, checked over the whole database: every transaction has at
//! least two postings summing to zero, no wallet is negative, all balances (system
//! accounts included) sum to zero, every balance equals the sum of its postings, the
//! running debit totals and balances equal the postings', and each account's postings
//! are booked in id order.

use crate::db::{DbConn, MultiBackend};
use diesel::prelude::*;
use diesel::sql_types::{BigInt, Text};
use serde::Serialize;

#[derive(Debug, Serialize)]
pub struct Report {
    pub ok: bool,
    pub transactions: i64,
    pub postings: i64,
    pub accounts: i64,
    pub balance_sum: String,
    pub violations: Vec<Violation>,
}

#[derive(Debug, Serialize)]
pub struct Violation {
    pub check: &'static str,
    pub detail: String,
}

#[derive(QueryableByName)]
struct Row {
    #[diesel(sql_type = BigInt)]
    id: i64,
    #[diesel(sql_type = BigInt)]
    value: i64,
}

#[derive(QueryableByName)]
struct NamedRow {
    #[diesel(sql_type = Text)]
    name: String,
    #[diesel(sql_type = BigInt)]
    value: i64,
    #[diesel(sql_type = BigInt)]
    other: i64,
}

#[derive(QueryableByName)]
struct Scalar {
    #[diesel(sql_type = BigInt)]
    value: i64,
}

fn scalar(c: &mut DbConn, query: &str) -> QueryResult<i64> {
    diesel::sql_query(query)
        .get_result::<Scalar>(c)
        .map(|s| s.value)
}

/// Adds a violation of `check` for each row `query` returns, described by `detail`.
fn flag<R>(
    c: &mut DbConn,
    violations: &mut Vec<Violation>,
    check: &'static str,
    query: &str,
    detail: impl Fn(R) -> String,
) -> QueryResult<()>
where
    R: QueryableByName<MultiBackend> + 'static,
{
    let rows: Vec<R> = diesel::sql_query(query).load(c)?;
    violations.extend(rows.into_iter().map(|r| Violation {
        check,
        detail: detail(r),
    }));
    Ok(())
}

pub fn verify(c: &mut DbConn) -> QueryResult<Report> {
    let mut violations = Vec::new();
    let v = &mut violations;
    flag(
        c,
        v,
        "transaction_balanced",
        "SELECT transaction_id AS id, CAST(SUM(amount) AS BIGINT) AS value FROM postings \
         GROUP BY transaction_id HAVING SUM(amount) <> 0",
        |r: Row| format!("transaction {} sums to {} cents", r.id, r.value),
    )?;
    flag(
        c,
        v,
        "transaction_has_two_postings",
        "SELECT t.id AS id, CAST(COUNT(p.id) AS BIGINT) AS value FROM ledger_transactions t \
         LEFT JOIN postings p ON p.transaction_id = t.id GROUP BY t.id HAVING COUNT(p.id) < 2",
        |r: Row| format!("transaction {} has {} postings", r.id, r.value),
    )?;
    flag(
        c,
        v,
        "wallet_not_negative",
        "SELECT username AS name, balance AS value, CAST(0 AS BIGINT) AS other FROM accounts \
         WHERE kind <> 'system' AND balance < 0",
        |r: NamedRow| format!("{} has balance {} cents", r.name, r.value),
    )?;
    flag(
        c,
        v,
        "balance_matches_postings",
        "SELECT a.username AS name, a.balance AS value, CAST(COALESCE(SUM(p.amount), 0) AS BIGINT) AS other \
         FROM accounts a LEFT JOIN postings p ON p.account_id = a.id \
         GROUP BY a.id, a.username, a.balance HAVING a.balance <> COALESCE(SUM(p.amount), 0)",
        |r: NamedRow| {
            format!(
                "{} has balance {} cents but postings sum to {}",
                r.name, r.value, r.other
            )
        },
    )?;
    // The running debit totals the balance view reads: each account's total and the last
    // posting's running figure equal the sum of its debits.
    flag(
        c,
        v,
        "debit_totals_match_postings",
        "SELECT a.username AS name, a.debited_total AS value, \
         CAST(COALESCE(SUM(CASE WHEN p.amount < 0 THEN -p.amount ELSE 0 END), 0) AS BIGINT) AS other \
         FROM accounts a LEFT JOIN postings p ON p.account_id = a.id \
         GROUP BY a.id, a.username, a.debited_total \
         HAVING a.debited_total <> COALESCE(SUM(CASE WHEN p.amount < 0 THEN -p.amount ELSE 0 END), 0) \
         OR a.debited_total <> COALESCE((SELECT q.debited_through FROM postings q \
             WHERE q.account_id = a.id ORDER BY q.id DESC LIMIT 1), 0)",
        |r: NamedRow| {
            format!(
                "{} has a running debit total of {} cents but was debited {}",
                r.name, r.value, r.other
            )
        },
    )?;
    // The running balances statements read: each posting's equals its account's postings
    // summed through it (so the last one's equals the account's balance, checked above).
    flag(
        c,
        v,
        "running_balances_match_postings",
        "SELECT a.username AS name, s.balance_after AS value, CAST(s.running AS BIGINT) AS other \
         FROM (SELECT account_id, balance_after, \
                 SUM(amount) OVER (PARTITION BY account_id ORDER BY id) AS running \
               FROM postings) s \
         JOIN accounts a ON a.id = s.account_id \
         WHERE s.balance_after <> s.running",
        |r: NamedRow| {
            format!(
                "a posting of {} has a running balance of {} cents but its account's postings sum to {} through it",
                r.name, r.value, r.other
            )
        },
    )?;
    // Booking order is id order on every account: statements take the running balance of
    // the last posting booked before a date, which holds only if no posting is booked
    // earlier than one before it.
    flag(
        c,
        v,
        "postings_in_booking_order",
        "SELECT a.username AS name, s.id AS value, s.previous AS other \
         FROM (SELECT id, account_id, created_at, \
                 LAG(created_at) OVER (PARTITION BY account_id ORDER BY id) AS previous_at, \
                 LAG(id) OVER (PARTITION BY account_id ORDER BY id) AS previous \
               FROM postings) s \
         JOIN accounts a ON a.id = s.account_id \
         WHERE s.created_at < s.previous_at",
        |r: NamedRow| {
            format!(
                "a posting of {} (id {}) is booked earlier than the one before it (id {})",
                r.name, r.value, r.other
            )
        },
    )?;
    let balance_sum = scalar(
        c,
        "SELECT CAST(COALESCE(SUM(balance), 0) AS BIGINT) AS value FROM accounts",
    )?;
    if balance_sum != 0 {
        violations.push(Violation {
            check: "balances_sum_to_zero",
            detail: format!("all balances sum to {balance_sum} cents"),
        });
    }
    Ok(Report {
        ok: violations.is_empty(),
        transactions: scalar(
            c,
            "SELECT CAST(COUNT(*) AS BIGINT) AS value FROM ledger_transactions",
        )?,
        postings: scalar(c, "SELECT CAST(COUNT(*) AS BIGINT) AS value FROM postings")?,
        accounts: scalar(c, "SELECT CAST(COUNT(*) AS BIGINT) AS value FROM accounts")?,
        balance_sum: crate::domain::money::Money::cents(balance_sum).to_string(),
        violations,
    })
}
