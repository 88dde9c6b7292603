//! List conventions (SPEC §11): `limit` 1–100 (default 20), `starting_after` cursor,
//! responses `{"data": [...], "has_more": bool}`.

use crate::error::{ApiError, ApiResult};
use serde::Serialize;

#[derive(Serialize)]
pub struct List<T> {
    pub data: Vec<T>,
    pub has_more: bool,
}

pub fn limit(requested: Option<i64>) -> ApiResult<i64> {
    match requested.unwrap_or(20) {
        l @ 1..=100 => Ok(l),
        _ => Err(
            ApiError::bad_request("invalid_query", "limit must be between 1 and 100")
                .with("field", "limit"),
        ),
    }
}

/// Reads a cursor such as `pst_42` into the id 42.
pub fn cursor(prefix: &str, value: Option<&str>) -> ApiResult<Option<i64>> {
    value
        .map(|v| {
            v.strip_prefix(prefix)
                .and_then(|n| n.parse::<i64>().ok())
                .filter(|n| *n > 0)
                .ok_or_else(|| {
                    ApiError::bad_request(
                        "invalid_query",
                        format!("starting_after must be an id like {prefix}123"),
                    )
                    .with("field", "starting_after")
                })
        })
        .transpose()
}

/// A cursor that is an opaque public id (`po_…`, `app_…`): checked for size and alphabet.
pub fn cursor_text(value: Option<String>) -> ApiResult<Option<String>> {
    match value {
        Some(v)
            if v.is_empty()
                || v.len() > 64
                || !v.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_') =>
        {
            Err(
                ApiError::bad_request("invalid_query", "starting_after must be an id")
                    .with("field", "starting_after"),
            )
        }
        other => Ok(other),
    }
}
