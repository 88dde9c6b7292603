//! Notifications of the account holder: e-mail (low-balance alerts) and Web Push (the
//! wallet app, see `push`): queued in the
//! transaction that decided them, delivered by a worker through the [`Notifier`] with
//! retries, claimed under a lease so several instances never send one twice.

use crate::db::schema::notifications as n;
use crate::db::{write_tx, DbConn};
use crate::domain::status::SendStatus;
use crate::error::ApiResult;
use crate::notify::{Channel, Message, Notifier, SendError};
use crate::services::Context;
use chrono::{Duration, NaiveDateTime};
use diesel::prelude::*;
use std::sync::Arc;
use tokio::sync::watch;

/// Waits before the 2nd, 3rd, … attempt; after the last the notification is `failed`.
const RETRY_SECS: [i64; 5] = [5, 60, 300, 1800, 7200];
const LEASE_SECS: i64 = 60;
const BATCH: i64 = 10;
/// The `kind` of a Web Push (its recipient is a `push_subscriptions` id).
pub const PUSH: &str = "push";

pub fn queue(
    c: &mut DbConn,
    account_id: i64,
    kind: &str,
    to: &str,
    subject: &str,
    body: &str,
    now: NaiveDateTime,
) -> ApiResult<()> {
    diesel::insert_into(n::table)
        .values((
            n::account_id.eq(account_id),
            n::kind.eq(kind),
            n::recipient.eq(to),
            n::subject.eq(subject),
            n::body.eq(body),
            n::status.eq(SendStatus::Queued.as_str()),
            n::next_attempt_at.eq(now),
            n::created_at.eq(now),
        ))
        .execute(c)?;
    Ok(())
}

type Due = (i64, i32, String, String, String, String);

/// Delivers due notifications every second until `shutdown` flips.
pub async fn run(state: Context, notifier: Arc<Notifier>, mut shutdown: watch::Receiver<bool>) {
    let owner = crate::auth::opaque::generate("notifier");
    let mut tick = tokio::time::interval(std::time::Duration::from_secs(1));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let wake = state.notifications_wake.clone();
    loop {
        // Every second for the other instances' queueing, at once for this instance's.
        tokio::select! {
            biased;
            _ = shutdown.changed() => break,
            _ = wake.notified() => {}
            _ = tick.tick() => {}
        }
        if *shutdown.borrow() {
            break;
        }
        loop {
            let claimed = match claim(&state, &owner).await {
                Ok(claimed) if !claimed.is_empty() => claimed,
                Ok(_) => break,
                Err(e) => {
                    tracing::warn!(error = %e.detail, "claiming notifications failed");
                    break;
                }
            };
            for (id, attempts, kind, to, subject, text) in claimed {
                let outcome = if kind == PUSH {
                    push(&state, &notifier, &to, &text).await
                } else {
                    let message = Message {
                        id: format!("ntf_{id}"),
                        channel: Channel::Email,
                        to,
                        subject,
                        text,
                    };
                    notifier.send(&message).await
                };
                if let Err(e) = settle(&state, &owner, id, attempts, outcome).await {
                    tracing::warn!(notification = id, error = %e.detail, "recording a notification failed");
                }
            }
        }
    }
}

/// One push to one subscription; a subscription the push service calls gone is removed.
async fn push(
    state: &Context,
    notifier: &Notifier,
    subscription: &str,
    payload: &str,
) -> Result<(), SendError> {
    let key = subscription.to_string();
    let target = state
        .db
        .run(move |c| Ok(crate::db::push_subscriptions::target(c, &key)?))
        .await
        .map_err(|e| SendError::transient(e.detail))?;
    let Some((endpoint, p256dh, auth)) = target else {
        return Err(SendError {
            permanent: true,
            gone: true,
            detail: "the subscription was removed".into(),
        });
    };
    let target = crate::notify::push::Target {
        endpoint,
        p256dh,
        auth,
    };
    let outcome = notifier.push(&target, payload.as_bytes()).await;
    if matches!(&outcome, Err(e) if e.gone) {
        let key = subscription.to_string();
        let removed = state
            .db
            .run(move |c| Ok(crate::db::push_subscriptions::remove(c, &key)?))
            .await;
        if let Err(e) = removed {
            tracing::warn!(error = %e.detail, "removing a gone push subscription failed");
        }
    }
    outcome
}

async fn claim(state: &Context, owner: &str) -> ApiResult<Vec<Due>> {
    let (owner, now) = (owner.to_string(), state.clock.now_naive());
    state
        .db
        .run(move |c| {
            write_tx(c, |c| {
                let due = || {
                    n::table
                        .filter(n::status.eq(SendStatus::Queued.as_str()))
                        .filter(n::next_attempt_at.le(now))
                        .filter(n::lease_until.is_null().or(n::lease_until.lt(now)))
                        .order(n::id.asc())
                        .limit(BATCH)
                        .select((
                            n::id,
                            n::attempts,
                            n::kind,
                            n::recipient,
                            n::subject,
                            n::body,
                        ))
                };
                let rows: Vec<Due> = match c {
                    DbConn::Pg(pg) => due().for_update().skip_locked().load(pg)?,
                    DbConn::Sqlite(sq) => due().load(sq)?,
                };
                for (id, ..) in &rows {
                    diesel::update(n::table.find(id))
                        .set((
                            n::lease_owner.eq(&owner),
                            n::lease_until.eq(now + Duration::seconds(LEASE_SECS)),
                        ))
                        .execute(c)?;
                }
                Ok(rows)
            })
        })
        .await
}

async fn settle(
    state: &Context,
    owner: &str,
    id: i64,
    attempts: i32,
    outcome: Result<(), SendError>,
) -> ApiResult<()> {
    let (owner, now) = (owner.to_string(), state.clock.now_naive());
    let (status, next) = match &outcome {
        Ok(()) => (SendStatus::Sent, now),
        Err(e) => match (e.permanent, RETRY_SECS.get(attempts as usize)) {
            (false, Some(secs)) => (SendStatus::Queued, now + Duration::seconds(*secs)),
            _ => (SendStatus::Failed, now),
        },
    };
    if let Err(e) = &outcome {
        tracing::warn!(notification = id, attempt = attempts + 1, error = %e.detail, "sending a notification failed");
    }
    let error = outcome.err().map(|e| e.detail);
    state
        .db
        .run(move |c| {
            diesel::update(
                n::table
                    .find(id)
                    .filter(n::lease_owner.eq(&owner))
                    .filter(n::status.eq(SendStatus::Queued.as_str())),
            )
            .set((
                n::status.eq(status.as_str()),
                n::attempts.eq(attempts + 1),
                n::next_attempt_at.eq(next),
                n::last_error.eq(error),
                n::sent_at.eq((status == SendStatus::Sent).then_some(now)),
                n::lease_owner.eq(None::<String>),
                n::lease_until.eq(None::<NaiveDateTime>),
            ))
            .execute(c)?;
            Ok(())
        })
        .await
}
