//! `/v1/me/passkeys` (a wallet's passkeys) and the passkey challenges of payer
//! operations: approving a money request, a transfer, a payout.

use super::extract::{ApiJson, ClientIp};
use crate::auth::AppUser;
use crate::error::ApiResult;
use crate::services::identity::passkeys;
use crate::services::payments::requests::approval;
use crate::services::wallet::{payouts, transfers};
use crate::state::AppState;
use actix_web::{web, HttpResponse};

pub async fn start_registration(
    state: web::Data<AppState>,
    user: AppUser,
) -> ApiResult<HttpResponse> {
    let a = &user.account;
    let ceremony = passkeys::start_registration(&state, a.id, a.username.clone()).await?;
    Ok(HttpResponse::Created().json(ceremony))
}

pub async fn register(
    state: web::Data<AppState>,
    user: AppUser,
    client: ClientIp,
    body: ApiJson<passkeys::NewPasskey>,
) -> ApiResult<HttpResponse> {
    let view =
        passkeys::finish_registration(&state, &user.account, client.0, body.into_inner()).await?;
    Ok(HttpResponse::Created().json(view))
}

pub async fn list(state: web::Data<AppState>, user: AppUser) -> ApiResult<HttpResponse> {
    let views = passkeys::list(&state, user.account.id).await?;
    Ok(HttpResponse::Ok().json(serde_json::json!({ "data": views })))
}

pub async fn delete(
    state: web::Data<AppState>,
    user: AppUser,
    client: ClientIp,
    id: web::Path<String>,
    body: ApiJson<passkeys::PasskeyRemoval>,
) -> ApiResult<HttpResponse> {
    let (id, body) = (id.into_inner(), body.into_inner());
    passkeys::delete(&state, &user.account, client.0, id, body).await?;
    Ok(HttpResponse::NoContent().finish())
}

pub async fn change_challenge(
    state: web::Data<AppState>,
    user: AppUser,
    body: ApiJson<passkeys::PasskeyChange>,
) -> ApiResult<HttpResponse> {
    let ceremony = passkeys::change_challenge(&state, &user.account, body.into_inner()).await?;
    Ok(HttpResponse::Created().json(ceremony))
}

pub async fn request_challenge(
    state: web::Data<AppState>,
    user: AppUser,
    id: web::Path<String>,
) -> ApiResult<HttpResponse> {
    let ceremony = approval::passkey_challenge(&state, &user.account, id.into_inner()).await?;
    Ok(HttpResponse::Created().json(ceremony))
}

pub async fn transfer_challenge(
    state: web::Data<AppState>,
    user: AppUser,
    body: ApiJson<transfers::TransferChallenge>,
) -> ApiResult<HttpResponse> {
    let ceremony = transfers::passkey_challenge(&state, &user.account, body.into_inner()).await?;
    Ok(HttpResponse::Created().json(ceremony))
}

pub async fn payout_challenge(
    state: web::Data<AppState>,
    user: AppUser,
    body: ApiJson<payouts::PayoutChallenge>,
) -> ApiResult<HttpResponse> {
    let ceremony = payouts::passkey_challenge(&state, &user.account, body.into_inner()).await?;
    Ok(HttpResponse::Created().json(ceremony))
}
