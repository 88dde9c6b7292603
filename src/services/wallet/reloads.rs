//! Reloads (seed 001: prepaid balance reloaded through a payment provider): orders made by
//! hand (`POST /v1/reloads`) or by auto-reload, confirmed by the provider with a MAC
//! (`POST /v1/reload/confirmations/{provider}`), booked once as a top-up under the tier's
//! top-up limits.
//!
//! Auto-reload (`replenish_amount`, `recurring_amount`): a debit that leaves the balance
//! below the threshold orders one reload in the same transaction (a unique index keeps it
//! to one pending order per account). Three failed reloads in a row, or a reload the top-up
//! limits refuse, turn auto-reload off with the reason, and the account holder is told.
//!
//! Providers (`reload_providers`): `sandbox`, built in, confirms its orders itself after
//! `PINPAY_RELOAD_SANDBOX_DELAY_MS` through the same confirmation path, signed with
//! `PINPAY_RELOAD_SANDBOX_SECRET`; `acquirer`, a card acquirer reached over HTTP.
//!
//! Every order is placed with its provider after the transaction that made it commits
//! (an auto-reload is ordered inside a debit's transaction, where no HTTP call belongs):
//! the worker claims due orders by moving `next_submit_at` ahead (so one instance places
//! each), retries with back-off, and fails the order after `MAX_PLACE_ATTEMPTS` or when
//! the provider refuses it. An order the payer has not completed within
//! `PINPAY_RELOAD_ORDER_TTL_SECS` fails too, so auto-reload is never stuck behind it.

use crate::db::models::Account;
use crate::db::schema::{accounts, auto_reload_settings as ars, reload_orders as ro};
use crate::db::{accounts as q, write_tx, DbConn};
use crate::domain::money::Money;
use crate::domain::status::ReloadStatus;
use crate::domain::time::rfc3339;
use crate::error::{ApiError, ApiResult};
use crate::ledger::{self};
use crate::services::wallet::auto_reload::{disable, insert_order, provider};
use crate::services::wallet::reload_providers::{OrderToPlace, PlaceError, Provider};
use crate::services::Context;
use chrono::{Duration, NaiveDateTime};
use diesel::prelude::*;
use serde::{Deserialize, Serialize};

/// Failed reloads in a row after which auto-reload turns itself off.
pub const MAX_FAILURES: i32 = 3;
/// Attempts to place an order with its provider before it fails.
pub const MAX_PLACE_ATTEMPTS: i32 = 5;
/// How long a claimed placement is left to one worker before another may take it.
pub(super) const PLACE_LEASE_SECS: i64 = 30;

#[derive(Queryable, Selectable, Debug, Clone)]
#[diesel(table_name = ro)]
pub(super) struct OrderRow {
    pub(super) id: i64,
    pub(super) public_id: String,
    pub(super) account_id: i64,
    pub(super) provider: String,
    pub(super) origin: String,
    pub(super) amount: i64,
    pub(super) currency: String,
    #[diesel(deserialize_as = String)]
    pub(super) status: ReloadStatus,
    pub(super) reason: Option<String>,
    pub(super) transaction_id: Option<i64>,
    pub(super) created_at: NaiveDateTime,
    pub(super) resolved_at: Option<NaiveDateTime>,
    pub(super) payment_url: Option<String>,
    pub(super) submit_attempts: i32,
}

#[derive(Serialize, Debug)]
pub struct OrderView {
    pub id: String,
    pub object: &'static str,
    pub provider: String,
    pub origin: String,
    pub amount: Money,
    pub currency: String,
    pub status: ReloadStatus,
    /// Why the order was refused or failed.
    pub reason: Option<String>,
    pub transaction_id: Option<String>,
    /// Where the payer completes the order (a card acquirer's page); none for `sandbox`.
    pub payment_url: Option<String>,
    pub created_at: String,
    pub resolved_at: Option<String>,
}

