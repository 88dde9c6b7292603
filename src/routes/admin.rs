//! `/v1/admin/*`: the operator API.

use super::accounts::AccountView;
use super::extract::ApiJson;
use crate::auth::Operator;
use crate::error::ApiResult;
use crate::services::accounts;
use crate::state::AppState;
use actix_web::{web, HttpResponse};

pub async fn set_tier(
    state: web::Data<AppState>,
    _: Operator,
    username: web::Path<String>,
    body: ApiJson<accounts::TierChange>,
) -> ApiResult<HttpResponse> {
    let account = accounts::set_tier(&state, username.into_inner(), body.into_inner()).await?;
    Ok(HttpResponse::Ok().json(AccountView::from(&account)))
}
