//! Liveness, readiness and the served OpenAPI contract.

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

pub async fn openapi() -> HttpResponse {
    HttpResponse::Ok()
        .content_type("application/yaml")
        .body(OPENAPI)
}
