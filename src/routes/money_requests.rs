//! `/v1/money-requests…`: the merchant's side.

use super::extract::{ApiJson, IdempotencyKey};
use super::idempotent::{account_scope, idempotent, json};
use super::pagination::{limit, List};
use super::rfc3339;
use crate::auth::{Merchant, MerchantApi, MerchantToken};
use crate::domain::requests::{Kind, Status};
use crate::error::ApiResult;
use crate::routes::callers::note_caller;
use crate::services::payments::requests::{create, merchant, refunds};
use crate::services::{payments::link_sends, payments::links};
use crate::state::AppState;
use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest, HttpResponse};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;

pub async fn create(
    state: web::Data<AppState>,
    req: HttpRequest,
    caller: Merchant,
    key: IdempotencyKey,
    body: ApiJson<create::CreateRequest>,
) -> ApiResult<HttpResponse> {
    let raw = body.raw.clone();
    idempotent(
        &state,
        &req,
        account_scope(caller.account.id),
        key,
        &raw,
        move |state, seal| async move {
            let hook = seal.hook(|v| Ok((StatusCode::CREATED, json(v)?)));
            let view = create::create(&state, &caller, body.into_inner(), hook).await?;
            Ok((StatusCode::CREATED, json(&view)?))
        },
    )
    .await
}

pub async fn create_bulk(
    state: web::Data<AppState>,
    req: HttpRequest,
    caller: MerchantApi,
    key: IdempotencyKey,
    body: ApiJson<create::BulkRequest>,
) -> ApiResult<HttpResponse> {
    let caller = Merchant::from_api(caller);
    let raw = body.raw.clone();
    idempotent(
        &state,
        &req,
        account_scope(caller.account.id),
        key,
        &raw,
        move |state, seal| async move {
            let hook = seal.hook(|v: &Value| Ok((StatusCode::OK, v.clone())));
            let results = create::create_bulk(&state, &caller, body.into_inner(), hook).await?;
            Ok((StatusCode::OK, results))
        },
    )
    .await
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ListQuery {
    status: Option<Status>,
    kind: Option<Kind>,
    reference: Option<String>,
    payer: Option<String>,
    created_from: Option<DateTime<Utc>>,
    created_to: Option<DateTime<Utc>>,
    limit: Option<i64>,
    starting_after: Option<String>,
}

pub async fn list(
    state: web::Data<AppState>,
    caller: Merchant,
    query: web::Query<ListQuery>,
) -> ApiResult<HttpResponse> {
    let q = query.into_inner();
    let limit = limit(q.limit)?;
    let filter = merchant::ListFilter {
        status: q.status,
        kind: q.kind,
        reference: q.reference,
        payer: q.payer.map(|p| p.to_ascii_lowercase()),
        created_from: q.created_from.map(|t| t.naive_utc()),
        created_to: q.created_to.map(|t| t.naive_utc()),
    };
    let (data, has_more) =
        merchant::list(&state, caller.account.id, filter, q.starting_after, limit).await?;
    Ok(HttpResponse::Ok().json(List { data, has_more }))
}

pub async fn get(
    state: web::Data<AppState>,
    req: HttpRequest,
    token: MerchantToken,
    id: web::Path<String>,
) -> ApiResult<HttpResponse> {
    let (caller, view) = merchant::get_by_token(&state, token, id.into_inner()).await?;
    note_caller(&req, caller);
    Ok(HttpResponse::Ok().json(view?))
}

pub async fn cancel(
    state: web::Data<AppState>,
    caller: Merchant,
    id: web::Path<String>,
) -> ApiResult<HttpResponse> {
    let view = merchant::cancel(
        &state,
        caller.account.id,
        caller.account.username.clone(),
        id.into_inner(),
    )
    .await?;
    Ok(HttpResponse::Ok().json(view))
}

#[derive(Serialize)]
struct EventView {
    #[serde(rename = "type")]
    event_type: String,
    actor: String,
    detail: Option<String>,
    created_at: String,
}

pub async fn events(
    state: web::Data<AppState>,
    caller: Merchant,
    id: web::Path<String>,
) -> ApiResult<HttpResponse> {
    let events = merchant::events(&state, caller.account.id, id.into_inner()).await?;
    let data = events
        .into_iter()
        .map(|e| EventView {
            event_type: e.event_type,
            actor: e.actor,
            detail: e.detail,
            created_at: rfc3339(e.created_at),
        })
        .collect();
    Ok(HttpResponse::Ok().json(List::<EventView> {
        data,
        has_more: false,
    }))
}

pub async fn refund(
    state: web::Data<AppState>,
    req: HttpRequest,
    caller: Merchant,
    id: web::Path<String>,
    key: IdempotencyKey,
    body: ApiJson<refunds::RefundRequest>,
) -> ApiResult<HttpResponse> {
    let raw = body.raw.clone();
    idempotent(
        &state,
        &req,
        account_scope(caller.account.id),
        key,
        &raw,
        move |state, seal| async move {
            let view = refunds::refund(
                &state,
                caller.account.id,
                id.into_inner(),
                body.into_inner(),
                seal.hook(|v| Ok((StatusCode::CREATED, json(v)?))),
            )
            .await?;
            Ok((StatusCode::CREATED, json(&view)?))
        },
    )
    .await
}

pub async fn list_refunds(
    state: web::Data<AppState>,
    caller: Merchant,
    id: web::Path<String>,
) -> ApiResult<HttpResponse> {
    let data = refunds::list(&state, caller.account.id, id.into_inner()).await?;
    Ok(HttpResponse::Ok().json(List {
        data,
        has_more: false,
    }))
}

/// `POST /v1/money-requests/{id}/send`: queues the link for e-mail or SMS (202).
pub async fn send(
    state: web::Data<AppState>,
    req: HttpRequest,
    caller: Merchant,
    id: web::Path<String>,
    key: IdempotencyKey,
    body: ApiJson<link_sends::SendRequest>,
) -> ApiResult<HttpResponse> {
    let raw = body.raw.clone();
    idempotent(
        &state,
        &req,
        account_scope(caller.account.id),
        key,
        &raw,
        move |state, _seal| async move {
            let view = link_sends::queue(
                &state,
                caller.account.id,
                id.into_inner(),
                body.into_inner(),
            )
            .await?;
            Ok((StatusCode::ACCEPTED, json(&view)?))
        },
    )
    .await
}

/// `GET /v1/hosted-page`: the hosted page's settings (which origins may embed it).
pub async fn hosted_page(state: web::Data<AppState>, caller: Merchant) -> ApiResult<HttpResponse> {
    Ok(HttpResponse::Ok().json(links::settings(&state, caller.account.id).await?))
}

/// `PUT /v1/hosted-page`: `{frame_ancestors: ["https://shop.example"]}`.
pub async fn set_hosted_page(
    state: web::Data<AppState>,
    caller: Merchant,
    body: ApiJson<links::HostedPageSettings>,
) -> ApiResult<HttpResponse> {
    super::not_superseded(caller.superseded())?;
    Ok(HttpResponse::Ok()
        .json(links::set_settings(&state, caller.account.id, body.into_inner()).await?))
}
