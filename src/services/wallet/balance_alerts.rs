//! Low-balance alerts (seeds 000 and 001, SPEC §10): a threshold and recipients per
//! account. The ledger checks the threshold in the transaction that moves the balance
//! ([`crossed`]); an hourly sweep catches balances already below a threshold that was
//! raised or enabled. One alert per crossing: the alert disarms the account until its
//! balance is back at or above the threshold. An alert is an e-mail to each recipient
//! (queued in the same transaction, see `notifications`) and, for merchants with a
//! callback URL, the callback event `balance.low`.

use crate::db::models::Account;
use crate::db::schema::{accounts, balance_alert_settings as bas};
use crate::db::{accounts as q, write_tx, DbConn};
use crate::domain::account::AccountKind;
use crate::domain::contact;
use crate::domain::money::Money;
use crate::domain::time::rfc3339;
use crate::error::{ApiError, ApiResult};
use crate::services::Context;
use chrono::NaiveDateTime;
use diesel::prelude::*;
use serde::{Deserialize, Serialize};
use serde_json::json;

pub const MAX_RECIPIENTS: usize = 5;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AlertSettings {
    pub threshold: String,
    pub recipients: Vec<String>,
    pub enabled: bool,
}

#[derive(Serialize, Debug)]
pub struct AlertView {
    pub object: &'static str,
    pub enabled: bool,
    pub threshold: Option<Money>,
    pub recipients: Vec<String>,
    /// False after an alert until the balance is back at or above the threshold.
    pub armed: bool,
    pub last_alert_at: Option<String>,
    pub balance: Money,
}

type SettingsRow = (i64, String, bool, Option<NaiveDateTime>);

fn settings(c: &mut DbConn, account_id: i64) -> ApiResult<Option<SettingsRow>> {
    Ok(bas::table
        .find(account_id)
        .select((
            bas::threshold,
            bas::recipients,
            bas::enabled,
            bas::last_alert_at,
        ))
        .first(c)
        .optional()?)
}

fn view_of(account: &Account, row: Option<SettingsRow>) -> AlertView {
    let (threshold, recipients, enabled, last) = match row {
        Some((t, r, e, l)) => (
            Some(Money::cents(t)),
            serde_json::from_str(&r).unwrap_or_default(),
            e,
            l,
        ),
        None => (None, Vec::new(), false, None),
    };
    AlertView {
        object: "balance_alert",
        enabled,
        threshold,
        recipients,
        armed: account.alert_armed,
        last_alert_at: last.map(rfc3339),
        balance: Money::cents(account.balance),
    }
}

pub async fn get(state: &Context, account: &Account) -> ApiResult<AlertView> {
    let id = account.id;
    state
        .db
        .run(move |c| {
            let account = q::find(c, id)?.ok_or_else(ApiError::internal)?;
            let row = settings(c, id)?;
            Ok(view_of(&account, row))
        })
        .await
}

/// Sets the alert. A new threshold re-arms it; a balance already below it is alerted by
/// the next hourly sweep.
pub async fn set(state: &Context, account: &Account, s: AlertSettings) -> ApiResult<AlertView> {
    let threshold = Money::parse_amount("threshold", &s.threshold)?;
    if threshold <= Money::ZERO {
        return Err(ApiError::invalid_field("threshold", "must be above 0.00"));
    }
    if s.recipients.is_empty() || s.recipients.len() > MAX_RECIPIENTS {
        return Err(ApiError::invalid_field(
            "recipients",
            format!("1 to {MAX_RECIPIENTS} e-mail addresses"),
        ));
    }
    let recipients = s
        .recipients
        .iter()
        .map(|r| contact::email("recipients", r))
        .collect::<ApiResult<Vec<_>>>()?;
    let recipients_json = serde_json::to_string(&recipients)
        .map_err(|e| ApiError::internal_from("alert recipients", e))?;
    let (id, now, enabled) = (account.id, state.clock.now_naive(), s.enabled);
    state
        .db
        .run(move |c| {
            write_tx(c, |c| {
                q::lock(c, id)?.ok_or_else(ApiError::internal)?;
                let values = (
                    bas::threshold.eq(threshold.as_cents()),
                    bas::recipients.eq(&recipients_json),
                    bas::enabled.eq(enabled),
                    bas::updated_at.eq(now),
                );
                let updated = diesel::update(bas::table.find(id)).set(values).execute(c)?;
                if updated == 0 {
                    diesel::insert_into(bas::table)
                        .values((bas::account_id.eq(id), values))
                        .execute(c)?;
                }
                let account: Account = diesel::update(accounts::table.find(id))
                    .set((
                        accounts::alert_threshold.eq(enabled.then_some(threshold.as_cents())),
                        accounts::alert_armed.eq(true),
                    ))
                    .returning(accounts::all_columns)
                    .get_result(c)?;
                let row = settings(c, id)?;
                Ok(view_of(&account, row))
            })
        })
        .await
}

