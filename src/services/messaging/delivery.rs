//! The delivery worker. It wakes when an event commits (in process, and through
//! PostgreSQL `LISTEN` when another instance wrote it; polling every
//! `PINPAY_DELIVERY_INTERVAL_MS` stays as the fallback and picks up retries), claims
//! chains of due events (see `claim`), and sends each chain in order while the chains of
//! different merchants run concurrently, over reused connections. 2xx is delivered;
//! anything else (redirects are never followed) is retried on the schedule, then `failed`.

use crate::callbacks::claim::{self, Attempted, Delivery, ErrorClass, Outcome};
use crate::callbacks::{guard, signing};
use crate::db::{lazy_tx, Backend};
use crate::error::ApiResult;
use crate::services::Context;
use chrono::Duration;
use reqwest::header::RETRY_AFTER;
use std::collections::HashSet;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Instant;
use tokio::sync::watch;
use tokio::task::JoinSet;

pub use claim::RETRY_SCHEDULE_SECS;

/// Chains in flight at once (each is one merchant's events, sent in order).
const MAX_CHAINS: usize = 256;
/// A `Retry-After` longer than this is capped.
const MAX_RETRY_AFTER_SECS: i64 = 24 * 3600;

pub struct Worker {
    state: Context,
    client: reqwest::Client,
    owner: String,
    /// Merchants whose chains this instance is sending now.
    sending: std::sync::Mutex<HashSet<i64>>,
}

impl Worker {
    pub fn new(state: Context) -> Result<Self, String> {
        let client = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .timeout(std::time::Duration::from_millis(
                state.config.callback_timeout_ms,
            ))
            .pool_max_idle_per_host(16)
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
            sending: Default::default(),
        })
    }

    /// Delivers until `shutdown` flips; chains in flight are finished first.
    pub async fn run(self, mut shutdown: watch::Receiver<bool>) {
        let me = Arc::new(self);
        let wake = me.state.db.outbox_wake.clone();
        let listening = Arc::new(AtomicBool::new(true));
        if me.state.db.backend == Backend::Postgres {
            let (db, listening) = (me.state.db.clone(), listening.clone());
            let subscriptions = subscriptions(&db);
            std::thread::spawn(move || crate::db::listen::listen(db, listening, subscriptions));
        }
        let every = std::time::Duration::from_millis(me.state.config.delivery_interval_ms);
        let mut tick = tokio::time::interval(every);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let mut chains = JoinSet::new();
        // The last claim left due events waiting on this instance (see `claim::Claimed`).
        let mut held_back = false;
        loop {
            // Shutdown first: once it is asked for, no new claim starts. A chain's end
            // calls for a claim only if events wait on this instance: the chain gave some
            // back, or the last claim held some back (most chains end with nothing due).
            let (mut due, mut ended) = tokio::select! {
                biased;
                _ = shutdown.changed() => break,
                _ = wake.notified() => (true, false),
                Some(more) = chains.join_next(), if !chains.is_empty() => (more.unwrap_or(true), true),
                _ = tick.tick() => (true, false),
            };
            if *shutdown.borrow() {
                break;
            }
            while let Some(more) = chains.try_join_next() {
                (due, ended) = (due || more.unwrap_or(true), true);
            }
            if !(due || (ended && held_back)) {
                continue;
            }
            let room = MAX_CHAINS - chains.len();
            if room == 0 {
                held_back = true;
                continue;
            }
            match me.claim(room).await {
                Ok(claimed) => {
                    held_back = claimed.held_back;
                    for chain in claimed.chains {
                        let worker = me.clone();
                        chains.spawn(async move { worker.deliver_chain(chain).await });
                    }
                }
                Err(e) => tracing::warn!(error = %e, "claiming callbacks failed"),
            }
        }
        listening.store(false, Ordering::Release);
        while chains.join_next().await.is_some() {}
    }

    async fn claim(&self, room: usize) -> ApiResult<claim::Claimed> {
        let (owner, now) = (self.owner.clone(), self.state.clock.now_naive());
        let timeout = Duration::milliseconds(self.state.config.callback_timeout_ms as i64);
        let sending = self
            .sending
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone();
        let claimed = self
            .state
            .db
            .run(move |c| claim::claim(c, &owner, now, (room, &sending), timeout))
            .await?;
        let mut sending = self.sending.lock().unwrap_or_else(|p| p.into_inner());
        sending.extend(
            claimed
                .chains
                .iter()
                .filter_map(|chain| chain.first())
                .map(|d| d.event.merchant_id),
        );
        Ok(claimed)
    }

    /// Sends one merchant's chain in order and records every attempt in one transaction.
    /// After a failure the rest of the chain is given back (still due, still in order):
    /// the failed event has moved on to its retry, and the next claim continues. Whether
    /// events were given back (or the recording failed): then a claim should follow.
    async fn deliver_chain(&self, chain: Vec<Delivery>) -> bool {
        let merchant = chain.first().map(|d| d.event.merchant_id);
        let more = self.send_chain(chain).await;
        if let Some(m) = merchant {
            self.sending
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .remove(&m);
        }
        more
    }

    async fn send_chain(&self, chain: Vec<Delivery>) -> bool {
        let mut attempted = Vec::with_capacity(chain.len());
        let mut rest = Vec::new();
        for d in chain {
            let failed = attempted
                .last()
                .is_some_and(|a: &Attempted| !a.outcome.delivered());
            if failed || !rest.is_empty() {
                rest.push(d.event.id);
                continue;
            }
            attempted.push(self.attempt(d).await);
        }
        for a in attempted.iter().filter(|a| !a.outcome.delivered()) {
            let why = match &a.outcome {
                Outcome::Answered { status, .. } => format!("HTTP {status}"),
                Outcome::Failed(_, why) => why.clone(),
            };
            tracing::warn!(
                event = %a.delivery.event.public_id,
                merchant = a.delivery.event.merchant_id,
                attempt = a.delivery.event.attempts + 1,
                error = %why,
                "callback delivery failed"
            );
        }
        // The database may be busy or out for a moment: recording is tried again (up to
        // ~10 s), so the chain's leases do not hold its merchant up until they lapse.
        let given_back = !rest.is_empty();
        let (attempted, rest) = (Arc::new(attempted), Arc::new(rest));
        for tries in 1.. {
            let (owner, attempted, rest) = (self.owner.clone(), attempted.clone(), rest.clone());
            let recorded = self
                .state
                .db
                .run(move |c| {
                    lazy_tx(c, |c| {
                        for a in attempted.iter() {
                            claim::record(c, &owner, a)?;
                        }
                        claim::release(c, &owner, &rest)
                    })
                })
                .await;
            match recorded {
                Err(e) if e.status.is_server_error() && tries < 20 => {
                    tokio::time::sleep(std::time::Duration::from_millis(100 * tries.min(10))).await;
                }
                Err(e) => {
                    tracing::error!(error = %e, "could not record callback attempts");
                    return true;
                }
                Ok(()) => return given_back,
            }
        }
        true
    }

    async fn attempt(&self, d: Delivery) -> Attempted {
        let started = self.state.clock.now();
        let clock = Instant::now();
        let outcome = match &d.target {
            None => Outcome::Failed(
                ErrorClass::RefusedTarget,
                "no callback URL: set a default with PUT /v1/callback-url".into(),
            ),
            Some(url) => self.send(url, &d, started.timestamp()).await,
        };
        let label = match &outcome {
            o if o.delivered() => "delivered",
            Outcome::Answered { .. } => ErrorClass::HttpStatus.as_str(),
            Outcome::Failed(class, _) => class.as_str(),
        };
        let took = clock.elapsed();
        self.state.metrics.delivery(label, took.as_secs_f64());
        Attempted {
            delivery: d,
            outcome,
            started: started.naive_utc(),
            duration_ms: took.as_millis().min(i32::MAX as u128) as i32,
        }
    }

    async fn send(&self, url: &str, d: &Delivery, timestamp: i64) -> Outcome {
        if let Err(why) = guard::check_target(url, self.state.config.callback_allow_private) {
            return Outcome::Failed(
                ErrorClass::RefusedTarget,
                format!("callback URL refused: {why}"),
            );
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
            Err(e) => {
                let (class, why) = describe(&e);
                Outcome::Failed(class, why)
            }
        }
    }
}

