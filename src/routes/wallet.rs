//! `/v1/wallet/money-requests…`: the payer's inbox, approval and decline.

use super::extract::{ApiJson, IdempotencyKey};
use super::idempotent::{account_scope, idempotent, json};
use super::pagination::{limit, List};
use crate::auth::{AppToken, AppUser};
use crate::domain::requests::Status;
use crate::error::ApiResult;
use crate::routes::callers::note_caller;
use crate::services::payments::requests::approval;
use crate::state::AppState;
use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest, HttpResponse};
use serde::Deserialize;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct InboxQuery {
    status: Option<Status>,
    limit: Option<i64>,
    starting_after: Option<String>,
}

pub async fn inbox(
    state: web::Data<AppState>,
    user: AppUser,
    query: web::Query<InboxQuery>,
) -> ApiResult<HttpResponse> {
    let q = query.into_inner();
    let (data, has_more) = approval::inbox(
        &state,
        user.account.id,
        q.status,
        q.starting_after,
        limit(q.limit)?,
    )
    .await?;
    Ok(HttpResponse::Ok().json(List { data, has_more }))
}

pub async fn get(
    state: web::Data<AppState>,
    user: AppUser,
    id: web::Path<String>,
) -> ApiResult<HttpResponse> {
    Ok(HttpResponse::Ok().json(approval::get(&state, &user.account, id.into_inner()).await?))
}

/// The wallet's token is admitted in the PIN check's own database turn (see
/// `approval::approve`).
pub async fn approve(
    state: web::Data<AppState>,
    req: HttpRequest,
    token: AppToken,
    id: web::Path<String>,
    key: IdempotencyKey,
    body: ApiJson<approval::ApproveRequest>,
) -> ApiResult<HttpResponse> {
    let raw = body.raw.clone();
    let payer_id = token.account_id()?;
    note_caller(&req, payer_id);
    idempotent(
        &state,
        &req,
        account_scope(payer_id),
        key,
        &raw,
        move |state, seal| async move {
            let hook = seal.hook(|v| Ok((StatusCode::OK, json(v)?)));
            let now = state.clock.now_naive();
            let view = approval::approve(
                &state,
                payer_id,
                move |c, row| token.admit_row(c, row, now),
                id.into_inner(),
                body.into_inner(),
                hook,
            )
            .await?;
            Ok((StatusCode::OK, json(&view)?))
        },
    )
    .await
}

pub async fn decline(
    state: web::Data<AppState>,
    user: AppUser,
    id: web::Path<String>,
    body: ApiJson<approval::DeclineRequest>,
) -> ApiResult<HttpResponse> {
    let view = approval::decline(&state, &user.account, id.into_inner(), body.into_inner()).await?;
    Ok(HttpResponse::Ok().json(view))
}
