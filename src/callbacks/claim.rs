//! The delivery worker's database side: claiming chains of due events and recording
//! attempts.
//!
//! Order: the events of one merchant are sent in the order they were written. An event
//! waits while an earlier event of its merchant is in flight (leased) or due; an earlier
//! event that failed and waits for a later retry no longer holds it back (the Standard
//! Webhooks ordering Stripe and svix document). A claim takes, per merchant that has
//! nothing in flight, its earliest due events as one chain, sent one after the other;
//! chains of different merchants go out concurrently. Claims are serialised (PostgreSQL
//! advisory lock, SQLite's write lock), so two instances never claim one event, nor
//! events of one merchant at once.

use super::settings;
use crate::db::models::OutboxEvent;
use crate::db::schema::{callback_attempts as ca, outbox_events as ob};
use crate::db::{lazy_tx_locked, Cached, DbConn};
use crate::domain::status::DeliveryStatus;
use crate::error::{ApiError, ApiResult};
use chrono::{Duration, NaiveDateTime};
use diesel::prelude::*;
use std::collections::{HashMap, HashSet};

/// Waits after failed attempts 1..7: 5 s, 5 min, 30 min, 2 h, 5 h, 10 h, 10 h.
pub const RETRY_SCHEDULE_SECS: [i64; 7] = [5, 300, 1800, 7200, 18_000, 36_000, 36_000];
/// Events in one chain: new events of a merchant go out back to back.
const CHAIN_MAX: usize = 50;
/// Due events looked at per claim.
const SCAN: i64 = 5000;
/// Lease slack beyond the chain's longest possible run.
const LEASE_SLACK_SECS: i64 = 30;
/// Any key: the claims of all instances queue on it.
const CLAIM_LOCK: i64 = 0x7069_6e70_6179;

/// One claimed event with what is needed to send it.
pub struct Delivery {
    pub event: OutboxEvent,
    pub target: Option<String>,
    pub secrets: Vec<String>,
}

/// A failed attempt's kind, for the log and the metrics.
#[derive(Clone, Copy, Debug)]
pub enum ErrorClass {
    HttpStatus,
    Timeout,
    Connection,
    RefusedTarget,
    Request,
}

impl ErrorClass {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::HttpStatus => "http_status",
            Self::Timeout => "timeout",
            Self::Connection => "connection",
            Self::RefusedTarget => "refused_target",
            Self::Request => "request",
        }
    }
}

pub enum Outcome {
    Answered {
        status: u16,
        retry_after: Option<i64>,
    },
    Failed(ErrorClass, String),
}

impl Outcome {
    pub fn delivered(&self) -> bool {
        matches!(self, Outcome::Answered { status, .. } if (200..300).contains(status))
    }
}

type Candidate = (i64, i64, Option<NaiveDateTime>);

/// What a claim took, and whether due events were left waiting on this instance (behind
/// a chain it is sending, beyond a chain's length or beyond `room`): the worker claims
/// again when a chain ends only then.
pub struct Claimed {
    pub chains: Vec<Vec<Delivery>>,
    pub held_back: bool,
}

