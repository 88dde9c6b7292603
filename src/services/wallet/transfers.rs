//! Sending money between wallets: PIN-confirmed, the send fee by the recipient's kind
//! (merchants pay it, private wallets do not), limits on both sides.

use crate::db::accounts as q;
use crate::db::models::Account;
use crate::db::DbConn;
use crate::domain::account::{text_field, AccountKind};
use crate::domain::money::Money;
use crate::domain::sca::Binding;
use crate::error::{ApiError, ApiResult};
use crate::ledger::{insufficient_funds, Entry, Leg, TxKind};
use crate::services::idempotency::{sealed_tx, OnCommit};
use crate::services::identity::passkeys::{self, Ceremony, Confirmed, DeviceFactor};
use crate::services::wallet::limits::LimitCtx;
use crate::services::wallet::money;
use crate::services::Context;
use chrono::NaiveDateTime;
use serde::Deserialize;
use webauthn_rs::prelude::PublicKeyCredential;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TransferRequest {
    pub to: String,
    pub amount: String,
    pub pin: String,
    #[serde(default, deserialize_with = "crate::domain::input::present")]
    pub description: Option<String>,
    /// The passkey's assertion of the transfer's challenge
    /// (`POST /v1/transfers/passkey-challenge`).
    #[serde(default)]
    pub webauthn: Option<PublicKeyCredential>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TransferChallenge {
    pub to: String,
    pub amount: String,
}

/// What a passkey signs for a transfer: the amount to the recipient's username.
fn binding(amount: Money, to: &str) -> Binding {
    Binding {
        operation: "transfer".into(),
        amount,
        currency: "EUR",
        payee: to.to_ascii_lowercase(),
    }
}

/// Opens the passkey challenge for sending `amount` to `to`.
pub async fn passkey_challenge(
    state: &Context,
    sender: &Account,
    req: TransferChallenge,
) -> ApiResult<Ceremony> {
    let amount = Money::parse_amount("amount", &req.amount)?;
    passkeys::challenge(state, sender.id, binding(amount, &req.to)).await
}

#[derive(Debug)]
pub struct Transfer {
    pub transaction_id: i64,
    pub to: String,
    pub amount: Money,
    pub fee: Money,
    pub description: Option<String>,
    pub created_at: NaiveDateTime,
}

pub async fn send(
    state: &Context,
    sender: &Account,
    req: TransferRequest,
    on_commit: OnCommit<Transfer>,
) -> ApiResult<Transfer> {
    let amount = Money::parse_amount("amount", &req.amount)?;
    let description = req
        .description
        .as_deref()
        .map(|d| text_field("description", d, 140))
        .transpose()?;
    let to = req.to.to_ascii_lowercase();
    if to == sender.username {
        return Err(ApiError::invalid_field(
            "to",
            "You cannot send money to yourself.",
        ));
    }
    let device = DeviceFactor::new(state, req.webauthn);
    let (factor, bound, at) = (
        device.clone(),
        binding(amount, &to),
        state.clock.now_naive(),
    );
    let admit = move |c: &mut DbConn, row: Option<Account>| {
        let sender = row.ok_or_else(|| ApiError::not_found("No such account."))?;
        factor.admit(c, sender.id, amount, |_| Ok(bound.clone()), at)?;
        Ok(sender)
    };
    let (confirmed, _) = Confirmed::check(state, sender.id, &req.pin, device, admit).await?;

    let (tiers, calendar, now) = (state.tiers.clone(), state.calendar, state.clock.now());
    let sender_id = sender.id;
    state
        .db
        .run(move |c| {
            let mut confirmed_here = false;
            let done = sealed_tx(c, on_commit, |c| {
                let recipient = q::find_by_username(c, &to)?
                    .filter(|a| AccountKind::from_db(&a.kind) != AccountKind::System)
                    .ok_or_else(|| {
                        ApiError::unprocessable("unknown_recipient", "No wallet has this username.")
                            .with("field", "to")
                    })?;
                let (sender, recipient) = q::lock_pair(c, sender_id, recipient.id)?;
                // After the pair's lock, which orders the locks of concurrent transfers.
                let factors = confirmed.commit_locked(c, &sender, now.naive_utc())?;
                confirmed_here = true;
                let limits = LimitCtx {
                    tiers: &tiers,
                    calendar,
                    now,
                };
                limits.sender(c, &sender, amount)?;
                limits.receiver(c, &recipient, amount)?;
                let fee = limits
                    .rules(&sender)
                    .fees
                    .send_fee(AccountKind::from_db(&recipient.kind));
                if Money::cents(sender.balance) < amount + fee {
                    return Err(insufficient_funds());
                }
                let at = now.naive_utc();
                let transaction_id = money::post(
                    c,
                    Entry {
                        kind: TxKind::Transfer,
                        legs: &[
                            Leg::debit(sender.id, amount),
                            Leg::credit(recipient.id, amount),
                        ],
                        related_id: None,
                        external_ref: None,
                        description: description.as_deref(),
                        factors: Some(factors.as_str()),
                    },
                    at,
                )?;
                let fee_for = format!("Fee on transfer to {}", recipient.username);
                money::charge_fee(c, sender.id, fee, transaction_id, &fee_for, at)?;
                received(
                    c,
                    recipient.id,
                    &sender.username,
                    amount,
                    transaction_id,
                    at,
                )?;
                Ok(Transfer {
                    transaction_id,
                    to: recipient.username,
                    amount,
                    fee,
                    description,
                    created_at: at,
                })
            });
            confirmed.settle(c, confirmed_here && done.is_ok(), now.naive_utc());
            done
        })
        .await
}

/// What a transfer would cost before it is confirmed: the recipient as it is named and
/// the send fee (the wallet app shows both before the PIN).
#[derive(Debug)]
pub struct Quote {
    pub to: String,
    pub amount: Money,
    pub fee: Money,
}

/// The quote for sending `amount` to `to` (the same checks of the recipient and the
/// amount as `send`, none of the money: the balance and limits are checked on sending).
pub async fn quote(state: &Context, sender: &Account, to: &str, amount: &str) -> ApiResult<Quote> {
    let amount = Money::parse_amount("amount", amount)?;
    let to = to.trim().trim_start_matches('@').to_ascii_lowercase();
    if to == sender.username {
        return Err(ApiError::invalid_field(
            "to",
            "You cannot send money to yourself.",
        ));
    }
    let (tiers, calendar, now) = (state.tiers.clone(), state.calendar, state.clock.now());
    let sender = sender.clone();
    state
        .db
        .run(move |c| {
            let recipient = q::find_by_username(c, &to)?
                .filter(|a| AccountKind::from_db(&a.kind) != AccountKind::System)
                .ok_or_else(|| {
                    ApiError::unprocessable("unknown_recipient", "No wallet has this username.")
                        .with("field", "to")
                })?;
            let limits = LimitCtx {
                tiers: &tiers,
                calendar,
                now,
            };
            let fee = limits
                .rules(&sender)
                .fees
                .send_fee(AccountKind::from_db(&recipient.kind));
            Ok(Quote {
                to: recipient.username,
                amount,
                fee,
            })
        })
        .await
}

/// Tells the recipient's devices (Web Push) that money arrived.
fn received(
    c: &mut DbConn,
    recipient: i64,
    sender: &str,
    amount: Money,
    transaction_id: i64,
    now: NaiveDateTime,
) -> ApiResult<()> {
    use crate::services::messaging::push::{self, Push};
    push::queue(
        c,
        recipient,
        |_, lang| {
            let t = lang.t();
            Ok(Push {
                title: t.with("push-received-title", &[("amount", &lang.eur(amount))]),
                body: t.with("push-received-body", &[("sender", &format!("@{sender}"))]),
                url: "/app/money".into(),
                tag: crate::ledger::txn_public_id(transaction_id),
            })
        },
        now,
    )
}
