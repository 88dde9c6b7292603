//! The one API error type and its RFC 9457 problem+json rendering.
//!
//! Policy: services return `ApiError` for client-facing failures; database and internal
//! errors convert into it via `From`, are logged with their cause, and reach the client
//! only as a generic 500 or 503 without internal text.

use actix_web::http::{header, StatusCode};
use actix_web::{HttpResponse, ResponseError};
use serde_json::{Map, Value};
use std::fmt;

pub const PROBLEM_JSON: &str = "application/problem+json";
/// Problem types are relative references (RFC 9457 §3.1.1) to this server's catalogue
/// pages: `/problems/{code}`.
const TYPE_BASE: &str = "/problems/";

#[derive(Debug)]
pub struct ApiError {
    pub status: StatusCode,
    /// Stable snake_case identifier; never reused for another meaning.
    pub code: &'static str,
    pub detail: String,
    /// Extension members (RFC 9457 §3.2), e.g. the offending `field`.
    pub extensions: Map<String, Value>,
    /// Seconds for the `Retry-After` header (429, 503).
    pub retry_after: Option<u64>,
}

pub type ApiResult<T> = Result<T, ApiError>;

impl ApiError {
    pub fn new(status: StatusCode, code: &'static str, detail: impl Into<String>) -> Self {
        debug_assert!(
            crate::problems::find(code).is_some(),
            "problem code {code} is not in the catalogue (src/problems.rs)"
        );
        Self {
            status,
            code,
            detail: detail.into(),
            extensions: Map::new(),
            retry_after: None,
        }
    }

    pub fn retry_after(mut self, secs: u64) -> Self {
        self.retry_after = Some(secs.max(1));
        self
    }

    pub fn with(mut self, key: &str, value: impl Into<Value>) -> Self {
        self.extensions.insert(key.to_string(), value.into());
        self
    }

    pub fn bad_request(code: &'static str, detail: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, code, detail)
    }
    pub fn unauthenticated(detail: impl Into<String>) -> Self {
        Self::new(StatusCode::UNAUTHORIZED, "unauthenticated", detail)
    }
    pub fn forbidden(code: &'static str, detail: impl Into<String>) -> Self {
        Self::new(StatusCode::FORBIDDEN, code, detail)
    }
    pub fn not_found(detail: impl Into<String>) -> Self {
        Self::new(StatusCode::NOT_FOUND, "not_found", detail)
    }
    pub fn conflict(code: &'static str, detail: impl Into<String>) -> Self {
        Self::new(StatusCode::CONFLICT, code, detail)
    }
    pub fn unprocessable(code: &'static str, detail: impl Into<String>) -> Self {
        Self::new(StatusCode::UNPROCESSABLE_ENTITY, code, detail)
    }
    /// A field that breaks a validation rule.
    pub fn invalid_field(field: &str, detail: impl Into<String>) -> Self {
        Self::unprocessable("validation_failed", detail).with("field", field)
    }
    /// A list cursor (`starting_after`) that names nothing of the caller's.
    pub fn unknown_cursor() -> Self {
        Self::not_found("starting_after names nothing in this list.")
            .with("field", "starting_after")
    }
    pub fn internal() -> Self {
        Self::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal_error",
            "An internal error occurred.",
        )
    }
    pub fn unavailable() -> Self {
        Self::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "database_unavailable",
            "The database is not reachable; retry later.",
        )
        .retry_after(1)
    }
    /// The database did not answer a call in time: its outcome is unknown.
    pub fn database_timeout() -> Self {
        Self::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "database_timeout",
            "The database did not answer in time; the outcome is unknown. Retry with the same Idempotency-Key, or read the current state.",
        )
        .retry_after(2)
    }

    pub fn too_many_attempts(retry_after: u64) -> Self {
        Self::new(
            StatusCode::TOO_MANY_REQUESTS,
            "too_many_attempts",
            "Too many failed attempts; wait before trying again.",
        )
        .retry_after(retry_after)
    }

    /// Whether the refusal asks the client to send the same request again (a server error,
    /// 429, a concurrent update): a retry may well succeed. An `Idempotency-Key` is released
    /// after such a refusal, never bound to it (a key whose effect committed stays bound:
    /// the effect and its stored answer commit together).
    pub fn asks_retry(&self) -> bool {
        self.status.is_server_error()
            || self.status == StatusCode::TOO_MANY_REQUESTS
            || matches!(self.code, "concurrent_update" | "idempotency_key_in_flight")
    }

    /// Logs an unexpected failure and returns the opaque 500.
    pub fn internal_from(context: &str, cause: impl fmt::Display) -> Self {
        tracing::error!(%cause, "{context}");
        Self::internal()
    }

    pub fn body(&self) -> Value {
        // Extensions first, so they can never replace a standard member.
        let mut body = self.extensions.clone();
        body.insert("type".into(), format!("{TYPE_BASE}{}", self.code).into());
        body.insert(
            "title".into(),
            self.status.canonical_reason().unwrap_or("Error").into(),
        );
        body.insert("status".into(), self.status.as_u16().into());
        body.insert("detail".into(), self.detail.clone().into());
        body.insert("code".into(), self.code.into());
        Value::Object(body)
    }
}

