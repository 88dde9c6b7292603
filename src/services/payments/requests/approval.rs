//! The payer's side: inbox, approval with the PIN, decline.
//!
//! Approval is one database transaction: the request is still pending and before its
//! deadline by database time, both tiers' limits hold and the payer's balance covers
//! it; then the payer is debited, the merchant credited, the fee charged, the status
//! set and the callback written to the outbox. Any failure changes nothing.

use super::view::{payer_view, Names, RequestView};
use super::{
    announce, announce_row, as_of, find_by_public_id, lock_pending, not_found, page, record,
    record_approval, status_filter, Settled,
};
use crate::db::models::{Account, MoneyRequest};
use crate::db::schema::{link_pushes as lp, money_requests as mr};
use crate::db::{accounts as q, write_tx, Cached, DbConn};
use crate::domain::account::AccountKind;
use crate::domain::money::Money;
use crate::domain::requests::{not_pending, reason_code, Status};
use crate::domain::sca::{Binding, Factors};
use crate::domain::status::RequestStatus;
use crate::domain::tiers::check_count;
use crate::error::{ApiError, ApiResult};
use crate::ledger::usage::{self, Side};
use crate::ledger::{insufficient_funds, Entry, Leg, TxKind};
use crate::services::idempotency::OnCommit;
use crate::services::identity::passkeys::{self, Ceremony, Confirmed, DeviceFactor};
use crate::services::wallet::limits::LimitCtx;
use crate::services::wallet::money;
use crate::services::Context;
use chrono::NaiveDateTime;
use diesel::prelude::*;
use serde::Deserialize;
use webauthn_rs::prelude::PublicKeyCredential;

/// A payer sees requests addressed to them, and open payment links by id.
fn visible(r: &MoneyRequest, payer_id: i64) -> bool {
    r.payer_id == Some(payer_id) || r.payer_id.is_none()
}

/// The requests in a payer's inbox: addressed to them, and open links pushed to them
/// ("send it to my app") and not addressed to anyone since; two branches, each read on
/// its own index (`requests::page` merges them).
fn inbox_branches(payer_id: i64) -> [mr::BoxedQuery<'static, crate::db::MultiBackend>; 2] {
    let pushed = lp::table
        .filter(lp::account_id.eq(payer_id))
        .select(lp::request_id);
    [
        mr::table.filter(mr::payer_id.eq(payer_id)).into_boxed(),
        mr::table
            .filter(mr::payer_id.is_null())
            .filter(mr::id.eq_any(pushed))
            .into_boxed(),
    ]
}

pub async fn inbox(
    state: &Context,
    payer_id: i64,
    status: Option<Status>,
    starting_after: Option<String>,
    limit: i64,
) -> ApiResult<(Vec<RequestView>, bool)> {
    let (public_url, now) = (state.config.public_url.clone(), state.clock.now_naive());
    state
        .db
        .run(move |c| {
            let branches = inbox_branches(payer_id)
                .into_iter()
                .map(|q| match status {
                    Some(s) => status_filter(q, s, now),
                    None => q,
                })
                .collect();
            let listable = |r: &MoneyRequest| visible(r, payer_id);
            page(
                c,
                branches,
                starting_after,
                listable,
                limit,
                (payer_view, &public_url, now),
            )
        })
        .await
}

pub async fn get(state: &Context, payer: &Account, public_id: String) -> ApiResult<RequestView> {
    let (public_url, now) = (state.config.public_url.clone(), state.clock.now_naive());
    let payer = payer.clone();
    state
        .db
        .run(move |c| {
            let row = find_by_public_id(c, &public_id)?
                .filter(|r| visible(r, payer.id))
                .ok_or_else(not_found)?;
            payer_view(
                c,
                &mut Names::knowing(&[&payer]),
                &as_of(row, now),
                &public_url,
            )
        })
        .await
}