/// Leases up to `room` chains of due events to `owner`; `timeout` is one attempt's limit.
/// `sending` are the merchants whose chains this instance is still sending: they wait
/// whatever their leases say (the clock may have moved past them).
pub fn claim(
    c: &mut DbConn,
    owner: &str,
    now: NaiveDateTime,
    (room, sending): (usize, &HashSet<i64>),
    timeout: Duration,
) -> ApiResult<Claimed> {
    // Many wake-ups find nothing due that is not already being sent (another instance's
    // commit, a poll): one read, without the claim lock or a write transaction, says so.
    let any_due: Option<i64> = ob::table
        .filter(ob::status.eq(DeliveryStatus::Pending.as_str()))
        .filter(ob::next_attempt_at.le(now))
        .filter(ob::lease_until.is_null().or(ob::lease_until.lt(now)))
        .select(ob::id)
        .first(c)
        .optional()?;
    if any_due.is_none() {
        return Ok(Claimed {
            chains: Vec::new(),
            held_back: false,
        });
    }
    // The leases return the events they took: chains in order, each in written order.
    let (chains, held_back) = lazy_tx_locked(c, CLAIM_LOCK, |c| {
        let due: Vec<Candidate> = ob::table
            .filter(ob::status.eq(DeliveryStatus::Pending.as_str()))
            .filter(ob::next_attempt_at.le(now))
            .order(ob::id.asc())
            .limit(SCAN)
            .select((ob::id, ob::merchant_id, ob::lease_until))
            .load(c)?;
        let (planned, held_back) = plan(&due, now, room, sending);
        let chains: Vec<Vec<OutboxEvent>> = planned
            .into_iter()
            .map(|chain| {
                let until =
                    now + timeout * chain.len() as i32 + Duration::seconds(LEASE_SLACK_SECS);
                let mut events: Vec<OutboxEvent> = Cached(
                    diesel::update(ob::table.filter(ob::id.eq_any(&chain)))
                        .set((ob::lease_owner.eq(owner), ob::lease_until.eq(until)))
                        .returning(ob::all_columns),
                )
                .get_results(c)?;
                events.sort_by_key(|e| e.id);
                Ok(events)
            })
            .collect::<ApiResult<_>>()?;
        Ok((chains, held_back))
    })?;
    let mut configs = HashMap::new();
    let chains = chains
        .into_iter()
        .map(|chain| {
            chain
                .into_iter()
                .map(|event| {
                    let config = match configs.get(&event.merchant_id) {
                        Some(found) => found,
                        None => {
                            let found = settings::find(c, event.merchant_id)?;
                            configs.entry(event.merchant_id).or_insert(found)
                        }
                    };
                    let target = event
                        .target_url
                        .clone()
                        .or_else(|| config.as_ref().and_then(|s| s.url.clone()));
                    let secrets = config
                        .as_ref()
                        .map(|s| settings::active_secrets(s, now))
                        .unwrap_or_default();
                    Ok(Delivery {
                        event,
                        target,
                        secrets,
                    })
                })
                .collect()
        })
        .collect::<ApiResult<_>>()?;
    Ok(Claimed { chains, held_back })
}

/// The chains to claim among `due` (in written order): merchants with an event in flight
/// wait; the others get their earliest due events as one chain of up to `CHAIN_MAX`
/// (a chain stops at its first failure, so a failing receiver costs one attempt a chain).
/// Also whether an event waits on this instance: its merchant is in `sending`, its chain
/// is full, or there was no `room` for its chain.
fn plan(
    due: &[Candidate],
    now: NaiveDateTime,
    room: usize,
    sending: &HashSet<i64>,
) -> (Vec<Vec<i64>>, bool) {
    let mut busy: HashSet<i64> = due
        .iter()
        .filter(|(_, _, lease)| lease.is_some_and(|until| until >= now))
        .map(|(_, merchant, _)| *merchant)
        .collect();
    busy.extend(sending);
    let mut chains: Vec<Vec<i64>> = Vec::new();
    let mut open: HashMap<i64, Option<usize>> = HashMap::new();
    let mut held_back = false;
    for (id, merchant, _) in due {
        if busy.contains(merchant) {
            held_back |= sending.contains(merchant);
            continue;
        }
        match open.get(merchant) {
            Some(Some(k)) if chains[*k].len() < CHAIN_MAX => chains[*k].push(*id),
            Some(_) => {
                open.insert(*merchant, None);
                held_back = true;
            }
            None if chains.len() < room => {
                chains.push(vec![*id]);
                open.insert(*merchant, Some(chains.len() - 1));
            }
            None => held_back = true,
        }
    }
    (chains, held_back)
}

/// Gives back the leases of events a chain did not get to (they stay due, in order).
pub fn release(c: &mut DbConn, owner: &str, ids: &[i64]) -> ApiResult<()> {
    if ids.is_empty() {
        return Ok(());
    }
    diesel::update(
        ob::table
            .filter(ob::id.eq_any(ids))
            .filter(ob::lease_owner.eq(owner)),
    )
    .set((
        ob::lease_owner.eq(None::<String>),
        ob::lease_until.eq(None::<NaiveDateTime>),
    ))
    .execute(c)?;
    Ok(())
}

/// One attempt as it happened.
pub struct Attempted {
    pub delivery: Delivery,
    pub outcome: Outcome,
    pub started: NaiveDateTime,
    pub duration_ms: i32,
}

type ById = diesel::dsl::Filter<ob::table, diesel::dsl::Eq<ob::id, i64>>;
type Leased<'a> = diesel::dsl::Filter<ById, diesel::dsl::Eq<ob::lease_owner, &'a str>>;

/// The event's row while `owner` holds its lease.
fn leased(id: i64, owner: &str) -> Leased<'_> {
    ob::table
        .filter(ob::id.eq(id))
        .filter(ob::lease_owner.eq(owner))
}

