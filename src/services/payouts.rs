//! Payouts: PIN-confirmed withdrawal to the account's own bank account, booked to
//! `bank_clearing`, with the payout fee and the payout limits.

use super::limits::LimitCtx;
use super::pins::verify_pin;
use crate::db::accounts as q;
use crate::db::models::Account;
use crate::domain::money::Money;
use crate::error::{ApiError, ApiResult};
use crate::ledger::{self, insufficient_funds, Entry, Leg, TxKind};
use crate::services::idempotency::{sealed_tx, OnCommit};
use crate::state::AppState;
use chrono::NaiveDateTime;
use serde::Deserialize;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PayoutRequest {
    pub amount: String,
    pub pin: String,
}

#[derive(Debug)]
pub struct Payout {
    pub transaction_id: i64,
    pub amount: Money,
    pub fee: Money,
    pub iban: String,
    pub created_at: NaiveDateTime,
}

pub async fn withdraw(
    state: &AppState,
    account: &Account,
    req: PayoutRequest,
    on_commit: OnCommit<Payout>,
) -> ApiResult<Payout> {
    let amount = Money::parse_amount("amount", &req.amount)?;
    let Some(iban) = account.iban.clone() else {
        return Err(ApiError::conflict(
            "no_bank_account",
            "Add a bank account (IBAN) before paying out.",
        ));
    };
    verify_pin(state, account.id, &req.pin).await?;

    let (tiers, calendar, now) = (state.tiers.clone(), state.calendar, state.clock.now());
    let id = account.id;
    state
        .db
        .run(move |c| {
            sealed_tx(c, on_commit, |c| {
                let account = q::lock(c, id)?.ok_or_else(ApiError::internal)?;
                let limits = LimitCtx {
                    tiers: &tiers,
                    calendar,
                    now,
                };
                limits.payout(c, &account, amount)?;
                let fee = limits.rules(&account).fees.payout;
                if Money::cents(account.balance) < amount + fee {
                    return Err(insufficient_funds());
                }
                let clearing = ledger::system_account(c, "bank_clearing")?;
                let at = now.naive_utc();
                let description = format!("Payout to {iban}");
                let transaction_id = ledger::post(
                    c,
                    Entry {
                        kind: TxKind::Payout,
                        legs: &[
                            Leg::debit(account.id, amount),
                            Leg::credit(clearing, amount),
                        ],
                        related_id: None,
                        external_ref: None,
                        description: Some(&description),
                    },
                    at,
                )?;
                ledger::charge_fee(c, account.id, fee, transaction_id, at)?;
                Ok(Payout {
                    transaction_id,
                    amount,
                    fee,
                    iban,
                    created_at: at,
                })
            })
        })
        .await
}
