//! Auto-reload's settings (`replenish_amount`, `recurring_amount`, provider) and the one
//! reaction the wallet's money layer runs after a debit: a balance left below
//! `replenish_amount` orders one reload in the same transaction (a unique index keeps it to
//! one pending order per account). Orders and their confirmation live in `reloads`.

use crate::db::models::Account;
use crate::db::schema::{accounts, auto_reload_settings as ars, reload_orders as ro};
use crate::db::{accounts as q, write_tx, DbConn};
use crate::domain::money::Money;
use crate::domain::requests::public_id;
use crate::error::{ApiError, ApiResult};
use crate::services::wallet::reload_providers::Provider;
use crate::services::Context;
use chrono::NaiveDateTime;
use diesel::prelude::*;
use serde::{Deserialize, Serialize};

pub fn provider(state: &Context, raw: &str) -> ApiResult<&'static str> {
    Provider::named(&state.config, raw)
        .map(|p| p.name())
        .ok_or_else(|| {
            let offered = Provider::offered(&state.config);
            ApiError::invalid_field("provider", format!("one of {}", offered.join(", ")))
        })
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AutoReloadSettings {
    pub enabled: bool,
    pub replenish_amount: String,
    pub recurring_amount: String,
    pub provider: String,
}

#[derive(Serialize, Debug)]
pub struct AutoReloadView {
    pub object: &'static str,
    pub enabled: bool,
    pub replenish_amount: Option<Money>,
    pub recurring_amount: Option<Money>,
    pub provider: Option<String>,
    pub consecutive_failures: i32,
    /// Why auto-reload turned itself off, if it did.
    pub disabled_reason: Option<String>,
}

type SettingsRow = (bool, i64, i64, String, i32, Option<String>);

fn settings(c: &mut DbConn, account_id: i64) -> ApiResult<Option<SettingsRow>> {
    Ok(ars::table
        .find(account_id)
        .select((
            ars::enabled,
            ars::replenish_amount,
            ars::recurring_amount,
            ars::provider,
            ars::consecutive_failures,
            ars::disabled_reason,
        ))
        .first(c)
        .optional()?)
}

fn settings_view(row: Option<SettingsRow>) -> AutoReloadView {
    match row {
        Some((enabled, replenish, recurring, provider, failures, reason)) => AutoReloadView {
            object: "auto_reload",
            enabled,
            replenish_amount: Some(Money::cents(replenish)),
            recurring_amount: Some(Money::cents(recurring)),
            provider: Some(provider),
            consecutive_failures: failures,
            disabled_reason: reason,
        },
        None => AutoReloadView {
            object: "auto_reload",
            enabled: false,
            replenish_amount: None,
            recurring_amount: None,
            provider: None,
            consecutive_failures: 0,
            disabled_reason: None,
        },
    }
}

pub async fn get_settings(state: &Context, account: &Account) -> ApiResult<AutoReloadView> {
    let id = account.id;
    state
        .db
        .run(move |c| Ok(settings_view(settings(c, id)?)))
        .await
}

pub async fn set_settings(
    state: &Context,
    account: &Account,
    s: AutoReloadSettings,
) -> ApiResult<AutoReloadView> {
    let replenish = Money::parse_amount("replenish_amount", &s.replenish_amount)?;
    let recurring = Money::parse_amount("recurring_amount", &s.recurring_amount)?;
    let provider = provider(state, &s.provider)?;
    let (id, now, enabled) = (account.id, state.clock.now_naive(), s.enabled);
    state
        .db
        .run(move |c| {
            write_tx(c, |c| {
                q::lock(c, id)?.ok_or_else(ApiError::internal)?;
                let values = || {
                    (
                        ars::enabled.eq(enabled),
                        ars::replenish_amount.eq(replenish.as_cents()),
                        ars::recurring_amount.eq(recurring.as_cents()),
                        ars::provider.eq(provider),
                        ars::consecutive_failures.eq(0),
                        ars::disabled_reason.eq(None::<String>),
                        ars::updated_at.eq(now),
                    )
                };
                if diesel::update(ars::table.find(id))
                    .set(values())
                    .execute(c)?
                    == 0
                {
                    diesel::insert_into(ars::table)
                        .values((ars::account_id.eq(id), values()))
                        .execute(c)?;
                }
                diesel::update(accounts::table.find(id))
                    .set(accounts::reload_threshold.eq(enabled.then_some(replenish.as_cents())))
                    .execute(c)?;
                Ok(settings_view(settings(c, id)?))
            })
        })
        .await
}

/// Turns auto-reload off with `reason` and tells the account holder by e-mail.
pub fn disable(c: &mut DbConn, account_id: i64, reason: &str, now: NaiveDateTime) -> ApiResult<()> {
    diesel::update(ars::table.find(account_id))
        .set((
            ars::enabled.eq(false),
            ars::disabled_reason.eq(reason),
            ars::updated_at.eq(now),
        ))
        .execute(c)?;
    diesel::update(accounts::table.find(account_id))
        .set(accounts::reload_threshold.eq(None::<i64>))
        .execute(c)?;
    let account = q::find(c, account_id)?.ok_or_else(ApiError::internal)?;
    if let Some(to) = &account.email {
        let subject = format!("PinPay: auto-reload of {} is off", account.username);
        let body = format!(
            "Auto-reload of your PinPay account {} was turned off: {reason}.\n\nCheck the \
             reload settings and turn it on again when the cause is fixed.\n",
            account.username
        );
        crate::services::messaging::notifications::queue(
            c,
            account_id,
            "auto_reload_off",
            to,
            &subject,
            &body,
            now,
        )?;
    }
    Ok(())
}

// Orders.

pub fn insert_order(
    c: &mut DbConn,
    account_id: i64,
    provider: &str,
    origin: &str,
    amount: i64,
    now: NaiveDateTime,
) -> ApiResult<Option<i64>> {
    // `ON CONFLICT DO NOTHING` against the one-pending-order index: a concurrent order
    // makes this one a no-op instead of an error that would abort the transaction.
    let insert = || {
        diesel::insert_into(ro::table)
            .values((
                ro::public_id.eq(public_id("rl")),
                ro::account_id.eq(account_id),
                ro::provider.eq(provider.to_string()),
                ro::origin.eq(origin.to_string()),
                ro::amount.eq(amount),
                ro::currency.eq("EUR"),
                ro::status.eq(crate::domain::status::ReloadStatus::Pending.as_str()),
                ro::created_at.eq(now),
                ro::next_submit_at.eq(now),
            ))
            .on_conflict_do_nothing()
            .returning(ro::id)
    };
    let inserted = match c {
        DbConn::Pg(pg) => insert().get_result::<i64>(pg).optional()?,
        DbConn::Sqlite(sq) => insert().get_result::<i64>(sq).optional()?,
    };
    Ok(inserted)
}

/// The ledger's hook: orders the account's auto-reload unless one is pending.
pub fn order_auto(c: &mut DbConn, account_id: i64, now: NaiveDateTime) -> ApiResult<()> {
    let Some((true, _, recurring, provider, _, _)) = settings(c, account_id)? else {
        return Ok(());
    };
    insert_order(c, account_id, &provider, "auto", recurring, now)?;
    Ok(())
}
