//! The PIN attempt counter (PSD2 RTS art. 4): 5 consecutive wrong PINs block the PIN for
//! 30 minutes. An attempt is *reserved* before the slow hash check, so concurrent wrong
//! attempts cannot all pass a counter that has room for only some of them.

use chrono::{Duration, NaiveDateTime};

pub const MAX_ATTEMPTS: i32 = 5;
pub const BLOCK_MINUTES: i64 = 30;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PinCounter {
    pub failed: i32,
    pub blocked_until: Option<NaiveDateTime>,
}

impl PinCounter {
    /// Counts one more attempt before it is checked. The attempt that uses up the last
    /// try sets the block at once (lifted by `succeeded` if that PIN was right), so a
    /// crash between reserve and result can never leave the counter stuck.
    /// `Err(until)` means the PIN is blocked.
    pub fn reserve(self, now: NaiveDateTime) -> Result<Self, NaiveDateTime> {
        let mut next = self;
        match self.blocked_until {
            Some(until) if now < until => return Err(until),
            Some(_) => {
                next = Self {
                    failed: 0,
                    blocked_until: None,
                }
            }
            None => {}
        }
        next.failed += 1;
        if next.failed >= MAX_ATTEMPTS {
            next.blocked_until = Some(now + Duration::minutes(BLOCK_MINUTES));
        }
        Ok(next)
    }

    /// The counter after a correct PIN.
    pub fn succeeded() -> Self {
        Self {
            failed: 0,
            blocked_until: None,
        }
    }

    pub fn remaining(self) -> i32 {
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
    fn fifth_attempt_blocks_for_thirty_minutes() {
        let mut c = PinCounter::succeeded();
        for _ in 0..4 {
            c = c.reserve(t(0)).unwrap();
            assert_eq!(c.blocked_until, None);
        }
        c = c.reserve(t(0)).unwrap();
        assert_eq!(c.blocked_until, Some(t(30)));
        assert_eq!(c.reserve(t(29)), Err(t(30)));
        let after = c.reserve(t(30)).unwrap();
        assert_eq!((after.failed, after.blocked_until), (1, None));
    }
}
