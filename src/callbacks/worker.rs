//! The delivery worker: claims due outbox events with a lease (`FOR UPDATE SKIP LOCKED`
//! on PostgreSQL, the write lock on SQLite), so several instances never send the same
//! attempt, signs and POSTs each, and records the outcome. 2xx is delivered; anything
//! else (redirects are never followed) is retried on the schedule, then `failed`.

use super::{guard, settings, signing};
use crate::db::models::OutboxEvent;
use crate::db::schema::{callback_attempts as ca, outbox_events as ob};
use crate::db::{write_tx, DbConn};
use crate::error::{ApiError, ApiResult};
use crate::state::AppState;
use chrono::{Duration, NaiveDateTime};
use diesel::prelude::*;
use diesel::sql_types::{BigInt, Text, Timestamp};
use reqwest::header::RETRY_AFTER;
use std::sync::Arc;
use tokio::sync::watch;

/// Waits after failed attempts 1..7: 5 s, 5 min, 30 min, 2 h, 5 h, 10 h, 10 h.
pub const RETRY_SCHEDULE_SECS: [i64; 7] = [5, 300, 1800, 7200, 18_000, 36_000, 36_000];
const LEASE_SECS: i64 = 60;
const BATCH: i64 = 20;
/// A `Retry-After` longer than this is capped.
const MAX_RETRY_AFTER_SECS: i64 = 24 * 3600;

pub struct Worker {
    state: AppState,
    client: reqwest::Client,
    owner: String,
}

/// One claimed event with what is needed to send it.
struct Delivery {
    event: OutboxEvent,
    target: Option<String>,
    secrets: Vec<String>,
}

enum Outcome {
    Answered {
        status: u16,
        retry_after: Option<i64>,
    },
    Failed(String),
}

impl Worker {
    pub fn new(state: AppState) -> Result<Self, String> {
        let client = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .timeout(std::time::Duration::from_millis(
                state.config.callback_timeout_ms,
            ))
            .dns_resolver(Arc::new(guard::GuardedResolver {
                allow_private: state.config.callback_allow_private,
            }))
            .user_agent("PinPay-Webhooks/1")
            .build()
            .map_err(|e| format!("callback client: {e}"))?;
        let owner = crate::domain::requests::public_id("worker");
        Ok(Self {
            state,
            client,
            owner,
        })
    }

    /// Delivers until `shutdown` flips; a round in progress is finished first.
    pub async fn run(self, mut shutdown: watch::Receiver<bool>) {
        let every = std::time::Duration::from_millis(self.state.config.delivery_interval_ms);
        let mut tick = tokio::time::interval(every);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            // Shutdown first: once it is asked for, no new claim starts (a round already
            // claimed finishes, or its leases lapse).
            tokio::select! {
                biased;
                _ = shutdown.changed() => break,
                _ = tick.tick() => {
                    if *shutdown.borrow() {
                        break;
                    }
                    if let Err(e) = self.round().await {
                        tracing::warn!(error = %e, "callback delivery round failed");
                    }
                }
            }
        }
    }

    /// Claims due events and delivers them concurrently; returns how many.
    pub async fn round(&self) -> ApiResult<usize> {
        let (owner, now) = (self.owner.clone(), self.state.clock.now_naive());
        let claimed = self.state.db.run(move |c| claim(c, &owner, now)).await?;
        let n = claimed.len();
        futures::future::join_all(claimed.into_iter().map(|d| self.deliver(d))).await;
        Ok(n)
    }

    async fn deliver(&self, d: Delivery) {
        let started = self.state.clock.now();
        let outcome = match &d.target {
            None => {
                Outcome::Failed("no callback URL: set a default with PUT /v1/callback-url".into())
            }
            Some(url) => self.send(url, &d, started.timestamp()).await,
        };
        let owner = self.owner.clone();
        let at = started.naive_utc();
        let recorded = self
            .state
            .db
            .run(move |c| write_tx(c, |c| record(c, &owner, &d, outcome, at)))
            .await;
        if let Err(e) = recorded {
            tracing::error!(error = %e, "could not record a callback attempt");
        }
    }

    async fn send(&self, url: &str, d: &Delivery, timestamp: i64) -> Outcome {
        if let Err(why) = guard::check_target(url, self.state.config.callback_allow_private) {
            return Outcome::Failed(format!("callback URL refused: {why}"));
        }
        let secrets: Vec<&str> = d.secrets.iter().map(String::as_str).collect();
        let body = d.event.payload.clone().into_bytes();
        let signature = signing::header(&secrets, &d.event.public_id, timestamp, &body);
        let sent = self
            .client
            .post(url)
            .header("content-type", "application/json")
            .header("webhook-id", &d.event.public_id)
            .header("webhook-timestamp", timestamp.to_string())
            .header("webhook-signature", signature)
            .body(body)
            .send()
            .await;
        match sent {
            Ok(res) => Outcome::Answered {
                status: res.status().as_u16(),
                retry_after: res
                    .headers()
                    .get(RETRY_AFTER)
                    .and_then(|v| v.to_str().ok())
                    .and_then(|v| v.trim().parse::<i64>().ok())
                    .map(|s| s.clamp(0, MAX_RETRY_AFTER_SECS)),
            },
            Err(e) => Outcome::Failed(describe(&e)),
        }
    }
}

