//! Sending a payment link by e-mail or SMS (PayPlug's "send the link"): a send is queued
//! in the database in one transaction with its record on the request's history, then a
//! worker delivers it through the `Notifier`, retrying on failure, so nothing queued is
//! lost on a restart. At most 5 sends per request per hour.

use crate::db::models::MoneyRequest;
use crate::db::schema::link_sends as ls;
use crate::db::{accounts as q, write_tx, DbConn};
use crate::domain::contact;
use crate::domain::i18n::Lang;
use crate::domain::money::Money;
use crate::domain::requests::not_pending;
use crate::domain::status::RequestStatus;
use crate::domain::status::SendStatus;
use crate::domain::time::rfc3339;
use crate::error::{ApiError, ApiResult};
use crate::notify::{Channel, Message, Notifier};
use crate::services::payments::requests::{as_of, lock_by_public_id, not_found, record};
use crate::services::Context;
use chrono::{Duration, NaiveDateTime};
use diesel::prelude::*;
use serde::{Deserialize, Serialize};
use std::sync::Arc;
use tokio::sync::{watch, Notify};

pub const MAX_SENDS_PER_HOUR: i64 = 5;
/// Waits before the 2nd, 3rd, … attempt; after the last the send is `failed`.
const RETRY_SECS: [i64; 5] = [5, 60, 300, 1800, 7200];
const LEASE_SECS: i64 = 60;
const BATCH: i64 = 10;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SendRequest {
    pub channel: Channel,
    pub to: String,
    #[serde(default, deserialize_with = "crate::domain::input::present")]
    pub language: Option<String>,
}

#[derive(Serialize, Debug)]
pub struct SendView {
    pub id: String,
    pub object: &'static str,
    pub money_request: String,
    pub channel: String,
    pub to: String,
    pub language: String,
    pub status: SendStatus,
    pub attempts: i32,
    pub last_error: Option<String>,
    pub sent_at: Option<String>,
    pub created_at: String,
}

#[derive(Queryable, Selectable, Debug, Clone)]
#[diesel(table_name = ls)]
struct LinkSend {
    id: i64,
    public_id: String,
    request_id: i64,
    channel: String,
    recipient: String,
    language: String,
    #[diesel(deserialize_as = String)]
    status: SendStatus,
    attempts: i32,
    last_error: Option<String>,
    sent_at: Option<NaiveDateTime>,
    created_at: NaiveDateTime,
}

impl LinkSend {
    fn view(&self, request: &str) -> SendView {
        SendView {
            id: self.public_id.clone(),
            object: "link_send",
            money_request: request.to_string(),
            channel: self.channel.clone(),
            to: self.recipient.clone(),
            language: self.language.clone(),
            status: self.status,
            attempts: self.attempts,
            last_error: self.last_error.clone(),
            sent_at: self.sent_at.map(rfc3339),
            created_at: rfc3339(self.created_at),
        }
    }
}