/// The ledger's check after it moved `account_id`'s balance: below the threshold while
/// armed, the alert fires (and disarms); at or above it while disarmed, it re-arms.
pub fn crossed(
    c: &mut DbConn,
    account_id: i64,
    balance: i64,
    threshold: i64,
    armed: bool,
    now: NaiveDateTime,
) -> ApiResult<()> {
    match (armed, balance < threshold) {
        (true, true) => fire(c, account_id, now).map(|_| ()),
        (false, false) => {
            diesel::update(accounts::table.find(account_id))
                .set(accounts::alert_armed.eq(true))
                .execute(c)?;
            Ok(())
        }
        _ => Ok(()),
    }
}

/// Fires the alert if the account is still armed and below its threshold; true if it
/// fired. The disarming update decides, so two instances never both fire.
fn fire(c: &mut DbConn, account_id: i64, now: NaiveDateTime) -> ApiResult<bool> {
    let disarmed = diesel::update(
        accounts::table
            .find(account_id)
            .filter(accounts::alert_armed.eq(true))
            .filter(accounts::alert_threshold.is_not_null())
            .filter(accounts::balance.lt(accounts::alert_threshold.assume_not_null())),
    )
    .set(accounts::alert_armed.eq(false))
    .execute(c)?;
    if disarmed == 0 {
        return Ok(false);
    }
    let account = q::find(c, account_id)?.ok_or_else(ApiError::internal)?;
    let Some((threshold, recipients, _, _)) = settings(c, account_id)? else {
        return Ok(false);
    };
    let recipients: Vec<String> = serde_json::from_str(&recipients).unwrap_or_default();
    let (balance, threshold) = (Money::cents(account.balance), Money::cents(threshold));
    let subject = format!("PinPay: the balance of {} is low", account.username);
    let body = format!(
        "The balance of your PinPay account {} is {balance} EUR, below your alert \
         threshold of {threshold} EUR.\n\nTop it up by bank transfer, or turn on \
         auto-reload, so payments keep working.\n",
        account.username
    );
    for to in &recipients {
        crate::services::messaging::notifications::queue(
            c,
            account_id,
            "balance_low",
            to,
            &subject,
            &body,
            now,
        )?;
    }
    diesel::update(bas::table.find(account_id))
        .set(bas::last_alert_at.eq(now))
        .execute(c)?;
    if AccountKind::from_db(&account.kind).is_merchant() {
        let has_url = crate::callbacks::settings::has_url(c, account_id)?;
        if has_url {
            let data = json!({
                "object": "balance_alert",
                "account": account.username,
                "balance": balance,
                "threshold": threshold,
                "currency": "EUR",
            });
            crate::services::messaging::outbox::emit(
                c,
                account_id,
                "balance.low",
                data,
                None,
                now,
            )?;
        }
    }
    Ok(true)
}

/// The hourly check: every armed account below its threshold gets its alert (a threshold
/// raised above the balance, or an alert enabled there). Returns how many fired.
pub async fn sweep(state: &Context) -> ApiResult<usize> {
    let now = state.clock.now_naive();
    let due: Vec<i64> = state
        .db
        .run(|c| {
            Ok(accounts::table
                .filter(accounts::alert_armed.eq(true))
                .filter(accounts::alert_threshold.is_not_null())
                .filter(accounts::balance.lt(accounts::alert_threshold.assume_not_null()))
                .select(accounts::id)
                .limit(1000)
                .load(c)?)
        })
        .await?;
    let mut fired = 0;
    for id in due {
        let done = state
            .db
            .run(move |c| write_tx(c, |c| fire(c, id, now)))
            .await?;
        fired += usize::from(done);
    }
    Ok(fired)
}
