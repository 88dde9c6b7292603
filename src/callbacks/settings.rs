//! A merchant's callback settings: default URL and signing secrets.

use super::{guard, signing};
use crate::db::models::MerchantCallbacks;
use crate::db::schema::merchant_callbacks as mc;
use crate::db::{write_tx, DbConn};
use crate::error::{ApiError, ApiResult};
use crate::services::Context;
use chrono::{Duration, NaiveDateTime};
use diesel::prelude::*;
use serde::{Deserialize, Serialize};

/// After a rotation the previous secret signs alongside the new one this long.
pub const ROTATION_OVERLAP_HOURS: i64 = 24;

pub fn find(c: &mut DbConn, merchant_id: i64) -> QueryResult<Option<MerchantCallbacks>> {
    mc::table
        .find(merchant_id)
        .select(MerchantCallbacks::as_select())
        .first(c)
        .optional()
}

/// Whether the merchant has a default callback URL (events without one are not queued).
pub fn has_url(c: &mut DbConn, merchant_id: i64) -> QueryResult<bool> {
    Ok(find(c, merchant_id)?.is_some_and(|cb| cb.url.is_some()))
}

/// Creates the merchant's signing secret if it has none; returns it only when created
/// (a secret is shown once).
pub fn ensure_secret(
    c: &mut DbConn,
    merchant_id: i64,
    now: NaiveDateTime,
) -> ApiResult<Option<String>> {
    if find(c, merchant_id)?.is_some() {
        return Ok(None);
    }
    let secret = signing::new_secret();
    diesel::insert_into(mc::table)
        .values((
            mc::merchant_id.eq(merchant_id),
            mc::secret.eq(&secret),
            mc::updated_at.eq(now),
        ))
        .execute(c)?;
    Ok(Some(secret))
}

/// The secrets that sign now: the current one, and the previous one within its overlap.
pub fn active_secrets(s: &MerchantCallbacks, now: NaiveDateTime) -> Vec<String> {
    let mut secrets = vec![s.secret.clone()];
    if let (Some(prev), Some(until)) = (&s.previous_secret, s.previous_until) {
        if now < until {
            secrets.push(prev.clone());
        }
    }
    secrets
}

/// Validates a callback URL as it is registered (shape, then current DNS answer).
pub async fn validate_url(state: &Context, raw: &str, field: &str) -> ApiResult<String> {
    let allow = state.config.callback_allow_private;
    let refuse = |why: String| {
        ApiError::unprocessable("invalid_callback_url", format!("{field} {why}"))
            .with("field", field.to_string())
    };
    let url = guard::check_url(raw, allow).map_err(refuse)?;
    guard::check_resolution(&url, allow).await.map_err(refuse)?;
    Ok(url.to_string())
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UrlUpdate {
    /// `null` removes the default; the key itself is required.
    #[serde(deserialize_with = "Option::deserialize")]
    pub url: Option<String>,
}

#[derive(Serialize)]
pub struct UrlView {
    pub url: Option<String>,
    /// Present only when this call created the signing secret.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub webhook_secret: Option<String>,
}

pub async fn set_url(state: &Context, merchant_id: i64, update: UrlUpdate) -> ApiResult<UrlView> {
    let url = match update.url {
        Some(raw) => Some(validate_url(state, &raw, "url").await?),
        None => None,
    };
    let now = state.clock.now_naive();
    state
        .db
        .run(move |c| {
            write_tx(c, |c| {
                let secret = ensure_secret(c, merchant_id, now)?;
                diesel::update(mc::table.find(merchant_id))
                    .set((mc::url.eq(&url), mc::updated_at.eq(now)))
                    .execute(c)?;
                Ok(UrlView {
                    url,
                    webhook_secret: secret,
                })
            })
        })
        .await
}

#[derive(Serialize)]
pub struct RotatedSecret {
    pub webhook_secret: String,
    /// Until then the previous secret signs too (absent on first creation).
    pub previous_secret_expires_at: Option<String>,
}

pub async fn rotate(state: &Context, merchant_id: i64) -> ApiResult<RotatedSecret> {
    let now = state.clock.now_naive();
    state
        .db
        .run(move |c| {
            write_tx(c, |c| {
                if let Some(secret) = ensure_secret(c, merchant_id, now)? {
                    return Ok(RotatedSecret {
                        webhook_secret: secret,
                        previous_secret_expires_at: None,
                    });
                }
                let current = find(c, merchant_id)?.ok_or_else(ApiError::internal)?;
                let secret = signing::new_secret();
                let until = now + Duration::hours(ROTATION_OVERLAP_HOURS);
                diesel::update(mc::table.find(merchant_id))
                    .set((
                        mc::secret.eq(&secret),
                        mc::previous_secret.eq(Some(current.secret)),
                        mc::previous_until.eq(Some(until)),
                        mc::updated_at.eq(now),
                    ))
                    .execute(c)?;
                Ok(RotatedSecret {
                    webhook_secret: secret,
                    previous_secret_expires_at: Some(crate::routes::rfc3339(until)),
                })
            })
        })
        .await
}
