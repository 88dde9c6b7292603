//! Money-request rules: the status machine, expiry bounds, public ids and the
//! validation of descriptions, references and metadata.

use crate::error::ApiError;
use chrono::{DateTime, Duration, SubsecRound, Utc};
use rand::distributions::Alphanumeric;
use rand::Rng;
use serde_json::{Map, Value};

pub const DEFAULT_EXPIRY_SECS: i64 = 900;
pub const DEFAULT_LINK_EXPIRY_SECS: i64 = 72 * 3600;
pub const MIN_EXPIRY_SECS: i64 = 60;
pub const MAX_EXPIRY_SECS: i64 = 2_592_000;

pub use super::status::RequestStatus as Status;

/// 409 for any transition out of a terminal status.
/// 409 for a request that is no longer pending: `request_expired` when its deadline
/// passed (however that was found), `request_not_pending` otherwise.
pub fn not_pending(status: Status) -> ApiError {
    let code = if status == Status::Expired {
        "request_expired"
    } else {
        "request_not_pending"
    };
    ApiError::conflict(
        code,
        format!("The money request is {status}, no longer pending."),
    )
    .with("request_status", status.to_string())
}

/// A random, unguessable public id such as `mr_3kT9…`.
pub fn public_id(prefix: &str) -> String {
    let tail: String = rand::thread_rng()
        .sample_iter(&Alphanumeric)
        .take(24)
        .map(char::from)
        .collect();
    format!("{prefix}_{tail}")
}

/// The deadline from `expires_in` (seconds) or `expires_at`, within the allowed bounds.
pub fn deadline(
    now: DateTime<Utc>,
    expires_in: Option<i64>,
    expires_at: Option<DateTime<Utc>>,
    default_secs: i64,
) -> Result<DateTime<Utc>, ApiError> {
    let secs = match (expires_in, expires_at) {
        (Some(_), Some(_)) => {
            return Err(ApiError::invalid_field(
                "expires_in",
                "give expires_in or expires_at, not both",
            ))
        }
        (Some(secs), None) => secs,
        (None, Some(at)) => (at - now).num_seconds(),
        (None, None) => default_secs,
    };
    if !(MIN_EXPIRY_SECS..=MAX_EXPIRY_SECS).contains(&secs) {
        let field = if expires_at.is_some() {
            "expires_at"
        } else {
            "expires_in"
        };
        return Err(ApiError::invalid_field(
            field,
            format!("the request must expire between {MIN_EXPIRY_SECS} s and {MAX_EXPIRY_SECS} s (30 days) from now"),
        ));
    }
    // Whole seconds: the deadline enforced is exactly the one the API shows.
    Ok(expires_at
        .unwrap_or(now + Duration::seconds(secs))
        .trunc_subsecs(0))
}

/// A flat object of at most 20 keys (≤ 40 chars) with string values (≤ 500 chars), as
/// Stripe's metadata: one value type that every client generator can send.
pub fn metadata(m: &Map<String, Value>) -> Result<String, ApiError> {
    let bad = |why: &str| ApiError::invalid_field("metadata", format!("metadata {why}"));
    if m.len() > 20 {
        return Err(bad("may have at most 20 keys"));
    }
    for (k, v) in m {
        if k.is_empty() || k.chars().count() > 40 {
            return Err(bad("keys must be 1 to 40 characters"));
        }
        // The same rule as every other free-text field: no NUL or other control characters.
        if k.chars().any(char::is_control) {
            return Err(bad("keys must not contain control characters"));
        }
        match v {
            Value::String(s) if s.chars().count() > 500 => {
                return Err(bad("values must be at most 500 characters"))
            }
            Value::String(s) if s.chars().any(char::is_control) => {
                return Err(bad("values must not contain control characters"))
            }
            Value::String(_) => {}
            Value::Number(_) | Value::Bool(_) => {
                return Err(bad(
                    "values are strings: send a number or a flag as text (\"2\", \"true\")",
                ))
            }
            _ => return Err(bad("must be flat: values are strings")),
        }
    }
    Ok(Value::Object(m.clone()).to_string())
}

