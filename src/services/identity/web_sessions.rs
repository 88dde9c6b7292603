//! Signed-in sessions of the HTML faces (the wallet app first): a random token in an
//! HttpOnly cookie, only its SHA-256 in `app_sessions`. A session ends after
//! `IDLE_SECS` without use, `MAX_SECS` after sign-in, on sign-out, or when its account
//! signs out everywhere (which also revokes the API's refresh tokens).

use crate::auth::opaque;
use crate::db::models::Account;
use crate::db::schema::{app_sessions as s, refresh_tokens as rt};
use crate::db::{write_tx, DbConn};
use crate::error::ApiResult;
use crate::services::identity::accounts::authenticate;
use crate::services::Context;
use chrono::{Duration, NaiveDateTime};
use diesel::prelude::*;
use std::net::IpAddr;

/// A session unused this long has ended.
pub const IDLE_SECS: i64 = 15 * 60;
/// A session ends this long after sign-in, however busy.
pub const MAX_SECS: i64 = 12 * 60 * 60;
/// `last_seen_at` is written at most this often per session (not on every page).
const TOUCH_SECS: i64 = 60;

/// Checks the password (with the login throttle) and opens a session: the cookie's token.
pub async fn sign_in(
    state: &Context,
    client: Option<IpAddr>,
    username: &str,
    password: String,
) -> ApiResult<(String, Account)> {
    let account = authenticate(state, client, username, password).await?;
    let token = open(state, account.id).await?;
    Ok((token, account))
}

/// Opens a session for an account that has just proved who it is (sign-in, registration).
pub async fn open(state: &Context, account_id: i64) -> ApiResult<String> {
    let token = opaque::generate("ses");
    let (digest, now) = (opaque::digest(&token), state.clock.now_naive());
    state
        .db
        .run(move |c| {
            write_tx(c, |c| {
                diesel::insert_into(s::table)
                    .values((
                        s::token_hash.eq(&digest),
                        s::account_id.eq(account_id),
                        s::created_at.eq(now),
                        s::last_seen_at.eq(now),
                    ))
                    .execute(c)?;
                Ok(())
            })
        })
        .await?;
    Ok(token)
}

/// The account of a live session, if `token` is one; its idle clock restarts.
pub async fn resume(state: &Context, token: &str) -> ApiResult<Option<Account>> {
    let (digest, now) = (opaque::digest(token), state.clock.now_naive());
    state
        .db
        .run(move |c| {
            let row: Option<(i64, i64, NaiveDateTime, NaiveDateTime)> = s::table
                .filter(s::token_hash.eq(&digest))
                .select((s::id, s::account_id, s::created_at, s::last_seen_at))
                .first(c)
                .optional()?;
            let Some((id, account_id, created, seen)) = row else {
                return Ok(None);
            };
            if !alive(created, seen, now) {
                return Ok(None);
            }
            if now - seen >= Duration::seconds(TOUCH_SECS) {
                diesel::update(s::table.find(id))
                    .set(s::last_seen_at.eq(now))
                    .execute(c)?;
            }
            Ok(crate::db::accounts::find(c, account_id)?)
        })
        .await
}

/// The live session of `token` and when it ends if unused, without restarting its idle
/// clock (a page's open event stream is not use: it must not keep a session alive).
pub async fn peek(state: &Context, token: &str) -> ApiResult<Option<(i64, NaiveDateTime)>> {
    let (digest, now) = (opaque::digest(token), state.clock.now_naive());
    state
        .db
        .run(move |c| {
            let row: Option<(i64, NaiveDateTime, NaiveDateTime)> = s::table
                .filter(s::token_hash.eq(&digest))
                .select((s::account_id, s::created_at, s::last_seen_at))
                .first(c)
                .optional()?;
            Ok(row
                .filter(|(_, created, seen)| alive(*created, *seen, now))
                .map(|(account, created, seen)| {
                    let ends = (seen + Duration::seconds(IDLE_SECS))
                        .min(created + Duration::seconds(MAX_SECS));
                    (account, ends)
                }))
        })
        .await
}

fn alive(created: NaiveDateTime, seen: NaiveDateTime, now: NaiveDateTime) -> bool {
    now - seen < Duration::seconds(IDLE_SECS) && now - created < Duration::seconds(MAX_SECS)
}

/// Ends the session of `token` (nothing if it is none).
pub async fn sign_out(state: &Context, token: &str) -> ApiResult<()> {
    let digest = opaque::digest(token);
    state
        .db
        .run(move |c| {
            diesel::delete(s::table.filter(s::token_hash.eq(&digest))).execute(c)?;
            Ok(())
        })
        .await
}

/// Ends every session of the account, in every browser, and revokes its API refresh
/// tokens; returns how many web sessions ended.
pub async fn sign_out_everywhere(state: &Context, account_id: i64) -> ApiResult<usize> {
    let now = state.clock.now_naive();
    state
        .db
        .run(move |c| {
            write_tx(c, |c| {
                let ended =
                    diesel::delete(s::table.filter(s::account_id.eq(account_id))).execute(c)?;
                diesel::update(
                    rt::table
                        .filter(rt::account_id.eq(account_id))
                        .filter(rt::revoked_at.is_null()),
                )
                .set(rt::revoked_at.eq(now))
                .execute(c)?;
                Ok(ended)
            })
        })
        .await
}

/// Forgets sessions that have ended by time.
pub fn purge(c: &mut DbConn, now: NaiveDateTime) -> ApiResult<usize> {
    let idle = now - Duration::seconds(IDLE_SECS);
    let old = now - Duration::seconds(MAX_SECS);
    Ok(
        diesel::delete(s::table.filter(s::last_seen_at.le(idle).or(s::created_at.le(old))))
            .execute(c)?,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_session_ends_when_idle_or_old() {
        let t0 = chrono::DateTime::from_timestamp(1_800_000_000, 0)
            .unwrap()
            .naive_utc();
        let m = |mins| t0 + Duration::minutes(mins);
        assert!(alive(t0, t0, m(14)));
        assert!(!alive(t0, t0, m(15)));
        assert!(alive(t0, m(700), m(714)));
        assert!(!alive(t0, m(715), m(720)));
    }
}
