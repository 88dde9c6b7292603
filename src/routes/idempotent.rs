//! Runs a money-moving POST under its `Idempotency-Key`, if the caller sent one.

use super::extract::IdempotencyKey;
use crate::error::{ApiResult, PROBLEM_JSON};
use crate::services::idempotency::{self, Begin, Claim};
use crate::state::AppState;
use actix_web::http::{header, StatusCode};
use actix_web::{HttpRequest, HttpResponse};
use serde_json::Value;
use std::future::Future;

/// `scope` identifies the caller (keys are per caller); `body` is the parsed request
/// body. `run` produces the response status and body.
pub async fn idempotent<F>(
    state: &AppState,
    req: &HttpRequest,
    scope: String,
    key: IdempotencyKey,
    body: &Value,
    run: F,
) -> ApiResult<HttpResponse>
where
    F: Future<Output = ApiResult<(StatusCode, Value)>>,
{
    let Some(key) = key.0 else {
        let (status, body) = run.await?;
        return Ok(HttpResponse::build(status).json(body));
    };
    let claim = Claim::new(scope, key, req.method().as_str(), req.path(), body);
    let id = match idempotency::begin(state, claim).await? {
        Begin::Replay(status, body) => return Ok(replay(status, body)),
        Begin::Fresh(id) => id,
    };
    let outcome = run.await;
    let (status, stored) = match &outcome {
        Ok((status, body)) => (*status, body.clone()),
        Err(e) => (e.status, e.body()),
    };
    idempotency::finish(state, id, status, &stored).await?;
    let (status, body) = outcome?;
    Ok(HttpResponse::build(status).json(body))
}

fn replay(status: StatusCode, body: Value) -> HttpResponse {
    let content_type = if status.is_client_error() || status.is_server_error() {
        PROBLEM_JSON
    } else {
        "application/json"
    };
    HttpResponse::build(status)
        .insert_header((header::CONTENT_TYPE, content_type))
        .insert_header(("Idempotent-Replayed", "true"))
        .body(body.to_string())
}

/// The idempotency scope of an account.
pub fn account_scope(account_id: i64) -> String {
    format!("acct:{account_id}")
}

/// A serialisable value as a JSON body.
pub fn json<T: serde::Serialize>(value: &T) -> ApiResult<Value> {
    serde_json::to_value(value)
        .map_err(|e| crate::error::ApiError::internal_from("serialise response", e))
}