/// Queues a send of the request's link. 404 unknown request; 409 not pending; 422 bad
/// address or language; 429 the 6th send within an hour. Nothing is queued on error.
pub async fn queue(
    state: &Context,
    merchant_id: i64,
    public_id: String,
    r: SendRequest,
) -> ApiResult<SendView> {
    let to = match r.channel {
        Channel::Email => contact::email("to", &r.to)?,
        Channel::Sms => contact::phone("to", &r.to)?,
    };
    let lang = match r.language.as_deref() {
        None => Lang::En,
        Some(code) => Lang::from_code(code)
            .filter(|l| l.code() == code)
            .ok_or_else(|| {
                ApiError::invalid_field("language", "language is one of en, de, fr, he")
            })?,
    };
    let now = state.clock.now_naive();
    let view = state
        .db
        .run(move |c| {
            write_tx(c, |c| {
                let row = lock_by_public_id(c, &public_id)?
                    .filter(|r| r.merchant_id == merchant_id)
                    .ok_or_else(not_found)?;
                let row = as_of(row, now);
                if row.status != RequestStatus::Pending {
                    return Err(not_pending(row.status));
                }
                let hour_ago = now - Duration::hours(1);
                let recent: Vec<NaiveDateTime> = ls::table
                    .filter(ls::request_id.eq(row.id))
                    .filter(ls::created_at.gt(hour_ago))
                    .order(ls::created_at.asc())
                    .select(ls::created_at)
                    .load(c)?;
                if recent.len() as i64 >= MAX_SENDS_PER_HOUR {
                    let wait = (recent[0] + Duration::hours(1) - now).num_seconds().max(1);
                    return Err(ApiError::new(
                        actix_web::http::StatusCode::TOO_MANY_REQUESTS,
                        "too_many_sends",
                        format!("A link can be sent at most {MAX_SENDS_PER_HOUR} times an hour."),
                    )
                    .retry_after(wait as u64));
                }
                let id = crate::domain::requests::public_id("send");
                diesel::insert_into(ls::table)
                    .values((
                        ls::public_id.eq(&id),
                        ls::request_id.eq(row.id),
                        ls::channel.eq(r.channel.as_str()),
                        ls::recipient.eq(&to),
                        ls::language.eq(lang.code()),
                        ls::status.eq(SendStatus::Queued.as_str()),
                        ls::next_attempt_at.eq(now),
                        ls::created_at.eq(now),
                    ))
                    .execute(c)?;
                let detail = format!("{id}: {} to {to}", r.channel.as_str());
                record(
                    c,
                    row.id,
                    "link_send_queued",
                    "merchant",
                    Some(&detail),
                    now,
                )?;
                let sent: LinkSend = ls::table
                    .filter(ls::public_id.eq(&id))
                    .select(LinkSend::as_select())
                    .first(c)?;
                Ok(sent.view(&row.public_id))
            })
        })
        .await?;
    state.sends_wake.notify_one();
    Ok(view)
}

/// Delivers queued sends until `shutdown` flips: woken when one is queued here, and
/// every second for retries and sends queued by other instances.
pub async fn run(state: Context, notifier: Arc<Notifier>, mut shutdown: watch::Receiver<bool>) {
    let owner = crate::auth::opaque::generate("sender");
    let wake: Arc<Notify> = state.sends_wake.clone();
    let mut tick = tokio::time::interval(std::time::Duration::from_secs(1));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
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
                Ok(claimed) => claimed,
                Err(e) => {
                    tracing::warn!(error = %e.detail, "claiming link sends failed");
                    break;
                }
            };
            if claimed.is_empty() {
                break;
            }
            let sends = claimed.iter().map(|(send, message)| {
                let notifier = notifier.clone();
                async move { (send, notifier.send(message).await) }
            });
            for (send, outcome) in futures::future::join_all(sends).await {
                if let Err(e) = settle(&state, &owner, send, outcome).await {
                    tracing::warn!(send = %send.public_id, error = %e.detail, "recording a link send failed");
                }
            }
        }
    }
}

/// Takes up to `BATCH` due sends under a lease and composes their messages.
async fn claim(state: &Context, owner: &str) -> ApiResult<Vec<(LinkSend, Message)>> {
    let (owner, now) = (owner.to_string(), state.clock.now_naive());
    let (public_url, tz) = (state.config.public_url.clone(), state.calendar.tz());
    state
        .db
        .run(move |c| {
            write_tx(c, |c| {
                let due = || {
                    ls::table
                        .filter(ls::status.eq(SendStatus::Queued.as_str()))
                        .filter(ls::next_attempt_at.le(now))
                        .filter(ls::lease_until.is_null().or(ls::lease_until.lt(now)))
                        .order(ls::id.asc())
                        .limit(BATCH)
                };
                let rows: Vec<LinkSend> = match c {
                    DbConn::Pg(pg) => due()
                        .select(LinkSend::as_select())
                        .for_update()
                        .skip_locked()
                        .load(pg)?,
                    DbConn::Sqlite(sq) => due().select(LinkSend::as_select()).load(sq)?,
                };
                let mut out = Vec::with_capacity(rows.len());
                for send in rows {
                    diesel::update(ls::table.find(send.id))
                        .set((
                            ls::lease_owner.eq(&owner),
                            ls::lease_until.eq(now + Duration::seconds(LEASE_SECS)),
                        ))
                        .execute(c)?;
                    let request = crate::services::payments::requests::reload(c, send.request_id)?;
                    let message = compose(c, &send, &request, &public_url, tz)?;
                    out.push((send, message));
                }
                Ok(out)
            })
        })
        .await
}

