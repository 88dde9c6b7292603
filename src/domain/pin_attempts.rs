//! The PIN attempt rule (PSD2 RTS art. 4): 5 consecutive wrong PINs block the PIN for
//! 30 minutes. A check may start only while failures plus checks still in flight stay
//! under the limit, so concurrent guesses can never add up to more than 5 wrong tries.

use chrono::{Duration, NaiveDateTime};

pub const MAX_ATTEMPTS: i64 = 5;
pub const BLOCK_MINUTES: i64 = 30;
/// A check still unresolved after this long is taken as crashed and stops counting.
pub const CHECK_LEASE_SECS: i64 = 30;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PinCounter {
    pub failed: i64,
    pub blocked_until: Option<NaiveDateTime>,
}

#[derive(Debug, PartialEq, Eq)]
pub enum Admission {
    /// Run the check; `counter` is the state to store (an expired block is cleared).
    Start {
        counter: PinCounter,
    },
    /// Every remaining try is taken by checks in flight: wait for one to resolve.
    Wait,
    Blocked {
        until: NaiveDateTime,
    },
}

impl PinCounter {
    pub fn admit(self, in_flight: i64, now: NaiveDateTime) -> Admission {
        let counter = match self.blocked_until {
            Some(until) if now < until => return Admission::Blocked { until },
            Some(_) => Self::cleared(),
            None => self,
        };
        if counter.failed + in_flight >= MAX_ATTEMPTS {
            Admission::Wait
        } else {
            Admission::Start { counter }
        }
    }

    /// The counter after a wrong PIN: the fifth consecutive one blocks.
    pub fn failed_once(self, now: NaiveDateTime) -> Self {
        let failed = self.failed + 1;
        let blocked_until =
            (failed >= MAX_ATTEMPTS).then(|| now + Duration::minutes(BLOCK_MINUTES));
        Self {
            failed,
            blocked_until,
        }
    }

    pub fn cleared() -> Self {
        Self {
            failed: 0,
            blocked_until: None,
        }
    }

    pub fn remaining(self) -> i64 {
        (MAX_ATTEMPTS - self.failed).max(0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(min: i64) -> NaiveDateTime {
        chrono::DateTime::from_timestamp(1_700_000_000, 0)
            .unwrap()
            .naive_utc()
            + Duration::minutes(min)
    }

    #[test]
    fn fifth_failure_blocks_for_thirty_minutes() {
        let mut c = PinCounter::cleared();
        for _ in 0..4 {
            c = c.failed_once(t(0));
            assert_eq!(c.blocked_until, None);
        }
        c = c.failed_once(t(0));
        assert_eq!(c.blocked_until, Some(t(30)));
        assert_eq!(c.admit(0, t(29)), Admission::Blocked { until: t(30) });
        assert_eq!(
            c.admit(0, t(30)),
            Admission::Start {
                counter: PinCounter::cleared()
            }
        );
    }

    #[test]
    fn checks_in_flight_take_up_the_remaining_tries() {
        let three_failed = PinCounter {
            failed: 3,
            blocked_until: None,
        };
        assert!(matches!(
            three_failed.admit(1, t(0)),
            Admission::Start { .. }
        ));
        assert_eq!(three_failed.admit(2, t(0)), Admission::Wait);
        assert_eq!(PinCounter::cleared().admit(5, t(0)), Admission::Wait);
    }
}
