//! The load generator of the benchmarks, two ways:
//!
//! - closed loop: `clients` tasks each send the next call as soon as the last is answered
//!   (the maximum rate the server sustains at that concurrency);
//! - open loop: calls leave on a fixed schedule whatever the answers, and each latency is
//!   counted from the call's scheduled send time, so a stall shows as the wait it caused
//!   for every call behind it instead of hiding as a pause in sending. At most
//!   `OPEN_CONNECTIONS` calls are on the wire at once (as from a merchant's backend with
//!   a connection pool); a call beyond them waits in the generator, and that wait counts
//!   in its latency. Without the bound every waiting call opened a connection of its
//!   own: once a backlog formed, both ends' per-connection work and the kernel's full
//!   listen queue (a refused connection is retried after 1 s, then 3 s) grew it further,
//!   to 18 000 connections and seconds of latency with half the cores idle (2026-12-04).
//!
//! An operation is an async closure given a sequence number; it returns whether the call
//! succeeded (failures are counted and reported, never timed as successes).

use std::future::Future;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

pub struct Stats {
    pub calls: usize,
    pub failed: usize,
    pub rate: f64,
    pub p50: f64,
    pub p99: f64,
    pub max: f64,
    pub over_1s: usize,
}

impl Stats {
    pub fn of(mut ms: Vec<f64>, failed: usize, secs: f64) -> Self {
        ms.sort_by(|a, b| a.partial_cmp(b).unwrap());
        let pct = |p: f64| {
            ms.get(((ms.len() as f64 * p).ceil() as usize).saturating_sub(1))
                .copied()
                .unwrap_or(f64::NAN)
        };
        Self {
            calls: ms.len(),
            failed,
            rate: ms.len() as f64 / secs,
            p50: pct(0.5),
            p99: pct(0.99),
            max: ms.last().copied().unwrap_or(f64::NAN),
            over_1s: ms.iter().filter(|m| **m > 1000.0).count(),
        }
    }

    /// One line of the report.
    pub fn print(&self, what: &str, mode: &str) {
        println!(
            "{what:<34} {mode:<16} {:>7.0}/s  p50 {:>7.2} ms  p99 {:>7.2} ms  max {:>8.1} ms  calls {}  failed {}  over 1 s {}",
            self.rate, self.p50, self.p99, self.max, self.calls, self.failed, self.over_1s
        );
    }
}

struct Tally {
    ms: Mutex<Vec<f64>>,
    failed: Mutex<usize>,
}

impl Tally {
    fn new() -> Arc<Self> {
        Arc::new(Self {
            ms: Mutex::new(Vec::new()),
            failed: Mutex::new(0),
        })
    }

    fn record(&self, ok: bool, since: Instant) {
        if ok {
            let ms = since.elapsed().as_secs_f64() * 1000.0;
            self.ms.lock().unwrap().push(ms);
        } else {
            *self.failed.lock().unwrap() += 1;
        }
    }

    fn stats(&self, secs: f64) -> Stats {
        let ms = std::mem::take(&mut *self.ms.lock().unwrap());
        Stats::of(ms, *self.failed.lock().unwrap(), secs)
    }
}

/// `clients` back-to-back callers for `length`.
pub async fn closed<F, Fut>(clients: usize, length: Duration, op: F) -> Stats
where
    F: Fn(usize) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = bool> + Send,
{
    let (op, tally) = (Arc::new(op), Tally::new());
    let next = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let started = Instant::now();
    let until = started + length;
    let tasks: Vec<_> = (0..clients)
        .map(|_| {
            let (op, tally, next) = (op.clone(), tally.clone(), next.clone());
            tokio::spawn(async move {
                while Instant::now() < until {
                    let seq = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                    let sent = Instant::now();
                    let ok = op(seq).await;
                    tally.record(ok, sent);
                }
            })
        })
        .collect();
    for t in tasks {
        t.await.unwrap();
    }
    tally.stats(started.elapsed().as_secs_f64())
}

/// The open loop's bound on calls on the wire at once (and so on its connections).
pub const OPEN_CONNECTIONS: usize = 128;

/// Calls at `rate` per second for `length`, each on its schedule; latency from the
/// scheduled send time.
pub async fn open<F, Fut>(rate: f64, length: Duration, op: F) -> Stats
where
    F: Fn(usize) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = bool> + Send + 'static,
{
    let (op, tally) = (Arc::new(op), Tally::new());
    let wire = Arc::new(tokio::sync::Semaphore::new(OPEN_CONNECTIONS));
    let started = Instant::now();
    let calls = (rate * length.as_secs_f64()).round() as usize;
    // Finished calls are reaped as the run goes: a finished task's memory (its future, a
    // few KiB with the HTTP call's state) is kept until its handle is joined, and holding
    // every handle to the end grew the process by about 80 MiB in a 40 000-call run.
    let mut tasks = tokio::task::JoinSet::new();
    for seq in 0..calls {
        let due = started + Duration::from_secs_f64(seq as f64 / rate);
        tokio::time::sleep_until(due.into()).await;
        let (call, tally, wire) = (op(seq), tally.clone(), wire.clone());
        tasks.spawn(async move {
            let _turn = wire.acquire_owned().await.expect("never closed");
            let ok = call.await;
            tally.record(ok, due);
        });
        while let Some(done) = tasks.try_join_next() {
            done.unwrap();
        }
    }
    while let Some(done) = tasks.join_next().await {
        done.unwrap();
    }
    tally.stats(length.as_secs_f64())
}
