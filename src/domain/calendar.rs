//! Calendar periods for limits and statements: days, months and years in the
//! configured time zone (Europe/Berlin by default), as UTC bounds `[start, end)`.

use chrono::{DateTime, Datelike, NaiveDate, NaiveDateTime, TimeZone, Utc};
use chrono_tz::Tz;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Period {
    pub start: NaiveDateTime,
    pub end: NaiveDateTime,
}

/// A calendar month, as statements and invoices name it (`2026-11`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Month {
    pub year: i32,
    pub month: u32,
}

impl Month {
    /// `YYYY-MM`, years 2000 to 9999.
    pub fn parse(raw: &str) -> Option<Self> {
        let (y, m) = raw.split_once('-')?;
        if y.len() != 4 || m.len() != 2 || !(y.bytes().chain(m.bytes())).all(|b| b.is_ascii_digit())
        {
            return None;
        }
        let (year, month) = (y.parse().ok()?, m.parse().ok()?);
        ((2000..=9999).contains(&year) && (1..=12).contains(&month)).then_some(Self { year, month })
    }

    pub fn first_day(self) -> NaiveDate {
        NaiveDate::from_ymd_opt(self.year, self.month, 1).expect("valid month")
    }

    pub fn next(self) -> Self {
        if self.month == 12 {
            Self {
                year: self.year + 1,
                month: 1,
            }
        } else {
            Self {
                year: self.year,
                month: self.month + 1,
            }
        }
    }

    /// "November 2026".
    pub fn name(self) -> String {
        self.first_day().format("%B %Y").to_string()
    }
}

impl std::fmt::Display for Month {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{:04}-{:02}", self.year, self.month)
    }
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
        self.month_period(self.month_of(now))
    }

    /// The month `now` falls in, in this calendar.
    pub fn month_of(&self, now: DateTime<Utc>) -> Month {
        let date = now.with_timezone(&self.tz).date_naive();
        Month {
            year: date.year(),
            month: date.month(),
        }
    }

    pub fn month_period(&self, m: Month) -> Period {
        self.span(m.first_day(), m.next().first_day())
    }

    /// A stored UTC instant as RFC 3339 in local time, to the second.
    pub fn rfc3339(&self, at: NaiveDateTime) -> String {
        self.local(at)
            .to_rfc3339_opts(chrono::SecondsFormat::Secs, false)
    }

    /// A stored UTC instant in this calendar's local time.
    pub fn local(&self, at: NaiveDateTime) -> DateTime<Tz> {
        Utc.from_utc_datetime(&at).with_timezone(&self.tz)
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
        // March 2027 has 31 days less one hour: it starts in CET and ends in CEST.
        let march = cal.month_period(Month::parse("2027-03").unwrap());
        assert_eq!(march.start.to_string(), "2027-02-28 23:00:00");
        assert_eq!(march.end.to_string(), "2027-03-31 22:00:00");
        assert_eq!(
            cal.month_of(utc("2027-03-31T22:30:00Z")).to_string(),
            "2027-04"
        );
    }

    #[test]
    fn months_parse_strictly() {
        assert_eq!(Month::parse("2026-11").unwrap().to_string(), "2026-11");
        assert_eq!(Month::parse("2026-11").unwrap().name(), "November 2026");
        for bad in [
            "2026-13",
            "2026-00",
            "2026-1",
            "26-11",
            "2026-11-01",
            "1999-12",
            "20a6-11",
            "+202-11",
            "",
        ] {
            assert!(Month::parse(bad).is_none(), "{bad}");
        }
    }
}
