//! `/v1/callback-url`, `/v1/callback-secret/rotate`, `/v1/callbacks…` (merchant API).

use super::extract::ApiJson;
use super::pagination::{limit, List};
use crate::auth::Merchant;
use crate::error::ApiResult;
use crate::services::messaging::callback_log as log;
use crate::services::messaging::callback_settings as settings;
use crate::state::AppState;
use actix_web::{web, HttpResponse};
use serde::Deserialize;

pub async fn set_url(
    state: web::Data<AppState>,
    merchant: Merchant,
    body: ApiJson<settings::UrlUpdate>,
) -> ApiResult<HttpResponse> {
    super::not_superseded(merchant.superseded())?;
    Ok(HttpResponse::Ok()
        .json(settings::set_url(&state, merchant.account.id, body.into_inner()).await?))
}

pub async fn rotate_secret(
    state: web::Data<AppState>,
    merchant: Merchant,
) -> ApiResult<HttpResponse> {
    super::not_superseded(merchant.superseded())?;
    let rotated = settings::rotate(&state, merchant.account.id).await?;
    Ok(HttpResponse::Created()
        .insert_header(("Cache-Control", "no-store"))
        .json(rotated))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LogQuery {
    limit: Option<i64>,
    starting_after: Option<String>,
}

pub async fn list(
    state: web::Data<AppState>,
    merchant: Merchant,
    query: web::Query<LogQuery>,
) -> ApiResult<HttpResponse> {
    let q = query.into_inner();
    let (data, has_more) = log::list(
        &state,
        merchant.account.id,
        q.starting_after,
        limit(q.limit)?,
    )
    .await?;
    Ok(HttpResponse::Ok().json(List { data, has_more }))
}

pub async fn redeliver(
    state: web::Data<AppState>,
    merchant: Merchant,
    id: web::Path<String>,
) -> ApiResult<HttpResponse> {
    Ok(HttpResponse::Accepted()
        .json(log::redeliver(&state, merchant.account.id, id.into_inner()).await?))
}