impl From<OrderRow> for OrderView {
    fn from(r: OrderRow) -> Self {
        Self {
            id: r.public_id,
            object: "reload",
            provider: r.provider,
            origin: r.origin,
            amount: Money::cents(r.amount),
            currency: r.currency,
            status: r.status,
            reason: r.reason,
            transaction_id: r.transaction_id.map(ledger::txn_public_id),
            payment_url: r.payment_url,
            created_at: rfc3339(r.created_at),
            resolved_at: r.resolved_at.map(rfc3339),
        }
    }
}

// Settings.

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReloadRequest {
    pub amount: String,
    #[serde(default, deserialize_with = "crate::domain::input::present")]
    pub provider: Option<String>,
}

/// A reload by hand; 409 while another is pending.
pub async fn order(state: &Context, account: &Account, req: ReloadRequest) -> ApiResult<OrderView> {
    let amount = Money::parse_amount("amount", &req.amount)?;
    let default = Provider::offered(&state.config)
        .first()
        .copied()
        .unwrap_or("sandbox");
    let provider = provider(state, req.provider.as_deref().unwrap_or(default))?;
    let (id, now) = (account.id, state.clock.now_naive());
    let order = state
        .db
        .run(move |c| {
            write_tx(c, |c| {
                q::lock(c, id)?.ok_or_else(ApiError::internal)?;
                let Some(order) = insert_order(c, id, provider, "manual", amount.as_cents(), now)?
                else {
                    return Err(ApiError::conflict(
                        "reload_pending",
                        "A reload of this account is still pending; wait for its outcome.",
                    ));
                };
                Ok(order)
            })
        })
        .await?;
    // Placed at once, so the answer can carry the payment page; if the provider cannot
    // be reached now, the worker tries again.
    place(state, order).await;
    Ok(state.db.run(move |c| load(c, order)).await?.into())
}

pub(super) fn load(c: &mut DbConn, id: i64) -> ApiResult<OrderRow> {
    Ok(ro::table.find(id).select(OrderRow::as_select()).first(c)?)
}

/// The newest 100 orders, and whether there are more.
pub async fn list(state: &Context, account: &Account) -> ApiResult<(Vec<OrderView>, bool)> {
    let id = account.id;
    state
        .db
        .run(move |c| {
            let rows: Vec<OrderRow> = ro::table
                .filter(ro::account_id.eq(id))
                .order(ro::id.desc())
                .limit(101)
                .select(OrderRow::as_select())
                .load(c)?;
            let has_more = rows.len() > 100;
            Ok((
                rows.into_iter().take(100).map(OrderView::from).collect(),
                has_more,
            ))
        })
        .await
}

pub(super) fn resolve(
    c: &mut DbConn,
    order: &OrderRow,
    status: ReloadStatus,
    reason: Option<&str>,
    transaction_id: Option<i64>,
    now: NaiveDateTime,
) -> ApiResult<()> {
    diesel::update(ro::table.find(order.id))
        .set((
            ro::status.eq(status.as_str()),
            ro::reason.eq(reason),
            ro::transaction_id.eq(transaction_id),
            ro::resolved_at.eq(now),
        ))
        .execute(c)?;
    Ok(())
}

/// Counts a failed auto-reload; the third in a row turns auto-reload off.
pub(super) fn failed(
    c: &mut DbConn,
    order: &OrderRow,
    why: &str,
    now: NaiveDateTime,
) -> ApiResult<()> {
    if order.origin != "auto" {
        return Ok(());
    }
    let failures: Option<i32> = diesel::update(ars::table.find(order.account_id))
        .set(ars::consecutive_failures.eq(ars::consecutive_failures + 1))
        .returning(ars::consecutive_failures)
        .get_result(c)
        .optional()?;
    if failures.is_some_and(|f| f >= MAX_FAILURES) {
        disable(
            c,
            order.account_id,
            &format!("{MAX_FAILURES} reloads failed in a row (the last: {why})"),
            now,
        )?;
    }
    Ok(())
}

