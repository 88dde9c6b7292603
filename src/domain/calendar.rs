//! Calendar periods for limits and statements: days, months and years in the
//! configured time zone (Europe/Berlin by default), as UTC bounds `[start, end)`.

use chrono::{DateTime, Datelike, NaiveDate, NaiveDateTime, TimeZone, Utc};
use chrono_tz::Tz;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Period {
    pub start: NaiveDateTime,
    pub end: NaiveDateTime,
}

#[derive(Clone, Copy, Debug)]
pub struct Calendar {
    tz: Tz,
}

impl Calendar {
    pub fn new(tz: Tz) -> Self {
        Self { tz }
    }

    pub fn tz(&self) -> Tz {
        self.tz
    }

    pub fn day(&self, now: DateTime<Utc>) -> Period {
        let date = now.with_timezone(&self.tz).date_naive();
        self.span(date, date.succ_opt().expect("date in range"))
    }

    pub fn month(&self, now: DateTime<Utc>) -> Period {
        let date = now.with_timezone(&self.tz).date_naive();
        let first = date.with_day(1).expect("day 1 exists");
        let next = if first.month() == 12 {
            NaiveDate::from_ymd_opt(first.year() + 1, 1, 1)
        } else {
            NaiveDate::from_ymd_opt(first.year(), first.month() + 1, 1)
        };
        self.span(first, next.expect("date in range"))
    }

    pub fn year(&self, now: DateTime<Utc>) -> Period {
        let year = now.with_timezone(&self.tz).year();
        let first = |y| NaiveDate::from_ymd_opt(y, 1, 1).expect("date in range");
        self.span(first(year), first(year + 1))
    }

    fn span(&self, from: NaiveDate, to: NaiveDate) -> Period {
        Period {
            start: self.midnight(from),
            end: self.midnight(to),
        }
    }

    /// Local midnight in UTC. Where a zone skips midnight, the day starts at the first
    /// local instant that exists.
    fn midnight(&self, date: NaiveDate) -> NaiveDateTime {
        let local = date.and_hms_opt(0, 0, 0).expect("midnight");
        match self.tz.from_local_datetime(&local).earliest() {
            Some(t) => t.naive_utc(),
            None => self
                .tz
                .from_local_datetime(&(local + chrono::Duration::hours(1)))
                .earliest()
                .map_or(local, |t| t.naive_utc()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn utc(s: &str) -> DateTime<Utc> {
        s.parse().unwrap()
    }

    #[test]
    fn berlin_days_including_daylight_saving_changes() {
        let cal = Calendar::new(chrono_tz::Europe::Berlin);
        let d = cal.day(utc("2026-11-22T23:30:00Z"));
        assert_eq!(d.start.to_string(), "2026-11-22 23:00:00");
        // Spring forward: 23 hours; fall back: 25 hours.
        let spring = cal.day(utc("2027-03-28T12:00:00Z"));
        assert_eq!((spring.end - spring.start).num_hours(), 23);
        let autumn = cal.day(utc("2027-10-31T12:00:00Z"));
        assert_eq!((autumn.end - autumn.start).num_hours(), 25);
        let y = cal.year(utc("2026-12-31T23:30:00Z"));
        assert_eq!(y.start.to_string(), "2026-12-31 23:00:00");
        let m = cal.month(utc("2026-12-15T00:00:00Z"));
        assert_eq!(m.end.to_string(), "2026-12-31 23:00:00");
    }
}
