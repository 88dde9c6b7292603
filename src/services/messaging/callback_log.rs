//! The merchant's delivery log (events with their attempts) and manual redelivery.

use crate::db::models::{CallbackAttempt, OutboxEvent};
use crate::db::schema::{callback_attempts as ca, outbox_events as ob};
use crate::db::{read_snapshot, DbConn};
use crate::domain::status::DeliveryStatus;
use crate::domain::time::rfc3339;
use crate::error::{ApiError, ApiResult};
use crate::services::Context;
use chrono::NaiveDateTime;
use diesel::prelude::*;
use serde::Serialize;

#[derive(Serialize)]
pub struct EventView {
    pub id: String,
    #[serde(rename = "type")]
    pub event_type: String,
    pub status: DeliveryStatus,
    pub target_url: Option<String>,
    pub attempts: Vec<AttemptView>,
    pub next_attempt_at: Option<String>,
    pub last_error: Option<String>,
    pub delivered_at: Option<String>,
    pub created_at: String,
}

#[derive(Serialize)]
pub struct AttemptView {
    pub attempt: i32,
    pub started_at: String,
    pub target_url: Option<String>,
    pub http_status: Option<i32>,
    pub error: Option<String>,
    /// `http_status`, `timeout`, `connection`, `refused_target` or `request`.
    pub error_class: Option<String>,
    pub duration_ms: Option<i32>,
}

fn view(e: OutboxEvent, attempts: Vec<CallbackAttempt>) -> EventView {
    EventView {
        id: e.public_id,
        event_type: e.event_type,
        target_url: e.target_url,
        next_attempt_at: (e.status == DeliveryStatus::Pending).then(|| rfc3339(e.next_attempt_at)),
        status: e.status,
        attempts: attempts
            .into_iter()
            .map(|a| AttemptView {
                attempt: a.attempt,
                started_at: rfc3339(a.started_at),
                target_url: a.target_url,
                http_status: a.http_status,
                error: a.error,
                error_class: a.error_class,
                duration_ms: a.duration_ms,
            })
            .collect(),
        last_error: e.last_error,
        delivered_at: e.delivered_at.map(rfc3339),
        created_at: rfc3339(e.created_at),
    }
}

/// One page of the merchant's callback events, newest first.
pub async fn list(
    state: &Context,
    merchant_id: i64,
    starting_after: Option<String>,
    limit: i64,
) -> ApiResult<(Vec<EventView>, bool)> {
    state
        .db
        // One snapshot: an attempt recorded between the two reads would otherwise show
        // beside its event's state from before it.
        .run(move |c| read_snapshot(c, |c| page(c, merchant_id, starting_after, limit)))
        .await
}

/// `list`'s page: the events, then their attempts.
fn page(
    c: &mut DbConn,
    merchant_id: i64,
    starting_after: Option<String>,
    limit: i64,
) -> ApiResult<(Vec<EventView>, bool)> {
    let mut q = ob::table
        .filter(ob::merchant_id.eq(merchant_id))
        .into_boxed();
    if let Some(after) = starting_after {
        let cursor = find_event(c, merchant_id, &after)?.ok_or_else(ApiError::unknown_cursor)?;
        q = q.filter(ob::id.lt(cursor.id));
    }
    let mut events: Vec<OutboxEvent> = q
        .order(ob::id.desc())
        .limit(limit + 1)
        .select(OutboxEvent::as_select())
        .load(c)?;
    let has_more = events.len() as i64 > limit;
    events.truncate(limit as usize);
    let ids: Vec<i64> = events.iter().map(|e| e.id).collect();
    let mut attempts: Vec<CallbackAttempt> = ca::table
        .filter(ca::event_id.eq_any(&ids))
        .order(ca::id.asc())
        .select(CallbackAttempt::as_select())
        .load(c)?;
    let views = events
        .into_iter()
        .map(|e| {
            let (mine, rest): (Vec<_>, Vec<_>) =
                attempts.drain(..).partition(|a| a.event_id == e.id);
            attempts = rest;
            view(e, mine)
        })
        .collect();
    Ok((views, has_more))
}

/// Queues a delivered or failed event again, with a fresh retry schedule.
pub async fn redeliver(
    state: &Context,
    merchant_id: i64,
    public_id: String,
) -> ApiResult<EventView> {
    let now = state.clock.now_naive();
    state
        .db
        .run(move |c| {
            let event = find_event(c, merchant_id, &public_id)?
                .ok_or_else(|| ApiError::not_found("No callback event with this id."))?;

            if event.status == DeliveryStatus::Pending {
                return Err(ApiError::conflict(
                    "delivery_pending",
                    "This event is already queued for delivery.",
                ));
            }
            diesel::update(ob::table.find(event.id))
                .set((
                    ob::status.eq(DeliveryStatus::Pending.as_str()),
                    ob::attempts.eq(0),
                    ob::next_attempt_at.eq(now),
                    ob::last_error.eq(None::<String>),
                    ob::delivered_at.eq(None::<NaiveDateTime>),
                ))
                .execute(c)?;
            crate::services::messaging::outbox::written(c)?;
            let event = ob::table
                .find(event.id)
                .select(OutboxEvent::as_select())
                .first(c)?;
            let attempts = ca::table
                .filter(ca::event_id.eq(event.id))
                .order(ca::id.asc())
                .select(CallbackAttempt::as_select())
                .load(c)?;
            Ok(view(event, attempts))
        })
        .await
}

/// The merchant's event with this public id.
fn find_event(
    c: &mut DbConn,
    merchant_id: i64,
    public_id: &str,
) -> QueryResult<Option<OutboxEvent>> {
    if !crate::db::matchable(public_id) {
        return Ok(None);
    }
    ob::table
        .filter(ob::public_id.eq(public_id))
        .filter(ob::merchant_id.eq(merchant_id))
        .select(OutboxEvent::as_select())
        .first(c)
        .optional()
}

/// Pending events that are due now, and those waiting for a later retry (the metrics'
/// queue depth).
pub async fn queue_depth(state: &Context, now: NaiveDateTime) -> ApiResult<(i64, i64)> {
    state
        .db
        .run(move |c| {
            let due: i64 = ob::table
                .filter(ob::status.eq(DeliveryStatus::Pending.as_str()))
                .filter(ob::next_attempt_at.le(now))
                .count()
                .get_result(c)?;
            let later: i64 = ob::table
                .filter(ob::status.eq(DeliveryStatus::Pending.as_str()))
                .filter(ob::next_attempt_at.gt(now))
                .count()
                .get_result(c)?;
            Ok((due, later))
        })
        .await
}