/// How a payer reaches the merchant behind a request (the wallet app's confirmation).
#[derive(Debug, Default)]
pub struct MerchantContact {
    /// The company's name, where it has one.
    pub company: Option<String>,
    pub email: Option<String>,
    pub phone: Option<String>,
}

/// The merchant's contact details for a request the payer may see (or has paid).
pub async fn merchant_contact(
    state: &Context,
    payer_id: i64,
    public_id: String,
) -> ApiResult<MerchantContact> {
    state
        .db
        .run(move |c| {
            let row = find_by_public_id(c, &public_id)?
                .filter(|r| visible(r, payer_id) || r.paid_by == Some(payer_id))
                .ok_or_else(not_found)?;
            let merchant = q::find(c, row.merchant_id)?.ok_or_else(ApiError::internal)?;
            Ok(MerchantContact {
                company: merchant.company_name,
                email: merchant.email,
                phone: merchant.phone,
            })
        })
        .await
}

/// The request as the payer sees it, with its `updated_at` (the wallet stream sends a
/// request again only when that moved).
pub async fn get_with_stamp(
    state: &Context,
    payer_id: i64,
    public_id: String,
) -> ApiResult<(RequestView, NaiveDateTime)> {
    let (public_url, now) = (state.config.public_url.clone(), state.clock.now_naive());
    state
        .db
        .run(move |c| {
            let row = find_by_public_id(c, &public_id)?
                .filter(|r| visible(r, payer_id) || r.paid_by == Some(payer_id))
                .ok_or_else(not_found)?;
            let stamp = row.updated_at;
            let view = payer_view(c, &mut Names::default(), &as_of(row, now), &public_url)?;
            Ok((view, stamp))
        })
        .await
}

