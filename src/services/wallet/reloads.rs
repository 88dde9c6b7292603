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
use crate::domain::reload::{self as rules, ProviderStatus};
use crate::domain::status::ReloadStatus;
use crate::domain::time::rfc3339;
use crate::error::{ApiError, ApiResult};
use crate::ledger::{self, Entry, Leg, TxKind};
use crate::services::operator::audit;
use crate::services::wallet::auto_reload::{disable, insert_order, provider};
use crate::services::wallet::limits::LimitCtx;
use crate::services::wallet::money;
use crate::services::wallet::reload_providers::{OrderToPlace, PlaceError, Provider};
use crate::services::Context;
use chrono::{Duration, NaiveDateTime};
use diesel::prelude::*;
use serde::{Deserialize, Serialize};
use tokio::sync::watch;

/// Failed reloads in a row after which auto-reload turns itself off.
pub const MAX_FAILURES: i32 = 3;
/// Attempts to place an order with its provider before it fails.
pub const MAX_PLACE_ATTEMPTS: i32 = 5;
/// How long a claimed placement is left to one worker before another may take it.
const PLACE_LEASE_SECS: i64 = 30;

#[derive(Queryable, Selectable, Debug, Clone)]
#[diesel(table_name = ro)]
struct OrderRow {
    id: i64,
    public_id: String,
    account_id: i64,
    provider: String,
    origin: String,
    amount: i64,
    currency: String,
    #[diesel(deserialize_as = String)]
    status: ReloadStatus,
    reason: Option<String>,
    transaction_id: Option<i64>,
    created_at: NaiveDateTime,
    resolved_at: Option<NaiveDateTime>,
    payment_url: Option<String>,
    submit_attempts: i32,
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

fn load(c: &mut DbConn, id: i64) -> ApiResult<OrderRow> {
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

// Confirmations.

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Confirmation {
    pub order_code: String,
    pub amount: String,
    pub currency: String,
    pub status: String,
    pub mac: String,
}

fn secret_of(state: &Context, provider: &str) -> ApiResult<String> {
    Provider::named(&state.config, provider)
        .map(|p| p.mac_secret().to_string())
        .ok_or_else(|| ApiError::not_found("No reload provider has this name."))
}

fn bad_mac() -> ApiError {
    ApiError::unauthenticated("The confirmation's MAC does not verify.")
}

/// A confirmation that arrived over HTTP. The sandbox provider's published default secret
/// signs nothing from outside except on a sandbox server (anyone can compute it); the
/// server's own simulated confirmations go through [`confirm`] directly.
pub async fn confirm_from_outside(
    state: &Context,
    provider: String,
    conf: Confirmation,
) -> ApiResult<OrderView> {
    let sandbox_server = state.config.environment == crate::config::Environment::Sandbox;
    if provider == "sandbox" && !sandbox_server && state.config.published_reload_secret() {
        return Err(ApiError::unauthenticated(
            "The sandbox provider's published secret is accepted only on a sandbox server; \
             set PINPAY_RELOAD_SANDBOX_SECRET.",
        ));
    }
    confirm(state, provider, conf).await
}

/// A provider's confirmation: books the top-up once if the MAC verifies, the order is
/// pending, the amount and currency match it and the top-up limits hold. A refusal after
/// the MAC verified is recorded on the order (and counts against auto-reload).
pub async fn confirm(
    state: &Context,
    provider: String,
    conf: Confirmation,
) -> ApiResult<OrderView> {
    let secret = secret_of(state, &provider)?;
    let fields = [&conf.order_code, &conf.amount, &conf.currency, &conf.status];
    if fields.iter().any(|f| f.contains('|') || f.len() > 64) {
        return Err(bad_mac());
    }
    if !rules::verify(
        &secret,
        &conf.order_code,
        &conf.amount,
        &conf.currency,
        &conf.status,
        &conf.mac,
    ) {
        return Err(bad_mac());
    }
    let status = ProviderStatus::parse(&conf.status).ok_or_else(|| {
        ApiError::invalid_field("status", "one of AUTHORISED, REFUSED, CANCELLED")
    })?;
    let (tiers, calendar, now) = (state.tiers.clone(), state.calendar, state.clock.now());
    state
        .db
        .run(move |c| {
            write_tx(c, |c| {
                let at = now.naive_utc();
                let found: Option<OrderRow> = ro::table
                    .filter(ro::public_id.eq(&conf.order_code))
                    .filter(ro::provider.eq(&provider))
                    .select(OrderRow::as_select())
                    .first(c)
                    .optional()?;
                let order = found.ok_or_else(|| {
                    ApiError::not_found("No reload order of this provider has this code.")
                })?;
                let account = q::lock(c, order.account_id)?.ok_or_else(ApiError::internal)?;
                // The order again, under the account's lock: one confirmation wins.
                let order = load(c, order.id)?;
                // The acquirer's state machine: an authorisation may follow a refusal (the
                // payer retried the card) or come after the order's deadline; the payer was
                // charged, so it books once, and the operator is told.
                let late = match order.status {
                    ReloadStatus::Pending => None,
                    ReloadStatus::Failed if status == ProviderStatus::Authorised => order.reason.clone(),
                    _ => {
                        return Err(ApiError::conflict(
                            "reload_already_resolved",
                            format!("This order is {} already.", order.status),
                        ))
                    }
                };
                let amount_matches = Money::parse_amount("amount", &conf.amount)
                    .is_ok_and(|a| a.as_cents() == order.amount);
                if !amount_matches || conf.currency != order.currency {
                    resolve(c, &order, ReloadStatus::Refused, Some("the confirmation's amount or currency differs from the order"), None, at)?;
                    failed(c, &order, "the provider confirmed another amount or currency", at)?;
                    return Ok(Err(ApiError::unprocessable(
                        "reload_mismatch",
                        "The confirmation's amount or currency differs from the order; nothing was booked.",
                    )));
                }
                if status != ProviderStatus::Authorised {
                    let why = format!("the provider answered {}", status.as_str());
                    resolve(c, &order, ReloadStatus::Failed, Some(&why), None, at)?;
                    failed(c, &order, &why, at)?;
                    return Ok(Ok(load(c, order.id)?.into()));
                }
                let limits = LimitCtx {
                    tiers: &tiers,
                    calendar,
                    now,
                };
                let amount = Money::cents(order.amount);
                if let Err(refusal) = limits.deposit(c, &account, amount) {
                    let why = match refusal.extensions.get("limit").and_then(|l| l.as_str()) {
                        Some(limit) => format!("the top-up limit {limit} refused it"),
                        None => refusal.detail.clone(),
                    };
                    resolve(c, &order, ReloadStatus::Refused, Some(&why), None, at)?;
                    if order.origin == "auto" {
                        disable(c, order.account_id, &why, at)?;
                    }
                    return Ok(Err(refusal));
                }
                let clearing = ledger::system_account(c, "bank_clearing")?;
                let reference = format!("reload:{}", order.public_id);
                let description = format!("Reload {} ({})", order.public_id, order.provider);
                let transaction_id = money::post(
                    c,
                    Entry {
                        kind: TxKind::Deposit,
                        legs: &[Leg::debit(clearing, amount), Leg::credit(account.id, amount)],
                        related_id: None,
                        external_ref: Some(&reference),
                        description: Some(&description),
                    },
                    at,
                )?;
                resolve(c, &order, ReloadStatus::Confirmed, None, Some(transaction_id), at)?;
                if let Some(earlier) = late {
                    tracing::warn!(order = %order.public_id, %earlier, "a failed reload order was authorised late and is booked");
                    audit::record(
                        c,
                        &audit::Actor(format!("provider:{}", order.provider)),
                        "reload.authorised_late",
                        &order.public_id,
                        Some(serde_json::json!({"failed_because": earlier, "amount": Money::cents(order.amount)})),
                        at,
                    )?;
                }
                diesel::update(ars::table.find(order.account_id))
                    .set(ars::consecutive_failures.eq(0))
                    .execute(c)?;
                Ok(Ok(load(c, order.id)?.into()))
            })
        })
        .await?
}

fn resolve(
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
fn failed(c: &mut DbConn, order: &OrderRow, why: &str, now: NaiveDateTime) -> ApiResult<()> {
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
async fn place(state: &Context, order_id: i64) {
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
async fn give_up(state: &Context, order: OrderRow, why: String) {
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

/// One round of the reload worker: places due orders, lets the sandbox confirm its own,
/// and fails orders left uncompleted past their time.
async fn round(state: &Context) -> ApiResult<()> {
    let now = state.clock.now_naive();
    let due: Vec<i64> = state
        .db
        .run(move |c| {
            Ok(ro::table
                .filter(ro::status.eq(ReloadStatus::Pending.as_str()))
                .filter(ro::next_submit_at.le(now))
                .order(ro::id.asc())
                .limit(20)
                .select(ro::id)
                .load(c)?)
        })
        .await?;
    futures::future::join_all(due.into_iter().map(|id| place(state, id))).await;

    let ttl = Duration::seconds(state.config.reload_order_ttl_secs as i64);
    let stale: Vec<OrderRow> = state
        .db
        .run(move |c| {
            Ok(ro::table
                .filter(ro::status.eq(ReloadStatus::Pending.as_str()))
                .filter(ro::created_at.le(now - ttl))
                .order(ro::id.asc())
                .limit(50)
                .select(OrderRow::as_select())
                .load(c)?)
        })
        .await?;
    for order in stale {
        let why = format!(
            "the order was not completed within {} hours",
            state.config.reload_order_ttl_secs / 3600
        );
        give_up(state, order, why).await;
    }
    confirm_sandbox_orders(state).await
}

/// The sandbox provider: confirms each of its placed orders once its delay has passed,
/// through the same MAC-checked path as any provider's confirmation.
async fn confirm_sandbox_orders(state: &Context) -> ApiResult<()> {
    let delay = Duration::milliseconds(state.config.reload_sandbox_delay_ms as i64);
    let placed_by = state.clock.now_naive() - delay;
    let due: Vec<(String, i64, String)> = state
        .db
        .run(move |c| {
            Ok(ro::table
                .filter(ro::provider.eq("sandbox"))
                .filter(ro::status.eq(ReloadStatus::Pending.as_str()))
                .filter(ro::next_submit_at.is_null())
                .filter(ro::created_at.le(placed_by))
                .order(ro::id.asc())
                .limit(50)
                .select((ro::public_id, ro::amount, ro::currency))
                .load(c)?)
        })
        .await?;
    let Some(sandbox) = Provider::named(&state.config, "sandbox") else {
        return Ok(());
    };
    let secret = sandbox.mac_secret().to_string();
    for (code, amount, currency) in due {
        let amount = Money::cents(amount).to_string();
        let status = ProviderStatus::Authorised.as_str();
        let conf = Confirmation {
            mac: rules::mac(&secret, &code, &amount, &currency, status),
            order_code: code.clone(),
            amount,
            currency,
            status: status.to_string(),
        };
        match confirm(state, "sandbox".into(), conf).await {
            Ok(_) => tracing::info!(order = %code, "sandbox reload confirmed"),
            Err(e) if e.status.is_client_error() => {
                tracing::info!(order = %code, code = e.code, "sandbox reload refused")
            }
            Err(e) => tracing::warn!(order = %code, error = %e.detail, "sandbox reload failed"),
        }
    }
    Ok(())
}

/// The reload worker (every instance runs one; claims keep each placement to one).
pub async fn run(state: Context, mut shutdown: watch::Receiver<bool>) {
    let mut tick = tokio::time::interval(std::time::Duration::from_millis(200));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            biased;
            _ = shutdown.changed() => break,
            _ = tick.tick() => {}
        }
        if *shutdown.borrow() {
            break;
        }
        if let Err(e) = round(&state).await {
            tracing::debug!(error = %e.detail, "reload round failed");
        }
    }
}
