//! Times as the API writes them: RFC 3339 in UTC, whole seconds.

use chrono::{NaiveDateTime, SecondsFormat};

pub fn rfc3339(t: NaiveDateTime) -> String {
    t.and_utc().to_rfc3339_opts(SecondsFormat::Secs, true)
}
