//! `/v1/admin/*`: the operator API.

use super::accounts::AccountView;
use super::extract::{ApiJson, IdempotencyKey};
use super::idempotent::{idempotent, json};
use crate::auth::Operator;
use crate::error::ApiResult;
use crate::services::{accounts, deposits, fx};
use crate::state::AppState;
use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest, HttpResponse};
use serde_json::Value;

pub async fn set_tier(
    state: web::Data<AppState>,
    _: Operator,
    username: web::Path<String>,
    body: ApiJson<accounts::TierChange>,
) -> ApiResult<HttpResponse> {
    let account = accounts::set_tier(&state, username.into_inner(), body.into_inner()).await?;
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
    body: ApiJson<fx::RatesUpdate>,
) -> ApiResult<HttpResponse> {
    let rates = fx::update(&state, body.into_inner()).await?;
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
