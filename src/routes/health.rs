//! Liveness, readiness and the served OpenAPI contract.

use crate::error::ApiResult;
use crate::state::AppState;
use actix_web::{web, HttpResponse};
use diesel::connection::SimpleConnection;

pub const OPENAPI: &str = include_str!("../../openapi.yaml");

pub async fn health() -> HttpResponse {
    HttpResponse::Ok().json(serde_json::json!({"status": "ok"}))
}

/// Ready when the database answers.
pub async fn ready(state: web::Data<AppState>) -> ApiResult<HttpResponse> {
    state
        .db
        .run(|c| {
            c.batch_execute("SELECT 1").map_err(|e| {
                tracing::error!(error = %e, "readiness probe failed");
                crate::error::ApiError::unavailable()
            })
        })
        .await?;
    Ok(HttpResponse::Ok().json(serde_json::json!({"status": "ready"})))
}

pub async fn openapi() -> HttpResponse {
    HttpResponse::Ok()
        .content_type("application/yaml")
        .body(OPENAPI)
}