/// Fails (so the caller's transaction rolls back) unless one leased row was written.
fn held(written: usize) -> ApiResult<()> {
    match written {
        1 => Ok(()),
        _ => Err(ApiError::internal_from(
            "callback lease",
            "lease lost before recording",
        )),
    }
}

/// Stores the attempt and the event's next state, if this worker still holds the lease
/// (the event's update is filtered by it; a lost lease rolls the recording back).
pub fn record(c: &mut DbConn, owner: &str, a: &Attempted) -> ApiResult<()> {
    let d = &a.delivery;
    let attempt = d.event.attempts + 1;
    let delivered = a.outcome.delivered();
    let (http_status, error, class, retry_after) = match &a.outcome {
        Outcome::Answered { status, .. } if delivered => {
            (Some(i32::from(*status)), None, None, None)
        }
        Outcome::Answered {
            status,
            retry_after,
        } => (
            Some(i32::from(*status)),
            Some(format!("HTTP {status}")),
            Some(ErrorClass::HttpStatus),
            *retry_after,
        ),
        Outcome::Failed(_, why) if d.target.is_none() => {
            let written = diesel::update(leased(d.event.id, owner))
                .set((
                    ob::status.eq(DeliveryStatus::Failed.as_str()),
                    ob::last_error.eq(why),
                    ob::lease_owner.eq(None::<String>),
                    ob::lease_until.eq(None::<NaiveDateTime>),
                ))
                .execute(c)?;
            return held(written);
        }
        Outcome::Failed(class, why) => (None, Some(why.clone()), Some(*class), None),
    };
    let now = a.started;
    let next = (!delivered)
        .then(|| RETRY_SCHEDULE_SECS.get(attempt as usize - 1))
        .flatten()
        .map(|wait| now + Duration::seconds((*wait).max(retry_after.unwrap_or(0))));
    let status = match (delivered, next) {
        (true, _) => DeliveryStatus::Delivered,
        (false, Some(_)) => DeliveryStatus::Pending,
        (false, None) => DeliveryStatus::Failed,
    };
    let written = Cached(
        diesel::update(leased(d.event.id, owner))
            .set((
                ob::status.eq(status.as_str()),
                ob::attempts.eq(attempt),
                ob::next_attempt_at.eq(next.unwrap_or(d.event.next_attempt_at)),
                ob::last_error.eq(&error),
                ob::delivered_at.eq(delivered.then_some(now)),
                ob::lease_owner.eq(None::<String>),
                ob::lease_until.eq(None::<NaiveDateTime>),
            ))
            .returning(ob::id),
    )
    .get_results::<i64>(c)?
    .len();
    held(written)?;
    diesel::insert_into(ca::table)
        .values((
            ca::event_id.eq(d.event.id),
            ca::attempt.eq(attempt),
            ca::target_url.eq(&d.target),
            ca::started_at.eq(now),
            ca::http_status.eq(http_status),
            ca::error.eq(&error),
            ca::next_attempt_at.eq(next),
            ca::duration_ms.eq(a.duration_ms),
            ca::error_class.eq(class.map(ErrorClass::as_str)),
        ))
        .execute(c)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(s: i64) -> NaiveDateTime {
        chrono::DateTime::from_timestamp(s, 0).unwrap().naive_utc()
    }

    #[test]
    fn chains_keep_each_merchants_order_and_skip_busy_merchants() {
        let now = at(1000);
        let due = vec![
            (1, 7, None),
            (2, 8, Some(at(2000))), // merchant 8 has an event in flight
            (3, 7, None),
            (4, 8, None),
            (5, 9, None),
            (6, 9, None),
            (7, 7, Some(at(10))), // a lapsed lease: claimable again
        ];
        let none = HashSet::new();
        // Merchant 8 waits on another instance's lease: not held back here.
        assert_eq!(
            plan(&due, now, 10, &none),
            (vec![vec![1, 3, 7], vec![5, 6]], false)
        );
        assert_eq!(plan(&due, now, 1, &none), (vec![vec![1, 3, 7]], true));
        // A merchant this instance is still sending to waits, whatever its leases say.
        assert_eq!(
            plan(&due, now, 10, &HashSet::from([7])),
            (vec![vec![5, 6]], true)
        );
        let many: Vec<Candidate> = (0..60).map(|i| (i, 1, None)).collect();
        let (chains, held_back) = plan(&many, now, 10, &none);
        assert_eq!(
            (chains.len(), chains[0].len(), held_back),
            (1, CHAIN_MAX, true)
        );
        let (chains, held_back) = plan(&many[..CHAIN_MAX], now, 10, &none);
        assert_eq!((chains.len(), held_back), (1, false));
    }
}
