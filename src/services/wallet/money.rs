//! Every movement of money goes through here: the ledger books the legs and reports what
//! moved; the reactions to a balance run here, in the same transaction: the low-balance
//! alert (once per crossing) and the auto-reload order after a debit.

use crate::db::DbConn;
use crate::domain::money::Money;
use crate::error::ApiResult;
use crate::ledger::{self, Entry, Leg, Moved, TxKind};
use crate::services::wallet::{auto_reload, balance_alerts};
use chrono::NaiveDateTime;

/// Books `entry` and runs the reactions to the balances it moved; returns the
/// transaction id.
pub fn post(c: &mut DbConn, entry: Entry<'_>, now: NaiveDateTime) -> ApiResult<i64> {
    let posted = ledger::post(c, entry, now)?;
    for moved in &posted.moved {
        react(c, moved, now)?;
    }
    Ok(posted.transaction_id)
}

/// Writes `entry`'s transaction record; [`book`] books its legs later in the same
/// database transaction.
pub fn open(c: &mut DbConn, entry: &Entry<'_>, now: NaiveDateTime) -> ApiResult<i64> {
    ledger::open(c, entry, now)
}

/// Books the legs of a transaction [`open`] wrote, and runs the reactions.
pub fn book(c: &mut DbConn, txn_id: i64, entry: &Entry<'_>, now: NaiveDateTime) -> ApiResult<()> {
    let posted = ledger::book(c, txn_id, entry, now)?;
    for moved in &posted.moved {
        react(c, moved, now)?;
    }
    Ok(())
}

/// Books `fee` from `payer` to the `fees` account as a `fee` transaction tied to the
/// movement it was charged on. A zero fee books nothing.
pub fn charge_fee(
    c: &mut DbConn,
    payer: i64,
    fee: Money,
    related: i64,
    description: &str,
    now: NaiveDateTime,
) -> ApiResult<()> {
    if fee == Money::ZERO {
        return Ok(());
    }
    let fees = ledger::system_account(c, "fees")?;
    post(
        c,
        Entry {
            kind: TxKind::Fee,
            legs: &[Leg::debit(payer, fee), Leg::credit(fees, fee)],
            related_id: Some(related),
            external_ref: None,
            description: Some(description),
            factors: None,
        },
        now,
    )?;
    Ok(())
}

fn react(c: &mut DbConn, moved: &Moved, now: NaiveDateTime) -> ApiResult<()> {
    // The low-balance alert: a no-op unless the balance crossed the threshold one way or
    // the other.
    if let Some(threshold) = moved.alert_threshold {
        balance_alerts::crossed(
            c,
            moved.account_id,
            moved.after,
            threshold,
            moved.alert_armed,
            now,
        )?;
    }
    // Auto-reload: a debit that leaves the balance below `replenish_amount` orders one
    // reload (none while one is pending).
    if moved
        .reload_threshold
        .is_some_and(|replenish| moved.delta < 0 && moved.after < replenish)
    {
        auto_reload::order_auto(c, moved.account_id, now)?;
    }
    Ok(())
}
