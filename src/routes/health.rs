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
        .body(state.metrics.render(&state).await)
}

pub async fn openapi() -> HttpResponse {
    HttpResponse::Ok()
        .content_type("application/yaml")
        .body(OPENAPI)
}
