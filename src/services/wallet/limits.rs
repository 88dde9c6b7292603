//! The tier limits applied to one money movement, read inside the moving transaction
//! (after the accounts are locked) so concurrent movements cannot both pass a limit
//! that only one fits.

use crate::db::models::Account;
use crate::db::DbConn;
use crate::domain::account::AccountKind;
use crate::domain::calendar::Calendar;
use crate::domain::money::Money;
use crate::domain::tiers::{check_amount, check_count, check_total, TierRules, TierTable};
use crate::error::ApiResult;
use crate::ledger::usage::{self, Side};
use chrono::{DateTime, Utc};

/// What a limit check needs besides the connection.
pub struct LimitCtx<'a> {
    pub tiers: &'a TierTable,
    pub calendar: Calendar,
    pub now: DateTime<Utc>,
}

impl LimitCtx<'_> {
    pub fn rules(&self, account: &Account) -> &TierRules {
        self.tiers.for_kind(AccountKind::from_db(&account.kind))
    }

    /// `transactions_per_day`: every money movement of the account, fees excluded.
    pub fn movement(&self, c: &mut DbConn, account: &Account) -> ApiResult<()> {
        let max = self.rules(account).limits.transactions_per_day;
        if max.is_some() {
            let used = usage::movements(c, account.id, self.calendar.day(self.now))?;
            check_count("transactions_per_day", max, used)?;
        }
        Ok(())
    }

    pub fn deposit(&self, c: &mut DbConn, account: &Account, amount: Money) -> ApiResult<()> {
        let l = &self.rules(account).limits;
        if l.deposits_per_day.is_some() {
            let used = usage::count(
                c,
                account.id,
                "deposit",
                Side::Credits,
                self.calendar.day(self.now),
            )?;
            check_count("deposits_per_day", l.deposits_per_day, used)?;
        }
        if l.deposit_total_per_year.is_some() {
            let used = usage::total(
                c,
                account.id,
                Some("deposit"),
                Side::Credits,
                self.calendar.year(self.now),
            )?;
            check_total(
                "deposit_total_per_year",
                l.deposit_total_per_year,
                used,
                amount,
            )?;
        }
        self.movement(c, account)
    }

    pub fn payout(&self, c: &mut DbConn, account: &Account, amount: Money) -> ApiResult<()> {
        let l = &self.rules(account).limits;
        check_amount(
            l.min_per_transaction,
            "max_payout_per_transaction",
            l.max_payout_per_transaction,
            amount,
        )?;
        if l.payouts_per_day.is_some() {
            let used = usage::count(
                c,
                account.id,
                "payout",
                Side::Debits,
                self.calendar.day(self.now),
            )?;
            check_count("payouts_per_day", l.payouts_per_day, used)?;
        }
        if l.payout_total_per_year.is_some() {
            let used = usage::total(
                c,
                account.id,
                Some("payout"),
                Side::Debits,
                self.calendar.year(self.now),
            )?;
            check_total(
                "payout_total_per_year",
                l.payout_total_per_year,
                used,
                amount,
            )?;
        }
        self.movement(c, account)
    }

    /// The paying side of a transfer or purchase: min and max per transaction.
    pub fn sender(&self, c: &mut DbConn, account: &Account, amount: Money) -> ApiResult<()> {
        let l = &self.rules(account).limits;
        check_amount(
            l.min_per_transaction,
            "max_per_transaction",
            l.max_per_transaction,
            amount,
        )?;
        self.movement(c, account)
    }

    /// The receiving side: its tier's maximum per transaction and daily movements.
    pub fn receiver(&self, c: &mut DbConn, account: &Account, amount: Money) -> ApiResult<()> {
        let l = &self.rules(account).limits;
        check_amount(None, "max_per_transaction", l.max_per_transaction, amount)
            .and_then(|()| self.movement(c, account))
            .map_err(|e| e.with("party", "recipient"))
    }
}