impl fmt::Display for ApiError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}: {}", self.status.as_u16(), self.code, self.detail)
    }
}

impl ResponseError for ApiError {
    fn status_code(&self) -> StatusCode {
        self.status
    }

    fn error_response(&self) -> HttpResponse {
        let mut res = HttpResponse::build(self.status);
        res.insert_header((header::CONTENT_TYPE, PROBLEM_JSON));
        if self.status == StatusCode::UNAUTHORIZED {
            res.insert_header((header::WWW_AUTHENTICATE, "Bearer"));
        }
        if let Some(secs) = self.retry_after {
            res.insert_header((header::RETRY_AFTER, secs.to_string()));
        }
        res.body(self.body().to_string())
    }
}

/// Logs database trouble at a bounded rate: at most [`LOG_PER_SECOND`] lines a second,
/// then one line saying how many were left out. An outage hits every request; the log
/// must not drown in it.
pub fn log_bounded(context: &str, cause: &dyn fmt::Display) {
    use std::sync::atomic::{AtomicU64, Ordering};
    const LOG_PER_SECOND: u64 = 5;
    static WINDOW: AtomicU64 = AtomicU64::new(0);
    static COUNT: AtomicU64 = AtomicU64::new(0);
    let second = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    if WINDOW.swap(second, Ordering::AcqRel) != second {
        let previous = COUNT.swap(0, Ordering::AcqRel);
        if previous > LOG_PER_SECOND {
            tracing::error!(
                suppressed = previous - LOG_PER_SECOND,
                "database errors left out of the log"
            );
        }
    }
    if COUNT.fetch_add(1, Ordering::AcqRel) < LOG_PER_SECOND {
        tracing::error!(%cause, "{context}");
    }
}

/// Errors that mean the database cannot be used right now (not a fault of the request):
/// a lost connection, a server shutting down, SQLite's lock held by another process.
fn unavailable_cause(e: &diesel::result::Error) -> bool {
    use diesel::result::{DatabaseErrorKind, Error};
    match e {
        Error::DatabaseError(DatabaseErrorKind::ClosedConnection, _) => true,
        Error::DatabaseError(_, info) => {
            let m = info.message();
            m.contains("database is locked")
                || m.contains("terminating connection")
                || m.contains("server closed the connection")
                || m.contains("no connection to the server")
                || m.contains("the database system is")
        }
        _ => false,
    }
}

impl From<diesel::result::Error> for ApiError {
    fn from(e: diesel::result::Error) -> Self {
        use diesel::result::{DatabaseErrorKind, Error};
        match &e {
            _ if unavailable_cause(&e) => {
                log_bounded("database unavailable", &e);
                Self::unavailable()
            }
            Error::DatabaseError(DatabaseErrorKind::SerializationFailure, _) => Self::new(
                StatusCode::CONFLICT,
                "concurrent_update",
                "A concurrent request changed the same data; retry.",
            ),
            _ => Self::internal_from("database error", e),
        }
    }
}

impl From<diesel::r2d2::PoolError> for ApiError {
    fn from(e: diesel::r2d2::PoolError) -> Self {
        log_bounded("database pool unavailable", &e);
        Self::unavailable()
    }
}

impl From<actix_web::error::BlockingError> for ApiError {
    fn from(e: actix_web::error::BlockingError) -> Self {
        Self::internal_from("blocking task failed", e)
    }
}
