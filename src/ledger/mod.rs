//! The double-entry ledger: every money movement is one transaction whose postings sum
//! to zero, with each account's balance moved in the same database transaction by a
//! guarded update (a wallet can never go below zero).
//! Callers run these inside `db::write_tx` after locking the accounts involved.

pub mod history;
pub mod usage;
pub mod verify;

use crate::db::schema::{accounts, ledger_transactions as lt, postings};
use crate::db::{unique_violation, Cached, DbConn};
use crate::domain::money::Money;
use crate::error::{ApiError, ApiResult};
use chrono::NaiveDateTime;
use diesel::dsl::case_when;
use diesel::prelude::*;
use serde::{Deserialize, Serialize};

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TxKind {
    Deposit,
    Payment,
    Fee,
    Refund,
    Transfer,
    Payout,
    Adjustment,
}

impl TxKind {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Deposit => "deposit",
            Self::Payment => "payment",
            Self::Fee => "fee",
            Self::Refund => "refund",
            Self::Transfer => "transfer",
            Self::Payout => "payout",
            Self::Adjustment => "adjustment",
        }
    }
}

/// One side of a movement: `amount` > 0 credits the account, < 0 debits it.
#[derive(Clone, Copy, Debug)]
pub struct Leg {
    pub account_id: i64,
    pub amount: Money,
}

impl Leg {
    pub fn debit(account_id: i64, amount: Money) -> Self {
        Self {
            account_id,
            amount: -amount,
        }
    }
    pub fn credit(account_id: i64, amount: Money) -> Self {
        Self { account_id, amount }
    }
}

pub struct Entry<'a> {
    pub kind: TxKind,
    pub legs: &'a [Leg],
    pub related_id: Option<i64>,
    pub external_ref: Option<&'a str>,
    pub description: Option<&'a str>,
    /// The factors that confirmed a payer's operation (`pin`, `pin+passkey`).
    pub factors: Option<&'a str>,
}

/// The error code when an `external_ref` was booked before (a race the caller lost).
pub const DUPLICATE_REF: &str = "duplicate_external_reference";

pub fn insufficient_funds() -> ApiError {
    ApiError::unprocessable(
        "insufficient_funds",
        "The wallet balance does not cover this amount and its fee.",
    )
}

/// What the balance update returns: the running debit total, the new balance, the
/// low-balance alert's threshold and whether it is armed, auto-reload's threshold, and
/// the posting's booking time.
type Updated = (i64, i64, Option<i64>, bool, Option<i64>, NaiveDateTime);

/// One account's balance as a posting moved it, with the account's settings that react
/// to a balance (as the same statement read them).
#[derive(Debug, Clone, Copy)]
pub struct Moved {
    pub account_id: i64,
    /// Cents: negative for a debit.
    pub delta: i64,
    pub before: i64,
    pub after: i64,
    /// The low-balance alert's threshold while enabled, and whether it is armed.
    pub alert_threshold: Option<i64>,
    pub alert_armed: bool,
    /// Auto-reload's `replenish_amount` while auto-reload is on.
    pub reload_threshold: Option<i64>,
}

/// What a booking did: its transaction and each leg's account as it moved.
#[derive(Debug)]
pub struct Posted {
    pub transaction_id: i64,
    pub moved: Vec<Moved>,
}

/// Books `entry`; returns the transaction and what moved. Fails with
/// `insufficient_funds` if a wallet would go negative (the caller's transaction then
/// rolls everything back). The ledger only books: reactions to a balance are the use
/// case's (`services::wallet::money`).
pub fn post(c: &mut DbConn, entry: Entry<'_>, now: NaiveDateTime) -> ApiResult<Posted> {
    let txn_id = open(c, &entry, now)?;
    book(c, txn_id, &entry, now)
}

