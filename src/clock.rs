//! The one source of "now": every time decision reads it, so tests can move time.

use chrono::{DateTime, Duration, NaiveDateTime, SubsecRound, Utc};
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::Arc;

/// Wall-clock time plus an offset that only tests change. Cheap to clone; clones share
/// the offset, so a test holding a clone moves the server's time.
#[derive(Clone, Debug, Default)]
pub struct Clock {
    offset_micros: Arc<AtomicI64>,
}

impl Clock {
    pub fn system() -> Self {
        Self::default()
    }

    /// Current time, truncated to microseconds so it round-trips through both databases.
    pub fn now(&self) -> DateTime<Utc> {
        let offset = Duration::microseconds(self.offset_micros.load(Ordering::SeqCst));
        (Utc::now() + offset).trunc_subsecs(6)
    }

    /// `now()` as the naive UTC value stored in `TIMESTAMP` columns.
    pub fn now_naive(&self) -> NaiveDateTime {
        self.now().naive_utc()
    }

    /// How far tests have moved this clock from real time (zero in production).
    pub fn offset(&self) -> Duration {
        Duration::microseconds(self.offset_micros.load(Ordering::SeqCst))
    }

    /// Moves this clock (and every clone of it) forward by `by`.
    pub fn advance(&self, by: Duration) {
        let micros = by.num_microseconds().expect("advance within ±292k years");
        self.offset_micros.fetch_add(micros, Ordering::SeqCst);
    }

    /// Sets how far this clock is ahead of real time (the sandbox's stored test clock).
    pub fn set_offset(&self, offset: Duration) {
        let micros = offset
            .num_microseconds()
            .expect("offset within ±292k years");
        self.offset_micros.store(micros, Ordering::SeqCst);
    }

    /// Sets the clock so that `now()` is `at` (plus the few microseconds since the call).
    pub fn set(&self, at: DateTime<Utc>) {
        let micros = (at - Utc::now())
            .num_microseconds()
            .expect("reasonable date");
        self.offset_micros.store(micros, Ordering::SeqCst);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clones_share_the_offset() {
        let clock = Clock::system();
        let server_side = clock.clone();
        let before = server_side.now();
        clock.advance(Duration::minutes(31));
        let moved = server_side.now() - before;
        assert!(moved >= Duration::minutes(31) && moved < Duration::minutes(32));
    }
}
