//! `/v1/admin/*`: the operator API.

use super::accounts::AccountView;
use super::extract::{ApiJson, ClientIp, IdempotencyKey};
use super::idempotent::{idempotent, json};
use super::pagination::{cursor_text, limit, List};
use crate::auth::Operator;
use crate::error::ApiResult;
use crate::services::operator::audit::Actor;
use crate::services::{
    merchants::review, merchants::tiers, operator::audit, operator::fx, wallet::deposits,
    wallet::payouts,
};
use crate::state::AppState;
use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest, HttpResponse};
use serde_json::Value;

pub async fn set_tier(
    state: web::Data<AppState>,
    _: Operator,
    client: ClientIp,
    username: web::Path<String>,
    body: ApiJson<tiers::TierChange>,
) -> ApiResult<HttpResponse> {
    let actor = Actor::operator(client.0);
    let account = tiers::set_tier(&state, actor, username.into_inner(), body.into_inner()).await?;
    Ok(HttpResponse::Ok().json(AccountView::from(&account)))
}

#[derive(serde::Serialize)]
struct DepositView {
    id: String,
    object: &'static str,
    username: String,
    amount: crate::domain::money::Money,
    currency: &'static str,
    bank_reference: String,
    created_at: String,
}

/// Books a bank transfer in; a repeated bank reference returns the original (200).
pub async fn deposit(
    state: web::Data<AppState>,
    req: HttpRequest,
    _: Operator,
    client: ClientIp,
    key: IdempotencyKey,
    body: ApiJson<deposits::DepositRequest>,
) -> ApiResult<HttpResponse> {
    let raw = body.raw.clone();
    idempotent(
        &state,
        &req,
        "operator".into(),
        key,
        &raw,
        move |state, seal| async move {
            let d = deposits::book(&state, body.into_inner(), seal.hook(deposit_response)).await?;
            if !d.existing {
                let detail =
                    serde_json::json!({"amount": d.amount, "bank_reference": d.bank_reference});
                let target = d.username.clone();
                let actor = Actor::operator(client.0);
                audit::record_after(&state, actor, "deposit.booked", target, Some(detail)).await?;
            }
            deposit_response(&d)
        },
    )
    .await
}

pub async fn verify_ledger(state: web::Data<AppState>, _: Operator) -> ApiResult<HttpResponse> {
    let report = state
        .db
        .run(|c| Ok(crate::ledger::verify::verify(c)?))
        .await?;
    Ok(HttpResponse::Ok().json(report))
}

pub async fn set_fx_rates(
    state: web::Data<AppState>,
    _: Operator,
    client: ClientIp,
    body: ApiJson<fx::RatesUpdate>,
) -> ApiResult<HttpResponse> {
    let rates = fx::update(&state, body.into_inner()).await?;
    let detail = serde_json::to_value(
        rates
            .iter()
            .map(|(c, r)| (c.clone(), r.normalize().to_string()))
            .collect::<std::collections::BTreeMap<_, _>>(),
    )
    .ok();
    audit::record_after(
        &state,
        Actor::operator(client.0),
        "fx_rates.set",
        "EUR".into(),
        detail,
    )
    .await?;
    let rates: std::collections::BTreeMap<String, String> = rates
        .into_iter()
        .map(|(c, r)| (c, r.normalize().to_string()))
        .collect();
    Ok(HttpResponse::Ok().json(serde_json::json!({ "base": "EUR", "rates": rates })))
}

fn deposit_response(d: &deposits::Deposit) -> ApiResult<(StatusCode, Value)> {
    let view = DepositView {
        id: crate::ledger::txn_public_id(d.transaction_id),
        object: "deposit",
        username: d.username.clone(),
        amount: d.amount,
        currency: "EUR",
        bank_reference: d.bank_reference.clone(),
        created_at: super::rfc3339(d.created_at),
    };
    let status = if d.existing {
        StatusCode::OK
    } else {
        StatusCode::CREATED
    };
    Ok((status, json(&view)?))
}

#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ListQuery {
    status: Option<String>,
    starting_after: Option<String>,
    limit: Option<i64>,
}

/// Every payout, newest first; `status=pending` is what the bank integration executes.
pub async fn list_payouts(
    state: web::Data<AppState>,
    _: Operator,
    query: web::Query<ListQuery>,
) -> ApiResult<HttpResponse> {
    let q = query.into_inner();
    let after = cursor_text(q.starting_after)?;
    let (data, has_more) = payouts::list(&state, q.status, after, limit(q.limit)?).await?;
    Ok(HttpResponse::Ok().json(List { data, has_more }))
}

pub async fn execute_payout(
    state: web::Data<AppState>,
    _: Operator,
    client: ClientIp,
    id: web::Path<String>,
) -> ApiResult<HttpResponse> {
    let actor = Actor::operator(client.0);
    Ok(HttpResponse::Ok().json(payouts::mark_executed(&state, actor, id.into_inner()).await?))
}

pub async fn list_applications(
    state: web::Data<AppState>,
    _: Operator,
    query: web::Query<ListQuery>,
) -> ApiResult<HttpResponse> {
    let q = query.into_inner();
    let after = cursor_text(q.starting_after)?;
    let (data, has_more) = review::list(&state, q.status, after, limit(q.limit)?).await?;
    Ok(HttpResponse::Ok().json(List { data, has_more }))
}

pub async fn get_application(
    state: web::Data<AppState>,
    _: Operator,
    id: web::Path<String>,
) -> ApiResult<HttpResponse> {
    Ok(HttpResponse::Ok().json(review::get(&state, id.into_inner()).await?))
}

pub async fn application_document(
    state: web::Data<AppState>,
    _: Operator,
    client: ClientIp,
    path: web::Path<(String, String)>,
) -> ApiResult<HttpResponse> {
    let (application, document) = path.into_inner();
    let actor = Actor::operator(client.0);
    let file = review::operator_document(&state, actor, application, document).await?;
    Ok(super::onboarding::document_response(file))
}

pub async fn accept_application(
    state: web::Data<AppState>,
    _: Operator,
    client: ClientIp,
    id: web::Path<String>,
) -> ApiResult<HttpResponse> {
    let actor = Actor::operator(client.0);
    Ok(HttpResponse::Ok().json(review::accept(&state, actor, id.into_inner()).await?))
}

pub async fn reject_application(
    state: web::Data<AppState>,
    _: Operator,
    client: ClientIp,
    id: web::Path<String>,
    body: ApiJson<review::Rejection>,
) -> ApiResult<HttpResponse> {
    let actor = Actor::operator(client.0);
    let view = review::reject(&state, actor, id.into_inner(), body.into_inner()).await?;
    Ok(HttpResponse::Ok().json(view))
}

#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AuditQuery {
    starting_after: Option<String>,
    limit: Option<i64>,
}

pub async fn audit_log(
    state: web::Data<AppState>,
    _: Operator,
    query: web::Query<AuditQuery>,
) -> ApiResult<HttpResponse> {
    let q = query.into_inner();
    let before = super::pagination::cursor("aud_", q.starting_after.as_deref())?;
    let (data, has_more) = audit::list(&state, before, limit(q.limit)?).await?;
    Ok(HttpResponse::Ok().json(List { data, has_more }))
}
