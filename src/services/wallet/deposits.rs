//! Deposits (top-ups): money that arrived by bank transfer, booked by the operator from
//! `bank_clearing` to the wallet, under the tier's top-up limits. A bank reference is
//! booked once; repeating it returns the original booking.

use crate::db::models::Account;
use crate::db::schema::{ledger_transactions as lt, postings};
use crate::db::{accounts as q, DbConn};
use crate::domain::account::{text_field, AccountKind};
use crate::domain::money::Money;
use crate::error::{ApiError, ApiResult};
use crate::ledger::{self, Entry, Leg, TxKind};
use crate::services::idempotency::{sealed_tx, OnCommit};
use crate::services::wallet::limits::LimitCtx;
use crate::services::wallet::money;
use crate::services::Context;
use chrono::NaiveDateTime;
use diesel::prelude::*;
use serde::Deserialize;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DepositRequest {
    pub username: String,
    pub amount: String,
    pub bank_reference: String,
}

#[derive(Debug)]
pub struct Deposit {
    pub transaction_id: i64,
    pub username: String,
    pub amount: Money,
    pub bank_reference: String,
    pub created_at: NaiveDateTime,
    /// True when this bank reference had already been booked.
    pub existing: bool,
}

pub async fn book(
    state: &Context,
    req: DepositRequest,
    on_commit: OnCommit<Deposit>,
) -> ApiResult<Deposit> {
    let amount = Money::parse_amount("amount", &req.amount)?;
    let reference = text_field("bank_reference", &req.bank_reference, 64)?;
    let username = req.username.to_ascii_lowercase();
    let (tiers, calendar, now) = (state.tiers.clone(), state.calendar, state.clock.now());
    state
        .db
        .run(move |c| {
            sealed_tx(c, on_commit, |c| {
                let external_ref = format!("deposit:{reference}");
                let repeat = |c: &mut DbConn| match existing(c, &external_ref, &reference)? {
                    Some(found) if found.username == username && found.amount == amount => {
                        Ok(Some(found))
                    }
                    Some(_) => Err(duplicate_reference()),
                    None => Ok(None),
                };
                if let Some(found) = repeat(c)? {
                    return Ok(found);
                }
                let account = q::find_by_username(c, &username)?
                    .filter(|a| AccountKind::from_db(&a.kind) != AccountKind::System)
                    .ok_or_else(|| {
                        ApiError::unprocessable("unknown_account", "No wallet has this username.")
                            .with("field", "username")
                    })?;
                let account: Account = q::lock(c, account.id)?.ok_or_else(ApiError::internal)?;
                LimitCtx {
                    tiers: &tiers,
                    calendar,
                    now,
                }
                .deposit(c, &account, amount)?;
                let clearing = ledger::system_account(c, "bank_clearing")?;
                let description = format!("Bank transfer {reference}");
                let naive_now = now.naive_utc();
                // In a savepoint: a concurrent booking of the same reference that committed
                // first makes this insert fail; then the booking is found and answered as
                // any other repeat is.
                let posted = c.transaction(|c| {
                    money::post(
                        c,
                        Entry {
                            kind: TxKind::Deposit,
                            legs: &[
                                Leg::debit(clearing, amount),
                                Leg::credit(account.id, amount),
                            ],
                            related_id: None,
                            external_ref: Some(&external_ref),
                            description: Some(&description),
                            factors: None,
                        },
                        naive_now,
                    )
                });
                let transaction_id = match posted {
                    Err(e) if e.code == ledger::DUPLICATE_REF => {
                        return repeat(c)?.ok_or_else(duplicate_reference);
                    }
                    other => other?,
                };
                Ok(Deposit {
                    transaction_id,
                    username: account.username,
                    amount,
                    bank_reference: reference.clone(),
                    created_at: naive_now,
                    existing: false,
                })
            })
        })
        .await
}

fn duplicate_reference() -> ApiError {
    ApiError::conflict(
        "duplicate_bank_reference",
        "This bank reference was already booked with another wallet or amount.",
    )
    .with("field", "bank_reference")
}

fn existing(c: &mut DbConn, external_ref: &str, reference: &str) -> ApiResult<Option<Deposit>> {
    let found: Option<(i64, NaiveDateTime)> = lt::table
        .filter(lt::external_ref.eq(external_ref))
        .select((lt::id, lt::created_at))
        .first(c)
        .optional()?;
    let Some((id, created_at)) = found else {
        return Ok(None);
    };
    let (account_id, cents): (i64, i64) = postings::table
        .filter(postings::transaction_id.eq(id))
        .filter(postings::amount.gt(0))
        .select((postings::account_id, postings::amount))
        .first(c)?;
    let account = q::find(c, account_id)?.ok_or_else(ApiError::internal)?;
    Ok(Some(Deposit {
        transaction_id: id,
        username: account.username,
        amount: Money::cents(cents),
        bank_reference: reference.to_string(),
        created_at,
        existing: true,
    }))
}
