//! Payouts: PIN-confirmed withdrawal to the account's own bank account, booked to
//! `bank_clearing`, with the payout fee and the payout limits. A merchant's payout goes
//! only to a verified bank account. Every payout (withdrawals and the 0.02 EUR
//! verification payouts) has a record the bank integration reads and marks executed.

use crate::db::accounts as q;
use crate::db::models::Account;
use crate::db::schema::{accounts, payouts as po};
use crate::db::{write_tx, DbConn};
use crate::domain::account::AccountKind;
use crate::domain::money::Money;
use crate::domain::requests::public_id;
use crate::domain::sca::Binding;
use crate::domain::status::PayoutStatus;
use crate::domain::time::rfc3339;
use crate::error::{ApiError, ApiResult};
use crate::ledger::{self, insufficient_funds, Entry, Leg, TxKind};
use crate::services::idempotency::{sealed_tx, OnCommit};
use crate::services::identity::passkeys::{self, Ceremony, Confirmed, DeviceFactor};
use crate::services::wallet::limits::LimitCtx;
use crate::services::wallet::money;
use crate::services::Context;
use chrono::NaiveDateTime;
use diesel::prelude::*;
use serde::Deserialize;
use serde::Serialize;
use webauthn_rs::prelude::PublicKeyCredential;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PayoutRequest {
    pub amount: String,
    pub pin: String,
    /// The passkey's assertion of the payout's challenge (`POST /v1/payouts/passkey-challenge`).
    #[serde(default)]
    pub webauthn: Option<PublicKeyCredential>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PayoutChallenge {
    pub amount: String,
}

/// What a passkey signs for a payout: the amount to the account's own IBAN.
fn binding(amount: Money, iban: &str) -> Binding {
    Binding {
        operation: "payout".into(),
        amount,
        currency: "EUR",
        payee: iban.to_string(),
    }
}

/// Opens the passkey challenge for a payout of `amount` to the current bank account.
pub async fn passkey_challenge(
    state: &Context,
    account: &Account,
    req: PayoutChallenge,
) -> ApiResult<Ceremony> {
    let amount = Money::parse_amount("amount", &req.amount)?;
    let iban = account
        .iban
        .clone()
        .ok_or_else(crate::domain::onboarding::no_bank_account)?;
    passkeys::challenge(state, account.id, binding(amount, &iban)).await
}

/// The fee of a payout from `account` (its tier's), shown before the PIN.
pub fn fee(state: &Context, account: &Account) -> Money {
    let limits = LimitCtx {
        tiers: &state.tiers,
        calendar: state.calendar,
        now: state.clock.now(),
    };
    limits.rules(account).fees.payout
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
    state: &Context,
    account: &Account,
    req: PayoutRequest,
    on_commit: OnCommit<Payout>,
) -> ApiResult<Payout> {
    let amount = Money::parse_amount("amount", &req.amount)?;
    if account.iban.is_none() {
        return Err(crate::domain::onboarding::no_bank_account());
    }
    let merchant = AccountKind::from_db(&account.kind).is_merchant();
    if merchant && account.bank_verified_at.is_none() {
        return Err(crate::domain::onboarding::bank_account_not_verified());
    }
    let device = DeviceFactor::new(state, req.webauthn);
    let (factor, now) = (device.clone(), state.clock.now_naive());
    // The passkey signs the payout to the IBAN as the PIN check's turn reads it.
    let admit = move |c: &mut DbConn, row: Option<Account>| {
        let account = row.ok_or_else(|| ApiError::not_found("No such account."))?;
        let iban = account.iban.clone().unwrap_or_default();
        factor.admit(c, account.id, amount, |_| Ok(binding(amount, &iban)), now)?;
        Ok(account)
    };
    let (confirmed, admitted) =
        Confirmed::check(state, account.id, &req.pin, device, admit).await?;

    let (tiers, calendar, now) = (state.tiers.clone(), state.calendar, state.clock.now());
    let id = account.id;
    state
        .db
        .run(move |c| {
            let mut confirmed_here = false;
            let done = sealed_tx(c, on_commit, |c| {
                let account = q::lock(c, id)?.ok_or_else(ApiError::internal)?;
                let factors = confirmed.commit_locked(c, &account, now.naive_utc())?;
                confirmed_here = true;
                // The IBAN may have changed since the checks above: pay the current one,
                // only if it is the one the payer confirmed.
                let iban = account
                    .iban
                    .clone()
                    .ok_or_else(crate::domain::onboarding::no_bank_account)?;
                if account.iban != admitted.iban {
                    return Err(ApiError::conflict(
                        "bank_account_changed",
                        "The bank account changed while the payout was confirmed; nothing was \
                         paid out. Confirm it again.",
                    ));
                }
                if merchant && account.bank_verified_at.is_none() {
                    return Err(crate::domain::onboarding::bank_account_not_verified());
                }
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
                let transaction_id = money::post(
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
                        factors: Some(factors.as_str()),
                    },
                    at,
                )?;
                money::charge_fee(c, account.id, fee, transaction_id, "Payout fee", at)?;
                record(
                    c,
                    NewPayout {
                        account_id: account.id,
                        purpose: "withdrawal",
                        amount,
                        iban: &iban,
                        bic: account.bic.as_deref(),
                        subject: &format!("PinPay payout {}", account.username),
                        transaction_id,
                    },
                    at,
                )?;
                Ok(Payout {
                    transaction_id,
                    amount,
                    fee,
                    iban,
                    created_at: at,
                })
            });
            confirmed.settle(c, confirmed_here && done.is_ok(), now.naive_utc());
            done
        })
        .await
}

