//! `/v1/sandbox/*`: the test clock, the simulated payer, sample callbacks and
//! self-service merchants. 404 unless the server runs with `PINPAY_ENV=sandbox`, before
//! anything else is looked at (extractors are taken as `Result`s for that).

use super::extract::ApiJson;
use crate::auth::{AnyCaller, MerchantApi};
use crate::error::{ApiError, ApiResult};
use crate::services::sandbox::{self, only_in_sandbox};
use crate::state::AppState;
use actix_web::{web, HttpResponse};

pub async fn clock(
    state: web::Data<AppState>,
    caller: Result<AnyCaller, ApiError>,
) -> ApiResult<HttpResponse> {
    only_in_sandbox(&state)?;
    let caller = caller?;
    Ok(HttpResponse::Ok().json(sandbox::clock(&state, caller.account.id).await?))
}

pub async fn advance_clock(
    state: web::Data<AppState>,
    caller: Result<AnyCaller, ApiError>,
    body: Result<ApiJson<sandbox::Advance>, ApiError>,
) -> ApiResult<HttpResponse> {
    only_in_sandbox(&state)?;
    let (caller, body) = (caller?, body?);
    let moved = sandbox::advance(&state, caller.account.id, body.into_inner()).await?;
    Ok(HttpResponse::Ok().json(moved))
}

pub async fn simulate(
    state: web::Data<AppState>,
    merchant: Result<MerchantApi, ApiError>,
    id: web::Path<String>,
    body: Result<ApiJson<sandbox::Simulate>, ApiError>,
) -> ApiResult<HttpResponse> {
    only_in_sandbox(&state)?;
    let (merchant, body) = (merchant?, body?);
    let view = sandbox::simulate(
        &state,
        &merchant.account,
        id.into_inner(),
        body.into_inner(),
    )
    .await?;
    Ok(HttpResponse::Ok().json(view))
}

pub async fn test_callback(
    state: web::Data<AppState>,
    merchant: Result<MerchantApi, ApiError>,
    body: Result<ApiJson<sandbox::TestEvent>, ApiError>,
) -> ApiResult<HttpResponse> {
    only_in_sandbox(&state)?;
    let (merchant, body) = (merchant?, body?);
    let queued = sandbox::test_event(&state, merchant.account.id, body.into_inner()).await?;
    Ok(HttpResponse::Accepted().json(queued))
}

pub async fn create_merchant(
    state: web::Data<AppState>,
    body: Result<ApiJson<sandbox::NewMerchant>, ApiError>,
) -> ApiResult<HttpResponse> {
    only_in_sandbox(&state)?;
    let created = sandbox::create_merchant(&state, body?.into_inner()).await?;
    Ok(HttpResponse::Created()
        .insert_header(("Cache-Control", "no-store"))
        .json(created))
}
