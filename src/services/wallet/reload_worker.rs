//! The reload worker: places due orders with their providers after the transaction that
//! made them commits (an auto-reload is ordered inside a debit's transaction, where no
//! HTTP call belongs), claiming each by moving `next_submit_at` ahead so one instance
//! places it; retries with back-off, fails an order after `MAX_PLACE_ATTEMPTS`, a refusal
//! or `PINPAY_RELOAD_ORDER_TTL_SECS` without completion; and confirms the built-in
//! sandbox provider's orders through the same confirmation path.

use super::reload_confirmations::{confirm, Confirmation};
use super::reloads::{give_up, place, OrderRow};
use crate::db::schema::reload_orders as ro;
use crate::domain::money::Money;
use crate::domain::reload::{self as rules, ProviderStatus};
use crate::domain::status::ReloadStatus;
use crate::error::ApiResult;
use crate::services::wallet::reload_providers::Provider;
use crate::services::Context;
use chrono::Duration;
use diesel::prelude::*;
use tokio::sync::watch;

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