/// The error with its causes ("error sending request: …: resolves to a non-public address").
fn describe(e: &reqwest::Error) -> String {
    let kind = if e.is_timeout() {
        "timeout"
    } else if e.is_connect() {
        "connection failed"
    } else {
        "request failed"
    };
    let mut text = kind.to_string();
    let mut source = std::error::Error::source(e);
    while let Some(s) = source {
        text.push_str(": ");
        text.push_str(&s.to_string());
        source = s.source();
    }
    text.chars().take(500).collect()
}

#[derive(QueryableByName)]
struct ClaimedId {
    #[diesel(sql_type = BigInt)]
    id: i64,
}

/// Leases up to `BATCH` due events to `owner`.
fn claim(c: &mut DbConn, owner: &str, now: NaiveDateTime) -> ApiResult<Vec<Delivery>> {
    let until = now + Duration::seconds(LEASE_SECS);
    let ids: Vec<i64> = match c {
        DbConn::Pg(pg) => diesel::sql_query(
            "UPDATE outbox_events SET lease_owner = $1, lease_until = $2 WHERE id IN ( \
               SELECT id FROM outbox_events WHERE status = 'pending' AND next_attempt_at <= $3 \
               AND (lease_until IS NULL OR lease_until < $3) \
               ORDER BY next_attempt_at, id LIMIT $4 FOR UPDATE SKIP LOCKED) RETURNING id",
        )
        .bind::<Text, _>(owner)
        .bind::<Timestamp, _>(until)
        .bind::<Timestamp, _>(now)
        .bind::<BigInt, _>(BATCH)
        .load::<ClaimedId>(pg)?
        .into_iter()
        .map(|r| r.id)
        .collect(),
        DbConn::Sqlite(_) => write_tx(c, |c| {
            let ids: Vec<i64> = ob::table
                .filter(ob::status.eq("pending"))
                .filter(ob::next_attempt_at.le(now))
                .filter(ob::lease_until.is_null().or(ob::lease_until.lt(now)))
                .order((ob::next_attempt_at.asc(), ob::id.asc()))
                .limit(BATCH)
                .select(ob::id)
                .load(c)?;
            diesel::update(ob::table.filter(ob::id.eq_any(&ids)))
                .set((ob::lease_owner.eq(owner), ob::lease_until.eq(until)))
                .execute(c)?;
            Ok(ids)
        })?,
    };
    let events: Vec<OutboxEvent> = ob::table
        .filter(ob::id.eq_any(&ids))
        .order(ob::id.asc())
        .select(OutboxEvent::as_select())
        .load(c)?;
    events
        .into_iter()
        .map(|event| {
            let config = settings::find(c, event.merchant_id)?;
            let target = event
                .target_url
                .clone()
                .or_else(|| config.as_ref().and_then(|s| s.url.clone()));
            let secrets = config
                .map(|s| settings::active_secrets(&s, now))
                .unwrap_or_default();
            Ok(Delivery {
                event,
                target,
                secrets,
            })
        })
        .collect()
}

/// Stores the attempt and the event's next state, if this worker still holds the lease.
fn record(
    c: &mut DbConn,
    owner: &str,
    d: &Delivery,
    outcome: Outcome,
    now: NaiveDateTime,
) -> ApiResult<()> {
    let held: Option<String> = ob::table
        .find(d.event.id)
        .select(ob::lease_owner)
        .first(c)?;
    if held.as_deref() != Some(owner) {
        return Err(ApiError::internal_from(
            "callback lease",
            "lease lost before recording",
        ));
    }
    let attempt = d.event.attempts + 1;
    let (http_status, error, delivered, retry_after) = match outcome {
        Outcome::Answered { status, .. } if (200..300).contains(&status) => {
            (Some(i32::from(status)), None, true, None)
        }
        Outcome::Answered {
            status,
            retry_after,
        } => (
            Some(i32::from(status)),
            Some(format!("HTTP {status}")),
            false,
            retry_after,
        ),
        Outcome::Failed(why) if d.target.is_none() => {
            diesel::update(ob::table.find(d.event.id))
                .set((
                    ob::status.eq("failed"),
                    ob::last_error.eq(why),
                    ob::lease_owner.eq(None::<String>),
                    ob::lease_until.eq(None::<NaiveDateTime>),
                ))
                .execute(c)?;
            return Ok(());
        }
        Outcome::Failed(why) => (None, Some(why), false, None),
    };
    let next = (!delivered)
        .then(|| RETRY_SCHEDULE_SECS.get(attempt as usize - 1))
        .flatten()
        .map(|wait| now + Duration::seconds((*wait).max(retry_after.unwrap_or(0))));
    diesel::insert_into(ca::table)
        .values((
            ca::event_id.eq(d.event.id),
            ca::attempt.eq(attempt),
            ca::target_url.eq(&d.target),
            ca::started_at.eq(now),
            ca::http_status.eq(http_status),
            ca::error.eq(&error),
            ca::next_attempt_at.eq(next),
        ))
        .execute(c)?;
    let status = match (delivered, next) {
        (true, _) => "delivered",
        (false, Some(_)) => "pending",
        (false, None) => "failed",
    };
    diesel::update(ob::table.find(d.event.id))
        .set((
            ob::status.eq(status),
            ob::attempts.eq(attempt),
            ob::next_attempt_at.eq(next.unwrap_or(d.event.next_attempt_at)),
            ob::last_error.eq(&error),
            ob::delivered_at.eq(delivered.then_some(now)),
            ob::lease_owner.eq(None::<String>),
            ob::lease_until.eq(None::<NaiveDateTime>),
        ))
        .execute(c)?;
    Ok(())
}
