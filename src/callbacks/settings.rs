//! A merchant's callback settings as the delivery reads them: the default URL and the
//! signing secrets (the current one, and the previous one during its overlap).

use super::signing;
use crate::db::models::MerchantCallbacks;
use crate::db::schema::merchant_callbacks as mc;
use crate::db::DbConn;
use crate::error::ApiResult;
use chrono::NaiveDateTime;
use diesel::prelude::*;

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
