//! Thin HTTP handlers per resource, plus the problem+json fallbacks for errors that
//! actix raises before a handler runs (bad JSON, bad path or query, unknown routes).

pub mod accounts;
pub mod admin;
pub mod callbacks;
pub mod callers;
pub mod extract;
pub mod health;
pub mod idempotent;
pub mod ledger;
pub mod money_requests;
pub mod onboarding;
pub mod pagination;
pub mod passkeys;
pub mod push;
pub mod reloads;
pub mod sandbox;
pub mod sessions;
pub mod statements;
pub mod upload_guard;
pub mod version;
pub mod wallet;

use crate::error::{ApiError, PROBLEM_JSON};
use actix_web::body::EitherBody;
use actix_web::dev::ServiceResponse;
use actix_web::error::{PathError, QueryPayloadError};
use actix_web::http::{header, StatusCode};
use actix_web::middleware::ErrorHandlerResponse;
use actix_web::{HttpRequest, ResponseError};

/// Timestamps in bodies: RFC 3339, UTC, `Z`.
pub use crate::domain::time::rfc3339;

pub fn path_error(_: PathError, _: &HttpRequest) -> actix_web::Error {
    ApiError::not_found("No such resource.").into()
}

pub fn query_error(err: QueryPayloadError, _: &HttpRequest) -> actix_web::Error {
    ApiError::bad_request(
        "invalid_query",
        format!("The query string is not valid: {err}"),
    )
    .into()
}

pub async fn method_not_allowed(allow: String) -> actix_web::HttpResponse {
    let mut res = ApiError::new(
        StatusCode::METHOD_NOT_ALLOWED,
        "method_not_allowed",
        format!("This path allows {allow}."),
    )
    .error_response();
    if let Ok(value) = header::HeaderValue::from_str(&allow) {
        res.headers_mut().insert(header::ALLOW, value);
    }
    res
}

pub async fn unknown_route() -> Result<actix_web::HttpResponse, ApiError> {
    Err(ApiError::new(
        StatusCode::NOT_FOUND,
        "route_not_found",
        "No route matches this path.",
    ))
}

/// Turns any remaining non-problem error response (e.g. actix's bare 405) into problem+json.
pub fn problem_fallback<B>(res: ServiceResponse<B>) -> actix_web::Result<ErrorHandlerResponse<B>> {
    let is_html = res
        .headers()
        .get(header::CONTENT_TYPE)
        .is_some_and(|v| v.as_bytes().starts_with(b"text/html"));
    if is_html {
        return Ok(ErrorHandlerResponse::Response(res.map_into_left_body()));
    }
    if crate::web::is_html_path(res.request().path()) {
        // The hosted page's paths answer errors as pages, not JSON.
        let status = res.status();
        let allow = res.headers().get(header::ALLOW).cloned();
        let (req, _) = res.into_parts();
        let mut page = match status {
            StatusCode::NOT_FOUND => crate::web::not_found_page(&req),
            s => {
                let t = crate::web::language(&req).t();
                let text = if s == StatusCode::METHOD_NOT_ALLOWED {
                    "not-found-text"
                } else if s.is_server_error() {
                    "err-other"
                } else {
                    "err-csrf"
                };
                crate::web::error_page(&req, s, &t.get("error-title"), &t.get(text))
            }
        };
        if let Some(allow) = allow {
            page.headers_mut().insert(header::ALLOW, allow);
        }
        let res = ServiceResponse::new(req, page).map_into_boxed_body();
        return Ok(ErrorHandlerResponse::Response(
            res.map_body(|_, b| EitherBody::right(b)),
        ));
    }
    let is_problem = res
        .headers()
        .get(header::CONTENT_TYPE)
        .is_some_and(|v| v.as_bytes().starts_with(PROBLEM_JSON.as_bytes()));
    if is_problem {
        return Ok(ErrorHandlerResponse::Response(res.map_into_left_body()));
    }
    let status = res.status();
    let api = match status {
        StatusCode::NOT_FOUND => {
            ApiError::new(status, "route_not_found", "No route matches this path.")
        }
        StatusCode::METHOD_NOT_ALLOWED => ApiError::new(
            status,
            "method_not_allowed",
            "This method is not allowed on this path.",
        ),
        StatusCode::PAYLOAD_TOO_LARGE => {
            ApiError::new(status, "payload_too_large", "The body is too large.")
        }
        s if s.is_server_error() => ApiError::internal(),
        s => ApiError::new(s, "bad_request", "The request could not be processed."),
    };
    let (req, _) = res.into_parts();
    let res = ServiceResponse::new(req, api.error_response()).map_into_boxed_body();
    Ok(ErrorHandlerResponse::Response(
        res.map_body(|_, b| EitherBody::right(b)),
    ))
}

/// Only the newest API token, or the merchant's app session, may revoke tokens or change
/// settings (callback URL and secret, hosted page, alerts, auto-reload): an older token in
/// its grace period keeps working for payments, but a leaked one cannot take the shop over.
pub fn not_superseded(superseded: bool) -> crate::error::ApiResult<()> {
    if superseded {
        return Err(crate::error::ApiError::forbidden(
            "superseded_token",
            "This API token has been replaced and lives on only in its grace period; revoke \
             tokens and change settings with the newest token or from the app.",
        ));
    }
    Ok(())
}