/// What a payout record says: where the money goes and the transfer's subject.
pub struct NewPayout<'a> {
    pub account_id: i64,
    pub purpose: &'static str,
    pub amount: Money,
    pub iban: &'a str,
    pub bic: Option<&'a str>,
    pub subject: &'a str,
    pub transaction_id: i64,
}

/// Writes the payout record, pending execution, in the caller's transaction.
pub fn record(c: &mut DbConn, p: NewPayout, now: NaiveDateTime) -> ApiResult<i64> {
    Ok(diesel::insert_into(po::table)
        .values((
            po::public_id.eq(public_id("po")),
            po::account_id.eq(p.account_id),
            po::purpose.eq(p.purpose),
            po::amount.eq(p.amount.as_cents()),
            po::iban.eq(p.iban),
            po::bic.eq(p.bic),
            po::subject.eq(p.subject),
            po::status.eq(PayoutStatus::Pending.as_str()),
            po::transaction_id.eq(p.transaction_id),
            po::created_at.eq(now),
        ))
        .returning(po::id)
        .get_result(c)?)
}

/// A payout as the operator and the bank integration see it.
#[derive(Serialize, Debug)]
pub struct PayoutRecord {
    pub id: String,
    pub object: &'static str,
    pub account: String,
    pub purpose: String,
    pub amount: Money,
    pub currency: &'static str,
    pub iban: String,
    pub bic: Option<String>,
    pub subject: String,
    pub status: String,
    pub transaction_id: String,
    pub created_at: String,
    pub executed_at: Option<String>,
}

type Row = (
    i64,
    String,
    String,
    String,
    i64,
    String,
    Option<String>,
    String,
    String,
    i64,
    NaiveDateTime,
    Option<NaiveDateTime>,
);

/// The columns of a [`Row`], with the account's username.
const COLUMNS: (
    po::id,
    po::public_id,
    accounts::username,
    po::purpose,
    po::amount,
    po::iban,
    po::bic,
    po::subject,
    po::status,
    po::transaction_id,
    po::created_at,
    po::executed_at,
) = (
    po::id,
    po::public_id,
    accounts::username,
    po::purpose,
    po::amount,
    po::iban,
    po::bic,
    po::subject,
    po::status,
    po::transaction_id,
    po::created_at,
    po::executed_at,
);

fn to_record(r: Row) -> PayoutRecord {
    let (_, id, account, purpose, amount, iban, bic, subject, status, txn, created, executed) = r;
    PayoutRecord {
        id,
        object: "payout",
        account,
        purpose,
        amount: Money::cents(amount),
        currency: "EUR",
        iban,
        bic,
        subject,
        status,
        transaction_id: ledger::txn_public_id(txn),
        created_at: rfc3339(created),
        executed_at: executed.map(rfc3339),
    }
}

/// The payouts, newest first, optionally of one status; cursor `starting_after` (a
/// payout id).
pub async fn list(
    state: &Context,
    status: Option<String>,
    starting_after: Option<String>,
    limit: i64,
) -> ApiResult<(Vec<PayoutRecord>, bool)> {
    let status = PayoutStatus::filter(status.as_deref())?;
    let rows: Vec<Row> = state
        .db
        .run(move |c| {
            let mut q = po::table
                .inner_join(accounts::table.on(accounts::id.eq(po::account_id)))
                .into_boxed();
            if let Some(s) = status {
                q = q.filter(po::status.eq(s.as_str()));
            }
            if let Some(after) = starting_after {
                let id: i64 = po::table
                    .filter(po::public_id.eq(&after))
                    .select(po::id)
                    .first(c)
                    .optional()?
                    .ok_or_else(ApiError::unknown_cursor)?;
                q = q.filter(po::id.lt(id));
            }
            Ok(q.order(po::id.desc())
                .limit(limit + 1)
                .select(COLUMNS)
                .load(c)?)
        })
        .await?;
    let has_more = rows.len() as i64 > limit;
    Ok((
        rows.into_iter()
            .take(limit as usize)
            .map(to_record)
            .collect(),
        has_more,
    ))
}

/// Marks a pending payout executed (the bank transfer went out); a verification payout's
/// code leaves its subject then. Audited in the same transaction.
pub async fn mark_executed(
    state: &Context,
    actor: crate::services::operator::audit::Actor,
    public: String,
) -> ApiResult<PayoutRecord> {
    let now = state.clock.now_naive();
    state
        .db
        .run(move |c| {
            write_tx(c, |c| {
                let found: Option<(i64, String, String)> = po::table
                    .filter(po::public_id.eq(&public))
                    .select((po::id, po::status, po::purpose))
                    .first(c)
                    .optional()?;
                let (id, status, purpose) =
                    found.ok_or_else(|| ApiError::not_found("No payout has this id."))?;
                if PayoutStatus::parse(&status) != Some(PayoutStatus::Pending) {
                    return Err(ApiError::conflict(
                        "payout_already_executed",
                        "This payout is marked executed already.",
                    ));
                }
                let subject = match purpose.as_str() {
                    "verification" => Some(crate::domain::onboarding::redacted_subject()),
                    _ => None,
                };
                diesel::update(po::table.find(id))
                    .set((
                        po::status.eq(PayoutStatus::Executed.as_str()),
                        po::executed_at.eq(now),
                    ))
                    .execute(c)?;
                if let Some(subject) = subject {
                    diesel::update(po::table.find(id))
                        .set(po::subject.eq(subject))
                        .execute(c)?;
                }
                crate::services::operator::audit::record(
                    c,
                    &actor,
                    "payout.executed",
                    &public,
                    None,
                    now,
                )?;
                let row: Row = po::table
                    .inner_join(accounts::table.on(accounts::id.eq(po::account_id)))
                    .filter(po::id.eq(id))
                    .select(COLUMNS)
                    .first(c)?;
                Ok(to_record(row))
            })
        })
        .await
}