/// The message in the send's language: who asks for how much, the link, the deadline.
fn compose(
    c: &mut DbConn,
    send: &LinkSend,
    r: &MoneyRequest,
    public_url: &str,
    tz: chrono_tz::Tz,
) -> ApiResult<Message> {
    let lang = Lang::from_code(&send.language).unwrap_or(Lang::En);
    let t = lang.t();
    let merchant = q::find(c, r.merchant_id)?.ok_or_else(ApiError::internal)?;
    let merchant = merchant.company_name.unwrap_or(merchant.username);
    let amount = lang.eur(Money::cents(r.amount));
    let fill = |id: &str| t.with(id, &[("merchant", &merchant), ("amount", &amount)]);
    let link = format!("{public_url}/pay/{}?lang={}", r.public_id, lang.code());
    let deadline = lang.datetime(r.expires_at.and_utc(), tz);
    let until = t.with("mail-valid-until", &[("deadline", &deadline)]);
    let mut text = fill("mail-body");
    if let Some(d) = &r.description {
        text.push_str(&format!("\n{}: {d}", t.get("description")));
    }
    let channel = Channel::from_db(&send.channel);
    let text = match channel {
        Channel::Email => format!("{text}\n\n{link}\n\n{until}\n"),
        Channel::Sms => format!("{text} {link}"),
    };
    Ok(Message {
        id: send.public_id.clone(),
        channel,
        to: send.recipient.clone(),
        subject: fill("mail-subject"),
        text,
    })
}

/// Records the outcome of one attempt on the send and on the request's history.
async fn settle(
    state: &Context,
    owner: &str,
    send: &LinkSend,
    outcome: Result<(), crate::notify::SendError>,
) -> ApiResult<()> {
    let (owner, now, send) = (owner.to_string(), state.clock.now_naive(), send.clone());
    let attempts = send.attempts + 1;
    match &outcome {
        Ok(()) => {
            tracing::info!(send = %send.public_id, channel = %send.channel, "payment link sent")
        }
        Err(e) => {
            tracing::warn!(send = %send.public_id, channel = %send.channel, attempt = attempts, error = %e.detail, "sending a payment link failed")
        }
    }
    state
        .db
        .run(move |c| {
            write_tx(c, |c| {
                let mine = ls::table
                    .find(send.id)
                    .filter(ls::lease_owner.eq(&owner))
                    .filter(ls::status.eq(SendStatus::Queued.as_str()));
                let what = format!("{}: {} to {}", send.public_id, send.channel, send.recipient);
                let (status, event, detail, next) = match &outcome {
                    Ok(()) => (SendStatus::Sent, "link_sent", what, now),
                    Err(e) => {
                        let wait = RETRY_SECS.get(send.attempts as usize).copied();
                        match (e.permanent, wait) {
                            (false, Some(secs)) => (
                                SendStatus::Queued,
                                "link_send_failed",
                                format!(
                                    "{what}: {} (attempt {attempts}, retried in {secs} s)",
                                    e.detail
                                ),
                                now + Duration::seconds(secs),
                            ),
                            _ => (
                                SendStatus::Failed,
                                "link_send_failed",
                                format!("{what}: {} (attempt {attempts}, given up)", e.detail),
                                now,
                            ),
                        }
                    }
                };
                let changed = diesel::update(mine)
                    .set((
                        ls::status.eq(status.as_str()),
                        ls::attempts.eq(attempts),
                        ls::next_attempt_at.eq(next),
                        ls::last_error.eq(outcome.as_ref().err().map(|e| e.detail.clone())),
                        ls::sent_at.eq(outcome.is_ok().then_some(now)),
                        ls::lease_owner.eq(None::<String>),
                        ls::lease_until.eq(None::<NaiveDateTime>),
                    ))
                    .execute(c)?;
                if changed == 1 {
                    record(c, send.request_id, event, "system", Some(&detail), now)?;
                }
                Ok(())
            })
        })
        .await
}
