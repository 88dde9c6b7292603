//! The account's e-mail address, confirmed by a one-time code mailed to it. PinPay spends
//! real money on a merchant (the 0.02 EUR verification payout) only once its address is
//! known to reach it: a throwaway registration cannot make PinPay pay out.
//!
//! The code is kept only as a peppered hash and is mailed through the notification queue
//! (retried, at least once). One code is open per account; a new one replaces it. At most
//! five codes a rolling day, three wrong entries void a code.

use crate::auth::opaque::constant_time_eq;
use crate::db::models::Account;
use crate::db::schema::{accounts, email_confirmations as ec};
use crate::db::{accounts as q, write_tx};
use crate::domain::onboarding as rules;
use crate::domain::time::rfc3339;
use crate::error::{ApiError, ApiResult};
use crate::services::Context;
use actix_web::http::StatusCode;
use chrono::{Duration, NaiveDateTime};
use diesel::prelude::*;
use serde::{Deserialize, Serialize};

/// The address and whether it is confirmed (`GET /v1/me/email`).
#[derive(Serialize, Debug, Clone)]
pub struct EmailView {
    pub email: Option<String>,
    pub confirmed: bool,
    pub confirmed_at: Option<String>,
    /// While a mailed code waits: until when it can be entered.
    pub code_expires_at: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CodeEntry {
    pub code: String,
}

/// (email, code_hash, failed_attempts, expires_at, window_start, sends)
type OpenCode = (String, String, i32, NaiveDateTime, NaiveDateTime, i32);

fn open_code(c: &mut crate::db::DbConn, account_id: i64) -> ApiResult<Option<OpenCode>> {
    Ok(ec::table
        .find(account_id)
        .select((
            ec::email,
            ec::code_hash,
            ec::failed_attempts,
            ec::expires_at,
            ec::window_start,
            ec::sends,
        ))
        .first(c)
        .optional()?)
}

fn view_of(account: &Account, open: Option<&OpenCode>, now: NaiveDateTime) -> EmailView {
    let waiting = open.filter(|o| o.3 > now && Some(&o.0) == account.email.as_ref());
    EmailView {
        email: account.email.clone(),
        confirmed: account.email_confirmed_at.is_some(),
        confirmed_at: account.email_confirmed_at.map(rfc3339),
        code_expires_at: waiting
            .filter(|_| account.email_confirmed_at.is_none())
            .map(|o| rfc3339(o.3)),
    }
}

pub async fn view(state: &Context, account: &Account) -> ApiResult<EmailView> {
    let (account, now) = (account.clone(), state.clock.now_naive());
    state
        .db
        .run(move |c| {
            let open = open_code(c, account.id)?;
            Ok(view_of(&account, open.as_ref(), now))
        })
        .await
}

/// Mails a new confirmation code to the account's address; a code still open is void
/// from now on.
pub async fn send_code(state: &Context, account: &Account) -> ApiResult<EmailView> {
    let (id, now) = (account.id, state.clock.now_naive());
    let pepper = state.config.pepper.expose().to_string();
    let view = state
        .db
        .run(move |c| {
            write_tx(c, |c| {
                let account = q::lock(c, id)?.ok_or_else(ApiError::internal)?;
                let Some(email) = account.email.clone() else {
                    return Err(ApiError::conflict(
                        "no_email",
                        "This account has no e-mail address.",
                    ));
                };
                if account.email_confirmed_at.is_some() {
                    return Err(already_confirmed());
                }
                let open = open_code(c, id)?;
                let (window_start, sends) = match &open {
                    Some(o) if o.4 + Duration::days(1) > now => (o.4, o.5),
                    _ => (now, 0),
                };
                if sends >= rules::MAX_EMAIL_CODES_PER_DAY {
                    let wait = (window_start + Duration::days(1) - now).num_seconds();
                    return Err(ApiError::new(
                        StatusCode::TOO_MANY_REQUESTS,
                        "confirmation_limit_reached",
                        "At most 5 confirmation codes a day; use the latest code you were \
                         sent, or ask again later.",
                    )
                    .retry_after(wait.max(1) as u64));
                }
                let code = rules::new_code();
                let expires = now + Duration::hours(rules::EMAIL_CODE_VALID_HOURS);
                diesel::delete(ec::table.find(id)).execute(c)?;
                diesel::insert_into(ec::table)
                    .values((
                        ec::account_id.eq(id),
                        ec::email.eq(&email),
                        ec::code_hash.eq(rules::code_hash(&pepper, id, &code)),
                        ec::failed_attempts.eq(0),
                        ec::expires_at.eq(expires),
                        ec::window_start.eq(window_start),
                        ec::sends.eq(sends + 1),
                        ec::created_at.eq(now),
                    ))
                    .execute(c)?;
                let body = format!(
                    "Hello {},\n\nyour PinPay confirmation code is {code}\n\nEnter it where \
                     you asked for it (POST /v1/me/email/confirm). It is valid until {} UTC. \
                     If you did not ask for it, you can ignore this e-mail.\n",
                    account.username,
                    expires.format("%Y-%m-%d %H:%M"),
                );
                crate::services::messaging::notifications::queue(
                    c,
                    id,
                    "email_confirmation",
                    &email,
                    "Your PinPay confirmation code",
                    &body,
                    now,
                )?;
                // The code just written is the open one: no read back.
                Ok(EmailView {
                    email: Some(email),
                    confirmed: false,
                    confirmed_at: None,
                    code_expires_at: Some(rfc3339(expires)),
                })
            })
        })
        .await?;
    state.notifications_wake.notify_one();
    Ok(view)
}

/// Confirms the address with the mailed code. A wrong code counts (and is committed as
/// counted); the third voids the code.
pub async fn confirm(state: &Context, account: &Account, entry: CodeEntry) -> ApiResult<EmailView> {
    let code = rules::normalise_code(&entry.code)?;
    let (id, now) = (account.id, state.clock.now_naive());
    let pepper = state.config.pepper.expose().to_string();
    state
        .db
        .run(move |c| {
            // A refusal that must still commit (the counted attempt) comes back as Ok(Err).
            write_tx(c, |c| {
                let account = q::lock(c, id)?.ok_or_else(ApiError::internal)?;
                if account.email_confirmed_at.is_some() {
                    return Err(already_confirmed());
                }
                let open =
                    open_code(c, id)?.filter(|o| Some(&o.0) == account.email.as_ref() && o.3 > now);
                let Some((_, hash, failed, ..)) = open else {
                    return Err(ApiError::conflict(
                        "no_confirmation_code",
                        "No confirmation code is waiting (codes are valid for 24 hours); \
                         ask for one with POST /v1/me/email/confirmation.",
                    ));
                };
                if !constant_time_eq(&rules::code_hash(&pepper, id, &code), &hash) {
                    let failed = failed + 1;
                    if failed >= rules::MAX_WRONG_CODES {
                        diesel::update(ec::table.find(id))
                            .set(ec::expires_at.eq(now))
                            .execute(c)?;
                        return Ok(Err(ApiError::unprocessable(
                            "confirmation_code_voided",
                            "That was the third wrong code: the code is void. Ask for a new \
                             one.",
                        )));
                    }
                    diesel::update(ec::table.find(id))
                        .set(ec::failed_attempts.eq(failed))
                        .execute(c)?;
                    return Ok(Err(ApiError::unprocessable(
                        "confirmation_code_invalid",
                        "The code is not correct.",
                    )
                    .with("attempts_remaining", rules::MAX_WRONG_CODES - failed)));
                }
                diesel::update(ec::table.find(id))
                    .set(ec::expires_at.eq(now))
                    .execute(c)?;
                let account: Account = diesel::update(accounts::table.find(id))
                    .set((
                        accounts::email_confirmed_at.eq(now),
                        accounts::updated_at.eq(now),
                    ))
                    .returning(accounts::all_columns)
                    .get_result(c)?;
                Ok(Ok(view_of(&account, None, now)))
            })
        })
        .await?
}

fn already_confirmed() -> ApiError {
    ApiError::conflict(
        "email_already_confirmed",
        "This e-mail address is confirmed already.",
    )
}

/// Why a merchant whose address is not confirmed cannot have money spent on it yet.
pub fn not_confirmed() -> ApiError {
    ApiError::conflict(
        "email_not_confirmed",
        "Confirm the account's e-mail address first: POST /v1/me/email/confirmation mails \
         a code, POST /v1/me/email/confirm takes it.",
    )
}
