//! Liveness, readiness, metrics and the served OpenAPI contract.

use crate::error::ApiResult;
use crate::state::AppState;
use actix_web::{web, HttpResponse};

pub const OPENAPI: &str = include_str!("../../openapi.yaml");

pub async fn health() -> HttpResponse {
    HttpResponse::Ok().json(serde_json::json!({"status": "ok"}))
}

/// Ready when the database takes work (503 `database_unavailable` otherwise).
pub async fn ready(state: web::Data<AppState>) -> ApiResult<HttpResponse> {
    state.db.ready().await.map_err(|e| {
        if e.status.is_server_error() {
            crate::error::ApiError::unavailable()
        } else {
            e
        }
    })?;
    Ok(HttpResponse::Ok().json(serde_json::json!({"status": "ready"})))
}

/// Prometheus text exposition of this instance's metrics (operator token).
pub async fn metrics(state: web::Data<AppState>, _: crate::auth::Operator) -> HttpResponse {
    HttpResponse::Ok()
        .content_type("text/plain; version=0.0.4; charset=utf-8")
        .insert_header(("Cache-Control", "no-store"))
        .body(state.metrics.render(&readings(&state).await))
}

pub async fn openapi() -> HttpResponse {
    HttpResponse::Ok()
        .content_type("application/yaml")
        .body(OPENAPI)
}

/// The gauges read at scrape time: the database pool, the argon2 queue and the callback
/// queue (left out when it cannot be read).
async fn readings(state: &AppState) -> Vec<(&'static str, i64)> {
    let (open, idle) = state.db.pool_state();
    let (running, waiting) = state.hasher.load();
    let mut readings = vec![
        ("db_pool_connections", i64::from(open)),
        ("db_pool_idle_connections", i64::from(idle)),
        (
            "db_pool_max_connections",
            i64::from(state.config.db_pool_size),
        ),
        ("argon2_running", running as i64),
        ("argon2_waiting", waiting as i64),
    ];
    match crate::services::messaging::callback_log::queue_depth(state, state.clock.now_naive())
        .await
    {
        Ok((due, retrying)) => {
            readings.push(("callback_queue_due", due));
            readings.push(("callback_queue_retrying", retrying));
        }
        Err(e) => tracing::warn!(error = %e, "metrics: reading the callback queue failed"),
    }
    readings
}
