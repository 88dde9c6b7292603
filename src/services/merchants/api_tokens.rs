//! Merchant API tokens: Corporate+ only. Each new token starts a new generation of the
//! merchant's tokens (stored in the database, checked on every request): the earlier ones
//! die at once, or with `previous_valid_for` at the end of that grace period (rolling
//! keys, as Stripe's). Every generation has a row in `api_tokens`, which lists the live
//! tokens and revokes one; the token itself is never stored.

use crate::auth::jwt::Audience;
use crate::db::models::Account;
use crate::db::schema::{accounts, api_tokens as t};
use crate::db::{write_tx, DbConn};
use crate::domain::account::AccountKind;
use crate::error::{ApiError, ApiResult};
use crate::services::identity::accounts::authenticate;
use crate::services::identity::sessions::Credentials;
use crate::services::Context;
use chrono::{DateTime, Duration, NaiveDateTime, Utc};
use diesel::prelude::*;
use serde::{Deserialize, Serialize};
use std::net::IpAddr;

/// The longest grace period the earlier tokens may keep (24 hours).
pub const MAX_PREVIOUS_VALID_FOR: i64 = 86_400;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TokenRequest {
    pub username: String,
    pub password: String,
    /// Seconds the earlier tokens stay valid (0 to 86 400); left out: they die at once.
    #[serde(default, deserialize_with = "crate::domain::input::present")]
    pub previous_valid_for: Option<i64>,
}

#[derive(Serialize, Debug)]
pub struct ApiToken {
    /// The token's id (`tok_…`), for `GET` and `DELETE /v1/auth/tokens/{id}`.
    pub id: String,
    pub token: String,
    pub token_type: &'static str,
    pub expires_at: DateTime<Utc>,
    /// The callback signing secret, shown once: with the merchant's first API token.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub webhook_secret: Option<String>,
}

/// A live token as `GET /v1/auth/tokens` lists it (never the token itself).
#[derive(Serialize, Debug)]
pub struct TokenInfo {
    pub id: String,
    pub object: &'static str,
    pub created_at: String,
    pub expires_at: String,
    /// When a grace period given to a newer token ends this one; null: the current one.
    pub revokes_at: Option<String>,
}

/// The 403 of a merchant that is not Corporate+, naming the way to the upgrade.
pub fn requires_corporate_plus() -> ApiError {
    ApiError::forbidden(
        "api_access_requires_corporate_plus",
        "API tokens are available to Corporate+ merchants only. The upgrade is free: \
         verify the bank account (POST /v1/me/bank-account/verification), then apply \
         with your company documents (POST /v1/me/upgrade).",
    )
    .with("apply_at", "/v1/me/upgrade")
}

pub async fn create(
    state: &Context,
    client: Option<IpAddr>,
    req: TokenRequest,
) -> ApiResult<ApiToken> {
    let grace = match req.previous_valid_for {
        None => None,
        Some(s) if (0..=MAX_PREVIOUS_VALID_FOR).contains(&s) => Some(Duration::seconds(s)),
        Some(_) => {
            return Err(ApiError::invalid_field(
                "previous_valid_for",
                format!("seconds from 0 to {MAX_PREVIOUS_VALID_FOR}"),
            ))
        }
    };
    let creds = Credentials {
        username: req.username,
        password: req.password,
    };
    let account = authenticate(state, client, &creds.username, creds.password).await?;
    if AccountKind::from_db(&account.kind) != AccountKind::CorporatePlus {
        return Err(requires_corporate_plus());
    }
    let id = account.id;
    let now = state.clock.now_naive();
    let ttl = state.config.api_token_ttl_secs;
    let expires = now + Duration::seconds(ttl);
    let public_id = crate::auth::opaque::generate("tok");
    let stored_id = public_id.clone();
    let (generation, webhook_secret) = state
        .db
        .run(move |c| {
            write_tx(c, |c| {
                let generation = bump_generation(c, id)?;
                // The earlier live tokens: their grace period, or the end at once.
                let earlier = t::table
                    .filter(t::account_id.eq(id))
                    .filter(t::revoked_at.is_null());
                match grace {
                    Some(grace) => {
                        diesel::update(earlier.filter(t::revokes_at.is_null()))
                            .set(t::revokes_at.eq(now + grace))
                            .execute(c)?;
                        // A grace period never lengthens an earlier, shorter one.
                        diesel::update(earlier.filter(t::revokes_at.gt(now + grace)))
                            .set(t::revokes_at.eq(now + grace))
                            .execute(c)?;
                    }
                    None => {
                        diesel::update(earlier)
                            .set(t::revoked_at.eq(now))
                            .execute(c)?;
                    }
                }
                diesel::insert_into(t::table)
                    .values((
                        t::public_id.eq(&stored_id),
                        t::account_id.eq(id),
                        t::generation.eq(generation),
                        t::created_at.eq(now),
                        t::expires_at.eq(expires),
                    ))
                    .execute(c)?;
                Ok((
                    generation,
                    crate::callbacks::settings::ensure_secret(c, id, now)?,
                ))
            })
        })
        .await?;
    let (token, expires_at) = state.jwt.issue(
        Audience::MerchantApi,
        id,
        Some(generation),
        state.clock.now(),
        ttl,
    )?;
    Ok(ApiToken {
        id: public_id,
        token,
        token_type: "Bearer",
        expires_at,
        webhook_secret,
    })
}