/// Ids of the requests addressed to the payer that changed at or after `since`.
pub async fn changed_since(
    state: &Context,
    payer_id: i64,
    since: NaiveDateTime,
) -> ApiResult<Vec<String>> {
    state
        .db
        .run(move |c| {
            let mut ids: Vec<String> = Vec::new();
            for branch in inbox_branches(payer_id) {
                ids.extend(
                    branch
                        .filter(mr::updated_at.ge(since))
                        .order(mr::updated_at.asc())
                        .limit(200)
                        .select(mr::public_id)
                        .load::<String>(c)?,
                );
            }
            Ok(ids)
        })
        .await
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ApproveRequest {
    pub pin: String,
    /// The passkey's assertion of this request's challenge (`passkey_challenge`): needed
    /// once the wallet has a passkey, or above `PINPAY_SCA_DEVICE_REQUIRED_ABOVE`.
    #[serde(default)]
    pub webauthn: Option<PublicKeyCredential>,
}

/// What a passkey signs to approve `row`: the request, its amount, and the merchant.
fn binding(c: &mut DbConn, row: &MoneyRequest) -> ApiResult<Binding> {
    Ok(Binding {
        operation: row.public_id.clone(),
        amount: Money::cents(row.amount),
        currency: "EUR",
        payee: q::username_of(c, row.merchant_id)?,
    })
}

/// Opens the passkey challenge for approving the request: it signs the request's id,
/// amount and merchant.
pub async fn passkey_challenge(
    state: &Context,
    payer: &Account,
    public_id: String,
) -> ApiResult<Ceremony> {
    let (payer, now, webauthn) = (
        payer.clone(),
        state.clock.now_naive(),
        state.webauthn.clone(),
    );
    state
        .db
        .run(move |c| {
            write_tx(c, |c| {
                let row = payable_on(c, &payer, &public_id, now)?;
                let binding = binding(c, &row)?;
                passkeys::open_challenge(c, &webauthn, payer.id, &binding, now)
            })
        })
        .await
}

/// Approves with the PIN. `payer_id` is the caller's account, `admit` admits it from the
/// wallet's row as the PIN check locks it (an app token's rules, or a page session's
/// account as it stands): that check's registration also checks the request is payable,
/// all in one database turn, before a try is taken.
pub async fn approve<F>(
    state: &Context,
    payer_id: i64,
    admit: F,
    public_id: String,
    req: ApproveRequest,
    on_commit: OnCommit<RequestView>,
) -> ApiResult<RequestView>
where
    F: Fn(&mut DbConn, Option<Account>) -> ApiResult<Account> + Clone + Send + 'static,
{
    let (id, now) = (public_id.clone(), state.clock.now_naive());
    let device = DeviceFactor::new(state, req.webauthn);
    let factor = device.clone();
    let payer_may_pay = move |c: &mut DbConn, row: Option<Account>| {
        let payer = admit(c, row)?;
        let request = payable_on(c, &payer, &id, now)?;
        let amount = Money::cents(request.amount);
        factor.admit(c, payer.id, amount, |c| binding(c, &request), now)?;
        Ok(payer)
    };
    let (confirmed, payer) =
        Confirmed::check(state, payer_id, &req.pin, device, payer_may_pay).await?;
    settle_approval(state, payer.id, public_id, Some(confirmed), on_commit).await
}

/// What an approval checks before the PIN: the payer may see the request, it is pending
/// and it is not the payer's own.
pub async fn payable(state: &Context, payer: &Account, public_id: &str) -> ApiResult<()> {
    let (payer, id, now) = (
        payer.clone(),
        public_id.to_string(),
        state.clock.now_naive(),
    );
    state
        .db
        .run(move |c| payable_on(c, &payer, &id, now).map(|_| ()))
        .await
}

/// `payable` in the caller's database turn; returns the request.
fn payable_on(
    c: &mut DbConn,
    payer: &Account,
    public_id: &str,
    now: NaiveDateTime,
) -> ApiResult<MoneyRequest> {
    let row = find_by_public_id(c, public_id)?
        .filter(|r| visible(r, payer.id))
        .map(|r| as_of(r, now))
        .ok_or_else(not_found)?;
    if row.status != RequestStatus::Pending {
        return Err(not_pending(row.status));
    }
    if row.merchant_id == payer.id {
        return Err(ApiError::unprocessable(
            "cannot_pay_own_request",
            "A merchant cannot pay its own money request.",
        ));
    }
    Ok(row)
}

/// The approval's transaction, once the payer is known to have confirmed it (the PIN, or
/// the sandbox's simulated payer). The PIN check's release commits with it; if the
/// transaction rolls back, the release is written on its own.
pub async fn settle_approval(
    state: &Context,
    payer_id: i64,
    public_id: String,
    confirmed: Option<Confirmed>,
    on_commit: OnCommit<RequestView>,
) -> ApiResult<RequestView> {
    let (tiers, calendar, clock) = (state.tiers.clone(), state.calendar, state.clock.clone());
    let public_url = state.config.public_url.clone();
    let view = state
        .db
        .run(move |c| {
            let mut confirmed_here = false;
            let settled = write_tx(c, |c| {
                let (row, now) = match lock_pending(
                    c,
                    &public_id,
                    |r| visible(r, payer_id),
                    &clock,
                    &public_url,
                )? {
                    Settled::Done(found) => found,
                    Settled::Refused(e) => return Ok(Settled::Refused(e)),
                };
                let (payer, merchant, merchant_locked) =
                    lock_parties(c, payer_id, row.merchant_id)?;
                let mut factors = None;
                if let Some(confirmed) = &confirmed {
                    factors = Some(confirmed.commit_locked(c, &payer, now)?);
                    confirmed_here = true;
                }
                let limits = LimitCtx {
                    tiers: &tiers,
                    calendar,
                    now: now.and_utc(),
                };
                let (paid, booking) = pay(c, &limits, row, (&payer, &merchant), factors, now)?;
                let mut names = Names::knowing(&[&payer, &merchant]);
                let (_, view) = announce_row(
                    c,
                    paid,
                    "money_request.approved",
                    now,
                    &public_url,
                    &mut names,
                )?;
                let view = view.for_payer();
                on_commit(c, &view)?;
                // Last, the merchant's side: its row lock is held only from here to the
                // commit.
                let merchant = match merchant_locked {
                    true => merchant,
                    false => q::lock(c, merchant.id)?.ok_or_else(ApiError::internal)?,
                };
                booking.book(c, &limits, &payer, &merchant, now)?;
                Ok(Settled::Done(view))
            });
            if let Some(confirmed) = confirmed {
                let committed = confirmed_here && settled.is_ok();
                confirmed.settle(c, committed, clock.now_naive());
            }
            settled
        })
        .await?
        .into_result()?;
    state.metrics.money_request("approved", 1);
    Ok(view)
}

/// Locks the payer and reads the merchant. A private wallet's payment leaves the
/// merchant's row to be locked last, so approvals to one popular merchant queue only for
/// their transactions' last statements (credits need no lock to stay correct, but the
/// merchant's limits and fee are checked and booked under it). A payer that is itself a
/// merchant locks both now, in lock order (`accounts::lock_pair`). Returns whether the
/// merchant's row is locked.
fn lock_parties(
    c: &mut DbConn,
    payer_id: i64,
    merchant_id: i64,
) -> ApiResult<(Account, Account, bool)> {
    let merchant = q::find(c, merchant_id)?.ok_or_else(ApiError::internal)?;
    let payer = q::lock(c, payer_id)?.ok_or_else(ApiError::internal)?;
    // SQLite's one writer holds the whole database: the merchant as read is locked.
    if matches!(c, DbConn::Sqlite(_)) {
        return Ok((payer, merchant, true));
    }
    if AccountKind::from_db(&payer.kind) == AccountKind::Private {
        return Ok((payer, merchant, false));
    }
    let (payer, merchant) = q::lock_pair(c, payer_id, merchant_id)?;
    Ok((payer, merchant, true))
}

/// The payer's side of an approval: limits, funds, the status change and the payment's
/// transaction record; returns the row as written and what is left to book on the
/// merchant's side.
fn pay(
    c: &mut DbConn,
    limits: &LimitCtx,
    mut row: MoneyRequest,
    (payer, merchant): (&Account, &Account),
    factors: Option<Factors>,
    now: NaiveDateTime,
) -> ApiResult<(MoneyRequest, Booking)> {
    let amount = Money::cents(row.amount);
    let purchases = limits.rules(payer).limits.purchases_per_day;
    if purchases.is_some() {
        let used = usage::count(
            c,
            payer.id,
            TxKind::Payment.as_str(),
            Side::Debits,
            limits.calendar.day(limits.now),
        )?;
        check_count("purchases_per_day", purchases, used).map_err(|e| e.with("party", "payer"))?;
    }
    limits.sender(c, payer, amount)?;
    if !AccountKind::from_db(&merchant.kind).is_merchant() {
        return Err(ApiError::conflict(
            "merchant_unavailable",
            "The merchant can no longer receive payments.",
        ));
    }
    if Money::cents(payer.balance) < amount {
        return Err(insufficient_funds());
    }
    let fee = limits.rules(merchant).fees.receive_fee(amount);
    let description = row
        .description
        .clone()
        .unwrap_or_else(|| format!("Payment {}", row.public_id));
    let booking = Booking {
        amount,
        fee,
        description,
        // The fee line names what the merchant knows the payment by: its order reference.
        fee_for: match &row.reference {
            Some(reference) => format!("Fee on payment {} ({reference})", row.public_id),
            None => format!("Fee on payment {}", row.public_id),
        },
        factors,
        txn: 0,
    };
    let txn = booking.with_entry(payer.id, row.merchant_id, |entry| {
        money::open(c, entry, now)
    })?;
    row.status = RequestStatus::Approved;
    row.fee = fee.as_cents();
    row.paid_by = Some(payer.id);
    row.payment_transaction_id = Some(txn);
    row.resolved_at = Some(now);
    row.updated_at = now;
    Cached(
        diesel::update(mr::table.find(row.id))
            .set((
                mr::status.eq(row.status.as_str()),
                mr::fee.eq(row.fee),
                mr::paid_by.eq(row.paid_by),
                mr::payment_transaction_id.eq(row.payment_transaction_id),
                mr::resolved_at.eq(row.resolved_at),
                mr::updated_at.eq(row.updated_at),
            ))
            .returning(mr::id),
    )
    .get_result::<i64>(c)?;
    record_approval(
        c,
        row.id,
        &format!("payer:{}", payer.username),
        factors,
        now,
    )?;
    Ok((row, Booking { txn, ..booking }))
}

/// The money of an approved payment, booked at the end of its transaction under the
/// merchant's row lock.
struct Booking {
    amount: Money,
    fee: Money,
    description: String,
    fee_for: String,
    factors: Option<Factors>,
    /// The payment's transaction record (`money::open`).
    txn: i64,
}

impl Booking {
    /// Calls `f` with the payment's ledger entry.
    fn with_entry<R>(&self, payer: i64, merchant: i64, f: impl FnOnce(&Entry) -> R) -> R {
        let legs = [
            Leg::debit(payer, self.amount),
            Leg::credit(merchant, self.amount),
        ];
        f(&Entry {
            kind: TxKind::Payment,
            legs: &legs,
            related_id: None,
            external_ref: None,
            description: Some(&self.description),
            factors: self.factors.map(Factors::as_str),
        })
    }

    /// The merchant's limits, then the payment's legs and the fee.
    fn book(
        &self,
        c: &mut DbConn,
        limits: &LimitCtx,
        payer: &Account,
        merchant: &Account,
        now: NaiveDateTime,
    ) -> ApiResult<()> {
        limits.receiver(c, merchant, self.amount)?;
        self.with_entry(payer.id, merchant.id, |entry| {
            money::book(c, self.txn, entry, now)
        })?;
        money::charge_fee(c, merchant.id, self.fee, self.txn, &self.fee_for, now)
    }
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct DeclineRequest {
    #[serde(default, deserialize_with = "crate::domain::input::present")]
    pub reason_code: Option<String>,
    #[serde(default, deserialize_with = "crate::domain::input::present")]
    pub reason: Option<String>,
}

pub async fn decline(
    state: &Context,
    payer: &Account,
    public_id: String,
    req: DeclineRequest,
) -> ApiResult<RequestView> {
    let code = req.reason_code.as_deref().map(reason_code).transpose()?;
    let reason = req
        .reason
        .as_deref()
        .map(|r| crate::domain::account::text_field("reason", r, 140))
        .transpose()?;
    let (payer_id, payer_name) = (payer.id, payer.username.clone());
    let payer = payer.clone();
    let (clock, public_url) = (state.clock.clone(), state.config.public_url.clone());
    let view = state
        .db
        .run(move |c| {
            write_tx(c, |c| {
                let (row, now) = match lock_pending(
                    c,
                    &public_id,
                    |r| r.payer_id == Some(payer_id),
                    &clock,
                    &public_url,
                )? {
                    Settled::Done(found) => found,
                    Settled::Refused(e) => return Ok(Settled::Refused(e)),
                };
                diesel::update(mr::table.find(row.id))
                    .set((
                        mr::status.eq(RequestStatus::Declined.as_str()),
                        mr::decline_reason_code.eq(&code),
                        mr::decline_reason.eq(&reason),
                        mr::resolved_at.eq(now),
                        mr::updated_at.eq(now),
                    ))
                    .execute(c)?;
                record(
                    c,
                    row.id,
                    "declined",
                    &format!("payer:{payer_name}"),
                    code.as_deref(),
                    now,
                )?;
                let mut names = Names::knowing(&[&payer]);
                let (_, view) = announce(
                    c,
                    row.id,
                    "money_request.declined",
                    now,
                    &public_url,
                    &mut names,
                )?;
                Ok(Settled::Done(view.for_payer()))
            })
        })
        .await?
        .into_result()?;
    state.metrics.money_request("declined", 1);
    Ok(view)
}
