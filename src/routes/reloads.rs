//! `/v1/me/auto-reload`, `/v1/reloads` and the providers' confirmations.

use super::extract::ApiJson;
use super::pagination::List;
use crate::auth::AnyCaller;
use crate::error::ApiResult;
use crate::services::wallet::{auto_reload, reload_confirmations, reloads};
use crate::state::AppState;
use actix_web::{web, HttpResponse};

pub async fn auto_reload(state: web::Data<AppState>, caller: AnyCaller) -> ApiResult<HttpResponse> {
    Ok(HttpResponse::Ok().json(auto_reload::get_settings(&state, &caller.account).await?))
}

pub async fn set_auto_reload(
    state: web::Data<AppState>,
    caller: AnyCaller,
    body: ApiJson<auto_reload::AutoReloadSettings>,
) -> ApiResult<HttpResponse> {
    super::not_superseded(caller.superseded())?;
    let view = auto_reload::set_settings(&state, &caller.account, body.into_inner()).await?;
    Ok(HttpResponse::Ok().json(view))
}

pub async fn order(
    state: web::Data<AppState>,
    caller: AnyCaller,
    body: ApiJson<reloads::ReloadRequest>,
) -> ApiResult<HttpResponse> {
    let view = reloads::order(&state, &caller.account, body.into_inner()).await?;
    Ok(HttpResponse::Created().json(view))
}

pub async fn list(state: web::Data<AppState>, caller: AnyCaller) -> ApiResult<HttpResponse> {
    let (data, has_more) = reloads::list(&state, &caller.account).await?;
    Ok(HttpResponse::Ok().json(List { data, has_more }))
}

/// A provider's confirmation: authenticated by its MAC, not by a token.
pub async fn confirm(
    state: web::Data<AppState>,
    provider: web::Path<String>,
    body: ApiJson<reload_confirmations::Confirmation>,
) -> ApiResult<HttpResponse> {
    let view = reload_confirmations::confirm_from_outside(
        &state,
        provider.into_inner(),
        body.into_inner(),
    )
    .await?;
    Ok(HttpResponse::Ok().json(view))
}