/// The error's class and text with its causes ("…: resolves to a non-public address").
fn describe(e: &reqwest::Error) -> (ErrorClass, String) {
    let (class, kind) = if e.is_timeout() {
        (ErrorClass::Timeout, "timeout")
    } else if e.is_connect() {
        (ErrorClass::Connection, "connection failed")
    } else {
        (ErrorClass::Request, "request failed")
    };
    let mut text = kind.to_string();
    let mut source = std::error::Error::source(e);
    while let Some(s) = source {
        text.push_str(": ");
        text.push_str(&s.to_string());
        source = s.source();
    }
    (class, text.chars().take(500).collect())
}

/// What this instance listens for: other instances' outbox events wake the delivery
/// worker (this instance's own were woken by `Db::run` already), and changed money
/// requests reach the live streams.
fn subscriptions(db: &crate::db::Db) -> Vec<crate::db::listen::Subscription> {
    use crate::db::changes::{self, Change};
    use crate::db::listen::Subscription;
    let (own, wake, feed) = (
        db.instance.to_string(),
        db.outbox_wake.clone(),
        db.changes.clone(),
    );
    vec![
        Subscription {
            channel: crate::services::messaging::outbox::CHANNEL,
            deliver: Box::new(move |payload| {
                if payload != own {
                    wake.notify_one();
                }
            }),
        },
        Subscription {
            channel: changes::CHANNEL,
            deliver: Box::new(move |payload| {
                if let Some(change) = Change::decode(payload) {
                    feed.publish(change);
                }
            }),
        },
    ]
}
