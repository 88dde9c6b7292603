//! Merchant API tokens: Corporate+ only; each new token revokes all earlier ones by
//! bumping the merchant's token generation in the database (checked on every request).

use super::accounts::authenticate;
use super::sessions::Credentials;
use crate::auth::jwt::Audience;
use crate::db::schema::accounts;
use crate::db::{write_tx, DbConn};
use crate::domain::account::AccountKind;
use crate::error::{ApiError, ApiResult};
use crate::state::AppState;
use chrono::{DateTime, Utc};
use diesel::prelude::*;
use serde::Serialize;
use std::net::IpAddr;

#[derive(Serialize, Debug)]
pub struct ApiToken {
    pub token: String,
    pub token_type: &'static str,
    pub expires_at: DateTime<Utc>,
    /// The callback signing secret, shown once: with the merchant's first API token.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub webhook_secret: Option<String>,
}

pub async fn create(
    state: &AppState,
    client: Option<IpAddr>,
    creds: Credentials,
) -> ApiResult<ApiToken> {
    let account = authenticate(state, client, &creds.username, creds.password).await?;
    if AccountKind::from_db(&account.kind) != AccountKind::CorporatePlus {
        return Err(ApiError::forbidden(
            "api_access_requires_corporate_plus",
            "API tokens are available to Corporate+ merchants only; ask for the free upgrade.",
        ));
    }
    let id = account.id;
    let now = state.clock.now_naive();
    let (generation, webhook_secret) = state
        .db
        .run(move |c| {
            write_tx(c, |c| {
                Ok((
                    bump_generation(c, id)?,
                    crate::callbacks::settings::ensure_secret(c, id, now)?,
                ))
            })
        })
        .await?;
    let ttl = state.config.api_token_ttl_secs;
    let (token, expires_at) = state.jwt.issue(
        Audience::MerchantApi,
        id,
        Some(generation),
        state.clock.now(),
        ttl,
    )?;
    Ok(ApiToken {
        token,
        token_type: "Bearer",
        expires_at,
        webhook_secret,
    })
}

/// Another token of the merchant's current generation: the earlier ones stay valid (the
/// demo's re-runs; the API's `POST /v1/auth/tokens` always starts a new generation).
pub async fn reissue(state: &AppState, account_id: i64) -> ApiResult<ApiToken> {
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
    Ok(ApiToken {
        token,
        token_type: "Bearer",
        expires_at,
        webhook_secret: None,
    })
}

/// Revokes every API token of the merchant.
pub async fn revoke_all(state: &AppState, account_id: i64) -> ApiResult<()> {
    state
        .db
        .run(move |c| write_tx(c, |c| bump_generation(c, account_id)))
        .await?;
    Ok(())
}

fn bump_generation(c: &mut DbConn, id: i64) -> ApiResult<i64> {
    Ok(diesel::update(accounts::table.find(id))
        .set(accounts::api_token_generation.eq(accounts::api_token_generation + 1))
        .returning(accounts::api_token_generation)
        .get_result(c)?)
}
