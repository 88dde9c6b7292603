//! `/v1/sessions` (app login, refresh) and `/v1/auth/tokens` (merchant API tokens).

use super::extract::{ApiJson, ClientIp};
use crate::auth::Merchant;
use crate::error::ApiResult;
use crate::services::{identity::sessions, merchants::api_tokens};
use crate::state::AppState;
use actix_web::{web, HttpResponse};

pub async fn login(
    state: web::Data<AppState>,
    client: ClientIp,
    body: ApiJson<sessions::Credentials>,
) -> ApiResult<HttpResponse> {
    let tokens = sessions::login(&state, client.0, body.into_inner()).await?;
    Ok(HttpResponse::Created()
        .insert_header(("Cache-Control", "no-store"))
        .json(tokens))
}

pub async fn refresh(
    state: web::Data<AppState>,
    body: ApiJson<sessions::RefreshRequest>,
) -> ApiResult<HttpResponse> {
    let tokens = sessions::refresh(&state, body.into_inner()).await?;
    Ok(HttpResponse::Created()
        .insert_header(("Cache-Control", "no-store"))
        .json(tokens))
}

pub async fn create_api_token(
    state: web::Data<AppState>,
    client: ClientIp,
    body: ApiJson<api_tokens::TokenRequest>,
) -> ApiResult<HttpResponse> {
    let token = api_tokens::create(&state, client.0, body.into_inner()).await?;
    Ok(HttpResponse::Created()
        .insert_header(("Cache-Control", "no-store"))
        .json(token))
}

/// Revokes every API token (by API token or by the merchant's app session, so a leaked
/// key can be killed from the app too).
pub async fn revoke_api_tokens(
    state: web::Data<AppState>,
    merchant: Merchant,
) -> ApiResult<HttpResponse> {
    super::not_superseded(merchant.superseded())?;
    api_tokens::revoke_all(&state, merchant.account.id).await?;
    Ok(HttpResponse::NoContent().finish())
}

pub async fn list_api_tokens(
    state: web::Data<AppState>,
    merchant: Merchant,
) -> ApiResult<HttpResponse> {
    let (data, has_more) = api_tokens::list(&state, &merchant.account).await?;
    Ok(HttpResponse::Ok().json(super::pagination::List { data, has_more }))
}

pub async fn revoke_api_token(
    state: web::Data<AppState>,
    merchant: Merchant,
    id: web::Path<String>,
) -> ApiResult<HttpResponse> {
    super::not_superseded(merchant.superseded())?;
    api_tokens::revoke(&state, &merchant.account, id.into_inner()).await?;
    Ok(HttpResponse::NoContent().finish())
}
