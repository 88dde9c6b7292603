//! A provider's confirmation of a reload order (`POST /v1/reload/confirmations/{provider}`
//! and the sandbox provider's own): the MAC verified, the top-up booked once under the
//! tier's top-up limits, a refusal recorded on the order (and counted against
//! auto-reload); an authorisation after a refusal or after the deadline books once and
//! tells the operator.

use super::auto_reload::disable;
use super::reloads::{failed, load, resolve, OrderRow, OrderView};
use crate::db::schema::{auto_reload_settings as ars, reload_orders as ro};
use crate::db::{accounts as q, write_tx};
use crate::domain::money::Money;
use crate::domain::reload::{self as rules, ProviderStatus};
use crate::domain::status::ReloadStatus;
use crate::error::{ApiError, ApiResult};
use crate::ledger::{self, Entry, Leg, TxKind};
use crate::services::operator::audit;
use crate::services::wallet::limits::LimitCtx;
use crate::services::wallet::money;
use crate::services::wallet::reload_providers::Provider;
use crate::services::Context;
use diesel::prelude::*;
use serde::Deserialize;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Confirmation {
    pub order_code: String,
    pub amount: String,
    pub currency: String,
    pub status: String,
    pub mac: String,
}

pub(super) fn secret_of(state: &Context, provider: &str) -> ApiResult<String> {
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
                        factors: None,
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
