//! Expiry: past its deadline a request can never be approved; the sweeper marks overdue
//! requests `expired` and emits the callback.

use super::view::Names;
use super::{announce, record};
use crate::domain::status::RequestStatus;

use crate::db::models::MoneyRequest;
use crate::db::schema::money_requests as mr;
use crate::db::{db_now, write_tx, DbConn};
use crate::error::ApiResult;
use crate::services::Context;
use chrono::NaiveDateTime;
use diesel::prelude::*;

/// Marks one pending, overdue request expired (inside the caller's transaction).
pub fn expire(
    c: &mut DbConn,
    row: &MoneyRequest,
    now: NaiveDateTime,
    public_url: &str,
) -> ApiResult<()> {
    let changed = diesel::update(
        mr::table
            .find(row.id)
            .filter(mr::status.eq(RequestStatus::Pending.as_str())),
    )
    .set((
        mr::status.eq(RequestStatus::Expired.as_str()),
        // Resolved at the deadline, as every read showed it since (see `as_of`).
        mr::resolved_at.eq(row.expires_at),
        mr::updated_at.eq(now),
    ))
    .execute(c)?;
    if changed == 1 {
        record(c, row.id, "expired", "system", None, now)?;
        announce(
            c,
            row.id,
            "money_request.expired",
            now,
            public_url,
            &mut Names::default(),
        )?;
    }
    Ok(())
}

/// Expires up to `batch` overdue requests; returns how many.
pub async fn sweep(state: &Context, batch: i64) -> ApiResult<usize> {
    let (clock, public_url) = (state.clock.clone(), state.config.public_url.clone());
    state
        .db
        .run(move |c| {
            write_tx(c, |c| {
                let now = db_now(c, &clock)?;
                let due: Vec<MoneyRequest> = mr::table
                    .filter(mr::status.eq(RequestStatus::Pending.as_str()))
                    .filter(mr::expires_at.le(now))
                    .order(mr::expires_at.asc())
                    .limit(batch)
                    .select(MoneyRequest::as_select())
                    .load(c)?;
                for row in &due {
                    expire(c, row, now, &public_url)?;
                }
                crate::services::idempotency::purge(c, now)?;
                crate::services::identity::throttle::purge(c, now)?;
                crate::services::merchants::documents::purge_incomplete(c, now)?;
                crate::services::identity::sessions::purge_ended(c, now)?;
                crate::services::identity::web_sessions::purge(c, now)?;
                Ok(due.len())
            })
        })
        .await
}

/// Expires overdue requests in batches until the backlog is gone (a burst of deadlines
/// is cleared in one round, not one batch per interval), or until `stop` says so.
pub async fn sweep_backlog(state: &Context, stop: impl Fn() -> bool) {
    const BATCH: i64 = 200;
    let mut total = 0;
    while !stop() {
        match sweep(state, BATCH).await {
            Ok(n) => {
                state.metrics.money_request("expired", n as u64);
                total += n;
                if (n as i64) < BATCH {
                    break;
                }
            }
            Err(e) => {
                tracing::warn!(error = %e, "expiry sweep failed");
                break;
            }
        }
    }
    if total > 0 {
        tracing::info!(expired = total, "expired overdue money requests");
    }
}
