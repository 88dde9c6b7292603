//! Runs a money-moving POST under its `Idempotency-Key`, if the caller sent one.

use super::extract::IdempotencyKey;
use crate::error::{ApiError, ApiResult, PROBLEM_JSON};
use crate::services::idempotency::{self, Begin, Claim, Outcome, Seal};
use crate::state::AppState;
use actix_web::http::{header, StatusCode};
use actix_web::{web, HttpRequest, HttpResponse};
use serde_json::Value;
use std::future::Future;

/// `scope` identifies the caller (keys are per caller); `body` is the parsed request
/// body. `run` does the work with a [`Seal`] that it hands to the service, which stores
/// the response under the key inside the transaction of the effect; it returns the
/// response's status and body. With a key, the work and the storing of a refusal
/// run as their own task, so that even where the handler future is dropped (a transport
/// that cancels on disconnect) the key is resolved.
pub async fn idempotent<F, Fut>(
    state: &web::Data<AppState>,
    req: &HttpRequest,
    scope: String,
    key: IdempotencyKey,
    body: &Value,
    run: F,
) -> ApiResult<HttpResponse>
where
    F: FnOnce(web::Data<AppState>, Seal) -> Fut,
    Fut: Future<Output = ApiResult<(StatusCode, Value)>> + 'static,
{
    let Some(key) = key.0 else {
        let (status, body) = run(state.clone(), Seal::new(None)).await?;
        return Ok(HttpResponse::build(status).json(body));
    };
    let claim = Claim::new(scope, key, req.method().as_str(), req.path(), body);
    let lease = match idempotency::begin(state, claim).await? {
        Begin::Replay(status, body) => return Ok(replay(status, body)),
        Begin::Fresh(lease) => lease,
    };
    let work = run(state.clone(), Seal::new(Some(lease.clone())));
    let task_state = state.clone();
    let task = actix_web::rt::spawn(async move {
        let outcome = work.await;
        let for_key = match &outcome {
            Ok((status, body)) => Outcome::Answer(*status, body.clone()),
            Err(e) if e.asks_retry() => Outcome::Retry,
            Err(e) => Outcome::Answer(e.status, e.body()),
        };
        match idempotency::finish(&task_state, lease.clone(), for_key.clone()).await {
            Ok(()) => Ok(outcome),
            Err(e) => {
                if e.status.is_server_error() {
                    idempotency::finish_later(task_state.ctx.clone(), lease, for_key);
                }
                Err(e)
            }
        }
    });
    let (status, body) = task
        .await
        .map_err(|e| ApiError::internal_from("idempotent request", e))???;
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
