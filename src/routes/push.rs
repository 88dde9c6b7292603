//! `/v1/me/push-subscriptions`: a wallet's Web Push subscriptions (the wallet app's
//! service worker registers here, and so can a native app that speaks Web Push), and
//! `/v1/push/key`: the server's VAPID public key to subscribe with.

use super::extract::ApiJson;
use crate::auth::AppUser;
use crate::error::{ApiError, ApiResult};
use crate::services::messaging::push;
use crate::state::AppState;
use actix_web::{web, HttpResponse};

pub async fn subscribe(
    state: web::Data<AppState>,
    user: AppUser,
    body: ApiJson<push::NewSubscription>,
) -> ApiResult<HttpResponse> {
    let view = push::subscribe(&state, user.account.id, body.into_inner()).await?;
    Ok(HttpResponse::Created().json(view))
}

pub async fn list(state: web::Data<AppState>, user: AppUser) -> ApiResult<HttpResponse> {
    let data = push::list(&state, user.account.id).await?;
    Ok(HttpResponse::Ok().json(serde_json::json!({ "data": data })))
}

pub async fn unsubscribe(
    state: web::Data<AppState>,
    user: AppUser,
    body: ApiJson<push::Unsubscribe>,
) -> ApiResult<HttpResponse> {
    push::unsubscribe(&state, user.account.id, body.into_inner().endpoint).await?;
    Ok(HttpResponse::NoContent().finish())
}

pub async fn key(state: web::Data<AppState>) -> ApiResult<HttpResponse> {
    let key = state
        .config
        .vapid_private_key
        .as_ref()
        .and_then(|k| crate::notify::push::public_key_of(k.expose()))
        .ok_or_else(|| {
            ApiError::not_found("This server sends no push notifications (no VAPID key).")
        })?;
    Ok(HttpResponse::Ok().json(serde_json::json!({ "object": "push_key", "public_key": key })))
}