/// Places one order with its provider if it is due and this call claims it: on success
/// the order keeps the provider's reference and payment page; a provider that cannot be
/// reached is tried again with back-off, and after `MAX_PLACE_ATTEMPTS` (or a refusal) the
/// order fails.
pub(super) async fn place(state: &Context, order_id: i64) {
    let now = state.clock.now_naive();
    let claimed = state
        .db
        .run(move |c| {
            let lease = now + Duration::seconds(PLACE_LEASE_SECS);
            let n = diesel::update(
                ro::table
                    .find(order_id)
                    .filter(ro::status.eq(ReloadStatus::Pending.as_str()))
                    .filter(ro::next_submit_at.le(now)),
            )
            .set((
                ro::next_submit_at.eq(lease),
                ro::submit_attempts.eq(ro::submit_attempts + 1),
            ))
            .execute(c)?;
            if n == 0 {
                return Ok(None);
            }
            let order = load(c, order_id)?;
            let shopper: String = accounts::table
                .find(order.account_id)
                .select(accounts::username)
                .first(c)?;
            Ok(Some((order, shopper)))
        })
        .await;
    let Ok(Some((order, shopper))) = claimed else {
        return;
    };
    let attempts = order.submit_attempts;
    let Some(provider) = Provider::named(&state.config, &order.provider) else {
        let why = format!("the provider {} is not offered any more", order.provider);
        give_up(state, order, why).await;
        return;
    };
    let placed = provider
        .place(
            &state.http,
            OrderToPlace {
                order_code: &order.public_id,
                amount: Money::cents(order.amount),
                currency: &order.currency,
                shopper: &shopper,
            },
        )
        .await;
    let outcome = match placed {
        Ok(p) => {
            let id = order.id;
            state
                .db
                .run(move |c| {
                    diesel::update(
                        ro::table
                            .find(id)
                            .filter(ro::status.eq(ReloadStatus::Pending.as_str())),
                    )
                    .set((
                        ro::provider_reference.eq(p.reference),
                        ro::payment_url.eq(p.payment_url),
                        ro::next_submit_at.eq(None::<NaiveDateTime>),
                    ))
                    .execute(c)?;
                    Ok(())
                })
                .await
        }
        Err(PlaceError::Retry(why)) if attempts < MAX_PLACE_ATTEMPTS => {
            tracing::warn!(order = %order.public_id, attempts, %why, "reload order not placed; will retry");
            let (id, at) = (order.id, now + Duration::seconds(1 << attempts.min(10)));
            state
                .db
                .run(move |c| {
                    diesel::update(
                        ro::table
                            .find(id)
                            .filter(ro::status.eq(ReloadStatus::Pending.as_str())),
                    )
                    .set(ro::next_submit_at.eq(at))
                    .execute(c)?;
                    Ok(())
                })
                .await
        }
        Err(PlaceError::Retry(why)) | Err(PlaceError::Refused(why)) => {
            give_up(state, order, why).await;
            Ok(())
        }
    };
    if let Err(e) = outcome {
        tracing::warn!(error = %e.detail, "recording a reload placement failed");
    }
}

/// Fails a pending order with `why` (counted against auto-reload).
pub(super) async fn give_up(state: &Context, order: OrderRow, why: String) {
    tracing::warn!(order = %order.public_id, %why, "reload order failed");
    let now = state.clock.now_naive();
    let done = state
        .db
        .run(move |c| {
            write_tx(c, |c| {
                q::lock(c, order.account_id)?;
                if load(c, order.id)?.status != ReloadStatus::Pending {
                    return Ok(());
                }
                resolve(c, &order, ReloadStatus::Failed, Some(&why), None, now)?;
                failed(c, &order, &why, now)
            })
        })
        .await;
    if let Err(e) = done {
        tracing::warn!(error = %e.detail, "failing a reload order failed");
    }
}
