//! The wallet PIN: setting and changing it, and `verify_pin`, the one check every
//! PIN-protected operation (approvals, transfers, payouts) goes through.

use super::accounts::authenticate;
use crate::db::models::Account;
use crate::db::schema::accounts;
use crate::db::{accounts as q, write_tx};
use crate::domain::account::Pin;
use crate::domain::pin_attempts::PinCounter;
use crate::error::{ApiError, ApiResult};
use crate::state::AppState;
use chrono::NaiveDateTime;
use diesel::prelude::*;
use serde::Deserialize;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PinChange {
    pub pin: String,
    pub password: Option<String>,
    pub old_pin: Option<String>,
}

/// Sets the PIN with the password, or changes it with the old PIN (or the password).
pub async fn set_pin(state: &AppState, account: &Account, change: PinChange) -> ApiResult<()> {
    let new_pin = Pin::parse_new("pin", &change.pin)?;
    match (change.password, change.old_pin) {
        (Some(password), None) => {
            let same = authenticate(state, &account.username, password).await?;
            if same.id != account.id {
                return Err(ApiError::internal());
            }
        }
        (None, Some(old_pin)) => verify_pin(state, account.id, &old_pin).await?,
        _ => {
            return Err(ApiError::unprocessable(
                "pin_authorisation_required",
                "give exactly one of password (to set or reset the PIN) or old_pin (to change it)",
            ))
        }
    }
    let hash = state.hasher.hash(new_pin.expose().to_owned()).await?;
    let (id, now) = (account.id, state.clock.now_naive());
    state
        .db
        .run(move |c| {
            write_tx(c, |c| {
                let reset = PinCounter::succeeded();
                diesel::update(accounts::table.find(id))
                    .set((
                        accounts::pin_hash.eq(Some(hash)),
                        accounts::pin_failed_attempts.eq(reset.failed),
                        accounts::pin_blocked_until.eq(reset.blocked_until),
                        accounts::updated_at.eq(now),
                    ))
                    .execute(c)?;
                Ok(())
            })
        })
        .await
}

/// Checks `pin` for the account. The attempt is counted in the database before the
/// argon2 check (which runs outside any transaction), so concurrent wrong PINs cannot
/// exceed the limit. Errors: 422 malformed, 409 no PIN set, 403 wrong or blocked.
pub async fn verify_pin(state: &AppState, account_id: i64, pin: &str) -> ApiResult<()> {
    let pin = Pin::parse("pin", pin)?;
    let now = state.clock.now_naive();
    let (hash, reserved) = state
        .db
        .run(move |c| write_tx(c, |c| reserve(c, account_id, now)))
        .await?;
    if state
        .hasher
        .verify(pin.expose().to_owned(), Some(hash))
        .await?
    {
        let now = state.clock.now_naive();
        state
            .db
            .run(move |c| write_tx(c, |c| store(c, account_id, PinCounter::succeeded(), now)))
            .await?;
        return Ok(());
    }
    Err(match reserved.blocked_until {
        Some(until) => blocked(until),
        None => ApiError::forbidden("pin_invalid", "The PIN is not correct.")
            .with("attempts_remaining", reserved.remaining()),
    })
}

fn reserve(
    c: &mut crate::db::DbConn,
    id: i64,
    now: NaiveDateTime,
) -> ApiResult<(String, PinCounter)> {
    let account = q::lock(c, id)?.ok_or_else(|| ApiError::not_found("No such account."))?;
    let Some(hash) = account.pin_hash else {
        return Err(ApiError::conflict(
            "pin_not_set",
            "Set a PIN first (PUT /v1/me/pin).",
        ));
    };
    let counter = PinCounter {
        failed: account.pin_failed_attempts,
        blocked_until: account.pin_blocked_until,
    };
    let reserved = counter.reserve(now).map_err(blocked)?;
    store(c, id, reserved, now)?;
    Ok((hash, reserved))
}

fn store(
    c: &mut crate::db::DbConn,
    id: i64,
    counter: PinCounter,
    now: NaiveDateTime,
) -> ApiResult<()> {
    diesel::update(accounts::table.find(id))
        .set((
            accounts::pin_failed_attempts.eq(counter.failed),
            accounts::pin_blocked_until.eq(counter.blocked_until),
            accounts::updated_at.eq(now),
        ))
        .execute(c)?;
    Ok(())
}

fn blocked(until: NaiveDateTime) -> ApiError {
    ApiError::forbidden(
        "pin_blocked",
        "Too many wrong PINs; the PIN is blocked for now.",
    )
    .with("blocked_until", crate::routes::rfc3339(until))
}