/// Writes `entry`'s transaction record and returns its id; its legs are booked by
/// [`book`] later in the same database transaction (a payment names its transaction
/// before it takes the receiver's row lock, so that lock is held only for the booking).
pub fn open(c: &mut DbConn, entry: &Entry<'_>, now: NaiveDateTime) -> ApiResult<i64> {
    let legs = entry.legs;
    let sum: i64 = legs.iter().map(|l| l.amount.as_cents()).sum();
    if legs.len() < 2 || sum != 0 || legs.iter().any(|l| l.amount == Money::ZERO) {
        return Err(ApiError::internal_from(
            "ledger",
            format!("unbalanced entry {:?}", legs),
        ));
    }
    diesel::insert_into(lt::table)
        .values((
            lt::kind.eq(entry.kind.as_str()),
            lt::related_id.eq(entry.related_id),
            lt::external_ref.eq(entry.external_ref),
            lt::description.eq(entry.description),
            lt::created_at.eq(now),
            lt::factors.eq(entry.factors),
        ))
        .returning(lt::id)
        .get_result(c)
        .map_err(|e| {
            unique_violation(e, || {
                ApiError::conflict(DUPLICATE_REF, "This external reference was already booked.")
            })
        })
}

/// Books the legs of the transaction [`open`] wrote for `entry`; returns what moved.
pub fn book(
    c: &mut DbConn,
    txn_id: i64,
    entry: &Entry<'_>,
    now: NaiveDateTime,
) -> ApiResult<Posted> {
    let legs = entry.legs;
    let mut rows = Vec::with_capacity(legs.len());
    let mut moved_legs = Vec::with_capacity(legs.len());
    for (i, leg) in legs.iter().enumerate() {
        let delta = leg.amount.as_cents();
        let debit = (-delta).max(0);
        // System accounts may go negative; wallets only as far as zero. The running debit
        // total moves in the same statement, and so does the account's booking clock: the
        // posting is stamped `now`, or the account's previous posting's time if that is
        // later (`now` was read before this transaction waited for the account's row
        // lock, and another transaction may have booked on it meanwhile). Booking order
        // is then id order on every account, which running balances rely on.
        let updated: Option<Updated> = Cached(
            diesel::update(
                accounts::table.find(leg.account_id).filter(
                    accounts::kind
                        .eq("system")
                        .or((accounts::balance + delta).ge(0)),
                ),
            )
            .set((
                accounts::balance.eq(accounts::balance + delta),
                accounts::debited_total.eq(accounts::debited_total + debit),
                accounts::updated_at.eq(now),
                accounts::booking_clock.eq(case_when(
                    accounts::booking_clock.gt(now),
                    accounts::booking_clock,
                )
                .otherwise(now)),
            ))
            .returning((
                accounts::debited_total,
                accounts::balance,
                accounts::alert_threshold,
                accounts::alert_armed,
                accounts::reload_threshold,
                accounts::booking_clock,
            )),
        )
        .get_result(c)
        .optional()?;
        let Some((debited_through, balance, threshold, armed, reload_below, booked)) = updated
        else {
            return Err(insufficient_funds());
        };
        moved_legs.push(Moved {
            account_id: leg.account_id,
            delta,
            before: balance - delta,
            after: balance,
            alert_threshold: threshold,
            alert_armed: armed,
            reload_threshold: reload_below,
        });
        let counterparty = (legs.len() == 2).then(|| legs[1 - i].account_id);
        rows.push((
            postings::transaction_id.eq(txn_id),
            postings::account_id.eq(leg.account_id),
            postings::kind.eq(entry.kind.as_str()),
            postings::amount.eq(delta),
            postings::counterparty_id.eq(counterparty),
            postings::created_at.eq(booked),
            postings::debited_through.eq(debited_through),
            postings::balance_after.eq(balance),
        ));
    }
    // Every leg's posting in one statement (a batch insert is per backend in diesel). On
    // PostgreSQL it stays prepared (one shape per number of legs); SQLite's batch insert
    // takes diesel's own path.
    let insert = diesel::insert_into(postings::table).values(&rows);
    match c {
        DbConn::Pg(c) => Cached(insert.returning(postings::id))
            .get_results::<i64>(c)?
            .len(),
        DbConn::Sqlite(c) => insert.execute(c)?,
    };
    Ok(Posted {
        transaction_id: txn_id,
        moved: moved_legs,
    })
}

/// The id of a system account (`fees`, `bank_clearing`), created by the migrations.
pub fn system_account(c: &mut DbConn, name: &str) -> ApiResult<i64> {
    accounts::table
        .filter(accounts::username.eq(name))
        .filter(accounts::kind.eq("system"))
        .select(accounts::id)
        .first(c)
        .map_err(|e| ApiError::internal_from("system account missing", e))
}

/// Public ids: `txn_…` for transactions, `pst_…` for postings.
pub fn txn_public_id(id: i64) -> String {
    format!("txn_{id}")
}
