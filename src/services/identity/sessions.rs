//! App sessions: login with username and password, short-lived access JWTs, and
//! rotating refresh tokens stored only as hashes (reuse of a spent one ends the family).

use crate::auth::jwt::Audience;
use crate::auth::opaque;
use crate::db::models::{NewRefreshToken, RefreshToken};
use crate::db::schema::{ended_sessions as es, refresh_tokens as rt};
use crate::db::{write_tx, DbConn};
use crate::error::{ApiError, ApiResult};
use crate::services::identity::accounts::authenticate;
use crate::services::Context;
use chrono::{Duration, NaiveDateTime};
use diesel::prelude::*;
use serde::{Deserialize, Serialize};
use std::net::IpAddr;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Credentials {
    pub username: String,
    pub password: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RefreshRequest {
    pub refresh_token: String,
}

#[derive(Serialize, Debug)]
pub struct SessionTokens {
    pub access_token: String,
    pub token_type: &'static str,
    pub expires_in: i64,
    pub refresh_token: String,
}

pub async fn login(
    state: &Context,
    client: Option<IpAddr>,
    creds: Credentials,
) -> ApiResult<SessionTokens> {
    let account = authenticate(state, client, &creds.username, creds.password).await?;
    let refresh = opaque::generate("rt");
    let (digest, now) = (opaque::digest(&refresh), state.clock.now_naive());
    let expires = now + Duration::seconds(state.config.refresh_token_ttl_secs);
    state
        .db
        .run(move |c| write_tx(c, |c| store(c, account.id, &digest, expires, now)))
        .await?;
    tokens(state, account.id, refresh)
}

/// A spent refresh token presented again within this many seconds of its rotation is a
/// parallel refresh (an app retrying, two tabs), not a replay by a thief.
const REUSE_GRACE_SECS: i64 = 10;

enum Outcome {
    Rotated(i64),
    Refused,
}

pub async fn refresh(state: &Context, req: RefreshRequest) -> ApiResult<SessionTokens> {
    let presented = opaque::digest(&req.refresh_token);
    let next = opaque::generate("rt");
    let next_digest = opaque::digest(&next);
    let now = state.clock.now_naive();
    let ttl = Duration::seconds(state.config.refresh_token_ttl_secs);
    let outcome = state
        .db
        .run(move |c| {
            write_tx(c, |c| {
                let Some(token) = rt::table
                    .filter(rt::token_hash.eq(&presented))
                    .select(RefreshToken::as_select())
                    .first(c)
                    .optional()?
                else {
                    return Ok(Outcome::Refused);
                };
                // Conditional revoke: of two concurrent refreshes only one rotates.
                let spent =
                    diesel::update(rt::table.find(token.id).filter(rt::revoked_at.is_null()))
                        .set(rt::revoked_at.eq(now))
                        .execute(c)?;
                // Read again: on PostgreSQL the row read above may predate the winner's
                // commit that made the update find nothing.
                let revoked_at: Option<NaiveDateTime> = if spent == 0 {
                    rt::table.find(token.id).select(rt::revoked_at).first(c)?
                } else {
                    None
                };
                let concurrent =
                    revoked_at.is_some_and(|at| at > now - Duration::seconds(REUSE_GRACE_SECS));
                if spent == 0 && concurrent {
                    // A parallel refresh with the same token won a moment ago: this one is
                    // refused, the winner's new token stays valid.
                    return Ok(Outcome::Refused);
                }
                if spent == 0 {
                    // A spent token came back later: treat the family as stolen.
                    diesel::update(
                        rt::table
                            .filter(rt::account_id.eq(token.account_id))
                            .filter(rt::revoked_at.is_null()),
                    )
                    .set(rt::revoked_at.eq(now))
                    .execute(c)?;
                    return Ok(Outcome::Refused);
                }
                if token.expires_at <= now {
                    return Ok(Outcome::Refused);
                }
                store(c, token.account_id, &next_digest, now + ttl, now)?;
                Ok(Outcome::Rotated(token.account_id))
            })
        })
        .await?;
    match outcome {
        Outcome::Rotated(account_id) => tokens(state, account_id, next),
        Outcome::Refused => Err(ApiError::unauthenticated("The refresh token is not valid.")
            .with("reason", "invalid_refresh_token")),
    }
}

fn store(
    c: &mut DbConn,
    account_id: i64,
    digest: &str,
    expires_at: NaiveDateTime,
    now: NaiveDateTime,
) -> ApiResult<()> {
    diesel::insert_into(rt::table)
        .values(NewRefreshToken {
            account_id,
            token_hash: digest,
            expires_at,
            created_at: now,
        })
        .execute(c)?;
    Ok(())
}

fn tokens(state: &Context, account_id: i64, refresh_token: String) -> ApiResult<SessionTokens> {
    let ttl = state.config.app_token_ttl_secs;
    let (access_token, _) =
        state
            .jwt
            .issue(Audience::App, account_id, None, state.clock.now(), ttl)?;
    Ok(SessionTokens {
        access_token,
        token_type: "Bearer",
        expires_in: ttl,
        refresh_token,
    })
}

/// Ends a hosted-page session before its expiry: its token (`jti`) is refused from now on,
/// on every instance.
pub async fn end_page_session(
    state: &Context,
    jti: String,
    expires_at: NaiveDateTime,
) -> ApiResult<()> {
    state
        .db
        .run(move |c| {
            let insert = diesel::insert_into(es::table)
                .values((es::jti.eq(&jti), es::expires_at.eq(expires_at)))
                .on_conflict_do_nothing();
            match c {
                DbConn::Pg(pg) => insert.execute(pg)?,
                DbConn::Sqlite(lite) => insert.execute(lite)?,
            };
            Ok(())
        })
        .await
}

/// Whether a hosted-page session was ended by logging out.
pub fn page_session_ended(c: &mut DbConn, jti: &str) -> ApiResult<bool> {
    Ok(es::table.find(jti).count().get_result::<i64>(c)? > 0)
}

/// Forgets ended sessions whose tokens have expired anyway.
pub fn purge_ended(c: &mut DbConn, now: NaiveDateTime) -> ApiResult<usize> {
    Ok(diesel::delete(es::table.filter(es::expires_at.le(now))).execute(c)?)
}
