//! A wallet's Web Push subscriptions as the delivery worker reads them: where a queued
//! push goes, and forgetting one the push service called gone (registration and listing
//! are `services::messaging::push`).

use crate::db::schema::push_subscriptions as ps;
use crate::db::DbConn;
use diesel::prelude::*;

/// `(endpoint, p256dh, auth)` of subscription `id` (a queued push's recipient), if it
/// still exists.
pub fn target(c: &mut DbConn, id: &str) -> QueryResult<Option<(String, String, String)>> {
    let Ok(id) = id.parse::<i64>() else {
        return Ok(None);
    };
    ps::table
        .find(id)
        .select((ps::endpoint, ps::p256dh, ps::auth))
        .first(c)
        .optional()
}

/// Forgets subscription `id`.
pub fn remove(c: &mut DbConn, id: &str) -> QueryResult<()> {
    if let Ok(id) = id.parse::<i64>() {
        diesel::delete(ps::table.find(id)).execute(c)?;
    }
    Ok(())
}
