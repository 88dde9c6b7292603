//! The transactional outbox: callback events are written in the same database
//! transaction as the state change they report; the delivery worker sends them.

use crate::db::schema::outbox_events as ob;
use crate::db::DbConn;
use crate::domain::requests::public_id;
use crate::error::ApiResult;
use chrono::NaiveDateTime;
use diesel::prelude::*;
use serde_json::{json, Value};

/// Writes event `event_type` for the merchant with `data` (the request or refund object).
/// `target_url` is the request's own callback URL; without one the merchant's default
/// applies at delivery time.
pub fn emit(
    c: &mut DbConn,
    merchant_id: i64,
    event_type: &str,
    data: Value,
    target_url: Option<&str>,
    now: NaiveDateTime,
) -> ApiResult<String> {
    let id = public_id("evt");
    let payload = json!({
        "id": id,
        "type": event_type,
        "created_at": crate::domain::time::rfc3339(now),
        "data": data,
    });
    diesel::insert_into(ob::table)
        .values((
            ob::public_id.eq(&id),
            ob::merchant_id.eq(merchant_id),
            ob::event_type.eq(event_type),
            ob::payload.eq(payload.to_string()),
            ob::target_url.eq(target_url),
            ob::next_attempt_at.eq(now),
            ob::created_at.eq(now),
        ))
        .execute(c)?;
    written(c)?;
    Ok(id)
}

/// The PostgreSQL channel on which committed events wake every instance's worker.
pub const CHANNEL: &str = "pinpay_outbox";

/// Wakes the delivery workers once the caller's transaction commits: this instance's
/// through `Db::run`, the others' through PostgreSQL `NOTIFY` (sent on commit only, once
/// per transaction however many events it wrote, tagged with this instance so that its
/// own listener skips it).
pub fn written(c: &mut DbConn) -> ApiResult<()> {
    // One NOTIFY per unit of work, however many events it writes (a sweep expires 200).
    let first = crate::db::outbox_written();
    if first {
        crate::db::notify(c, CHANNEL, crate::db::instance_tag());
    }
    Ok(())
}