/// The merchant's live tokens, newest first (the newest 100, and whether there are more).
pub async fn list(state: &Context, account: &Account) -> ApiResult<(Vec<TokenInfo>, bool)> {
    let (id, current, now) = (
        account.id,
        account.api_token_generation,
        state.clock.now_naive(),
    );
    let rows: Vec<(
        String,
        i64,
        NaiveDateTime,
        NaiveDateTime,
        Option<NaiveDateTime>,
    )> = state
        .db
        .run(move |c| {
            Ok(t::table
                .filter(t::account_id.eq(id))
                .filter(t::revoked_at.is_null())
                .filter(t::expires_at.gt(now))
                .filter(t::generation.eq(current).or(t::revokes_at.gt(now)))
                .order(t::generation.desc())
                .limit(LIST_WINDOW)
                .select((
                    t::public_id,
                    t::generation,
                    t::created_at,
                    t::expires_at,
                    t::revokes_at,
                ))
                .load(c)?)
        })
        .await?;
    let has_more = rows.len() > 100;
    let tokens = rows
        .into_iter()
        .take(100)
        .map(|(id, _, created_at, expires_at, revokes_at)| TokenInfo {
            id,
            object: "api_token",
            created_at: crate::domain::time::rfc3339(created_at),
            expires_at: crate::domain::time::rfc3339(expires_at),
            revokes_at: revokes_at.map(crate::domain::time::rfc3339),
        })
        .collect();
    Ok((tokens, has_more))
}

/// Rows read for the list: one more than a page tells whether there are more.
const LIST_WINDOW: i64 = 101;

/// Revokes one token: the current one by starting a new generation (no token is current
/// then; those in a grace period keep it), an earlier one by marking it.
pub async fn revoke(state: &Context, account: &Account, public_id: String) -> ApiResult<()> {
    let (id, now) = (account.id, state.clock.now_naive());
    state
        .db
        .run(move |c| {
            write_tx(c, |c| {
                let row: Option<(i64, i64)> = t::table
                    .filter(t::account_id.eq(id))
                    .filter(t::public_id.eq(&public_id))
                    .filter(t::revoked_at.is_null())
                    .select((t::id, t::generation))
                    .first(c)
                    .optional()?;
                let (row_id, generation) =
                    row.ok_or_else(|| ApiError::not_found("No live API token has this id."))?;
                let account = crate::db::accounts::lock(c, id)?.ok_or_else(ApiError::internal)?;
                if generation == account.api_token_generation {
                    bump_generation(c, id)?;
                }
                diesel::update(t::table.find(row_id))
                    .set(t::revoked_at.eq(now))
                    .execute(c)?;
                Ok(())
            })
        })
        .await
}

/// Another token of the merchant's current generation: the earlier ones stay valid (the
/// demo's re-runs; the API's `POST /v1/auth/tokens` always starts a new generation).
pub async fn reissue(state: &Context, account_id: i64) -> ApiResult<ApiToken> {
    let generation: i64 = state
        .db
        .run(move |c| {
            Ok(accounts::table
                .find(account_id)
                .select(accounts::api_token_generation)
                .first(c)?)
        })
        .await?;
    let (token, expires_at) = state.jwt.issue(
        Audience::MerchantApi,
        account_id,
        Some(generation),
        state.clock.now(),
        state.config.api_token_ttl_secs,
    )?;
    let public_id: String = state
        .db
        .run(move |c| {
            Ok(t::table
                .filter(t::account_id.eq(account_id))
                .filter(t::generation.eq(generation))
                .select(t::public_id)
                .first(c)
                .optional()?)
        })
        .await?
        .unwrap_or_default();
    Ok(ApiToken {
        id: public_id,
        token,
        token_type: "Bearer",
        expires_at,
        webhook_secret: None,
    })
}

/// Revokes every API token of the merchant, those in a grace period too.
pub async fn revoke_all(state: &Context, account_id: i64) -> ApiResult<()> {
    let now = state.clock.now_naive();
    state
        .db
        .run(move |c| {
            write_tx(c, |c| {
                bump_generation(c, account_id)?;
                diesel::update(
                    t::table
                        .filter(t::account_id.eq(account_id))
                        .filter(t::revoked_at.is_null()),
                )
                .set(t::revoked_at.eq(now))
                .execute(c)?;
                Ok(())
            })
        })
        .await
}

fn bump_generation(c: &mut DbConn, id: i64) -> ApiResult<i64> {
    Ok(diesel::update(accounts::table.find(id))
        .set(accounts::api_token_generation.eq(accounts::api_token_generation + 1))
        .returning(accounts::api_token_generation)
        .get_result(c)?)
}