/// A decline reason code: snake_case, at most 40 characters.
pub fn reason_code(code: &str) -> Result<String, ApiError> {
    let ok = !code.is_empty()
        && code.len() <= 40
        && code
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_');
    if ok {
        Ok(code.to_string())
    } else {
        Err(ApiError::invalid_field(
            "reason_code",
            "reason_code is snake_case, at most 40 characters",
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn deadlines_are_bounded() {
        let now = Utc::now();
        assert_eq!(
            deadline(now, None, None, DEFAULT_EXPIRY_SECS).unwrap(),
            (now + Duration::seconds(900)).trunc_subsecs(0)
        );
        assert!(deadline(now, Some(59), None, 900).is_err());
        assert!(deadline(now, Some(60), None, 900).is_ok());
        assert!(deadline(now, Some(MAX_EXPIRY_SECS + 1), None, 900).is_err());
        assert!(deadline(now, None, Some(now + Duration::days(2)), 900).is_ok());
        assert!(deadline(now, None, Some(now - Duration::days(2)), 900).is_err());
        assert!(deadline(now, Some(600), Some(now + Duration::days(2)), 900).is_err());
    }

    #[test]
    fn metadata_is_flat_and_small() {
        let ok: Map<String, Value> =
            serde_json::from_str(r#"{"order":"A-1","qty":"2","gift":"true"}"#).unwrap();
        assert!(metadata(&ok).is_ok());
        for typed in [r#"{"qty":2}"#, r#"{"gift":true}"#, r#"{"none":null}"#] {
            let m: Map<String, Value> = serde_json::from_str(typed).unwrap();
            assert!(metadata(&m).is_err(), "{typed}");
        }
        let nested: Map<String, Value> = serde_json::from_str(r#"{"a":{"b":1}}"#).unwrap();
        assert!(metadata(&nested).is_err());
        let many: Map<String, Value> = (0..21).map(|i| (format!("k{i}"), Value::from(i))).collect();
        assert!(metadata(&many).is_err());
        for bad in [
            r#"{"a\u0000":"x"}"#,
            r#"{"a":"x\u0000y"}"#,
            r#"{"a":"line\nbreak"}"#,
        ] {
            let m: Map<String, Value> = serde_json::from_str(bad).unwrap();
            assert!(metadata(&m).is_err(), "{bad}");
        }
    }
}

/// A request created without a payer is a payment link; one created for a payer is
/// addressed (a link stays a link after "send it to my app" names its payer).
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Kind {
    Link,
    Addressed,
}

impl Kind {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Link => "link",
            Self::Addressed => "addressed",
        }
    }
}

/// Where the hosted page sends the browser after the outcome: an absolute `https` URL
/// (`http` too where `allow_http`, for development), no credentials, ≤ 2,048 characters.
pub fn return_url(raw: &str, allow_http: bool) -> Result<String, ApiError> {
    let bad = |why: &str| ApiError::invalid_field("return_url", why.to_string());
    if raw.len() > 2048 {
        return Err(bad("return_url is at most 2048 characters"));
    }
    let url = url::Url::parse(raw).map_err(|_| bad("return_url must be an absolute URL"))?;
    match url.scheme() {
        "https" => {}
        "http" if allow_http => {}
        _ => return Err(bad("return_url must use https")),
    }
    if url.host_str().is_none_or(str::is_empty) {
        return Err(bad("return_url needs a host"));
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err(bad("return_url must not carry credentials"));
    }
    Ok(url.to_string())
}

/// The merchant's `return_url` with the outcome appended:
/// `?money_request={id}&status={status}` (kept with any query it already has).
pub fn return_target(return_url: &str, id: &str, status: &str) -> Option<String> {
    let mut url = url::Url::parse(return_url).ok()?;
    url.query_pairs_mut()
        .append_pair("money_request", id)
        .append_pair("status", status);
    Some(url.to_string())
}

#[cfg(test)]
mod link_tests {
    use super::*;

    #[test]
    fn return_url_is_https_without_credentials() {
        assert!(return_url("https://shop.example/done", false).is_ok());
        assert!(return_url("http://shop.example/done", false).is_err());
        assert!(return_url("http://127.0.0.1:9/done", true).is_ok());
        assert!(return_url("https://user:pw@shop.example/", false).is_err());
        assert!(return_url("javascript:alert(1)", true).is_err());
        assert!(return_url("/relative", false).is_err());
    }

    #[test]
    fn return_target_appends_the_outcome() {
        assert_eq!(
            return_target("https://shop.example/done?order=7", "mr_1", "approved").unwrap(),
            "https://shop.example/done?order=7&money_request=mr_1&status=approved"
        );
    }
}
