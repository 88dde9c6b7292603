//! A merchant's callback settings as the merchant changes them: the default URL
//! (checked against the SSRF guard as it is registered) and the signing secret's rotation.

use crate::callbacks::guard;
use crate::callbacks::settings::{ensure_secret, find, ROTATION_OVERLAP_HOURS};
use crate::callbacks::signing;
use crate::db::schema::merchant_callbacks as mc;
use crate::db::write_tx;
use crate::error::{ApiError, ApiResult};
use crate::services::Context;
use chrono::Duration;
use diesel::prelude::*;
use serde::{Deserialize, Serialize};

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
                    previous_secret_expires_at: Some(crate::domain::time::rfc3339(until)),
                })
            })
        })
        .await
}
