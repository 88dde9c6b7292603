//! `/v1/balance`, `/v1/transactions`, `/v1/transactions.csv` and `.xlsx`, `/v1/fees`,
//! `/v1/transfers`, `/v1/payouts`.

use super::extract::{ApiJson, IdempotencyKey};
use super::idempotent::{account_scope, idempotent, json};
use super::pagination::{cursor, limit, List};
use super::rfc3339;
use crate::auth::{AnyCaller, AppUser};
use crate::documents::table::{self, Cell};
use crate::domain::account::AccountKind;
use crate::domain::money::Money;
use crate::domain::tiers::TierRules;
use crate::error::{ApiError, ApiResult};
use crate::ledger::history::{Filter, Item};
use crate::ledger::{txn_public_id, TxKind};
use crate::services::{wallet::payouts, wallet::statements, wallet::transfers};
use crate::state::AppState;
use actix_web::http::{header, StatusCode};
use actix_web::{web, HttpRequest, HttpResponse};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;

#[derive(Serialize)]
struct BalanceView {
    balance: Money,
    currency: &'static str,
    period: PeriodView,
    amount: Money,
    usage: Money,
}

#[derive(Serialize)]
struct PeriodView {
    start: String,
    end: String,
}

pub async fn balance(state: web::Data<AppState>, caller: AnyCaller) -> ApiResult<HttpResponse> {
    let b = statements::balance(&state, caller.account.id).await?;
    Ok(HttpResponse::Ok().json(BalanceView {
        balance: b.balance,
        currency: "EUR",
        period: PeriodView {
            start: rfc3339(b.period.start),
            end: rfc3339(b.period.end),
        },
        amount: b.amount,
        usage: b.usage,
    }))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HistoryQuery {
    kind: Option<TxKind>,
    from: Option<DateTime<Utc>>,
    to: Option<DateTime<Utc>>,
    limit: Option<i64>,
    starting_after: Option<String>,
}

impl HistoryQuery {
    fn filter(&self) -> ApiResult<Filter> {
        if let (Some(from), Some(to)) = (self.from, self.to) {
            if from > to {
                return Err(
                    ApiError::unprocessable("invalid_range", "from must not be after to")
                        .with("field", "from"),
                );
            }
        }
        Ok(Filter {
            kind: self.kind,
            from: self.from.map(|t| t.naive_utc()),
            to: self.to.map(|t| t.naive_utc()),
        })
    }
}

#[derive(Serialize)]
struct PostingView {
    id: String,
    transaction_id: String,
    kind: String,
    amount: Money,
    currency: &'static str,
    counterparty: Option<String>,
    description: Option<String>,
    related_transaction_id: Option<String>,
    created_at: String,
}

impl From<Item> for PostingView {
    fn from(i: Item) -> Self {
        Self {
            id: format!("pst_{}", i.posting.id),
            transaction_id: txn_public_id(i.posting.transaction_id),
            kind: i.posting.kind,
            amount: Money::cents(i.posting.amount),
            currency: "EUR",
            counterparty: i.counterparty,
            description: i.description,
            related_transaction_id: i.related_id.map(txn_public_id),
            created_at: rfc3339(i.posting.created_at),
        }
    }
}

pub async fn transactions(
    state: web::Data<AppState>,
    caller: AnyCaller,
    query: web::Query<HistoryQuery>,
) -> ApiResult<HttpResponse> {
    let filter = query.filter()?;
    let (limit, before) = (
        limit(query.limit)?,
        cursor("pst_", query.starting_after.as_deref())?,
    );
    let (items, has_more) =
        statements::history_page(&state, caller.account.id, filter, before, limit).await?;
    let data = items.into_iter().map(PostingView::from).collect();
    Ok(HttpResponse::Ok().json(List::<PostingView> { data, has_more }))
}

pub async fn transactions_csv(
    state: web::Data<AppState>,
    caller: AnyCaller,
    query: web::Query<HistoryQuery>,
) -> ApiResult<HttpResponse> {
    let (header_row, rows) = activity(&state, &caller, &query).await?;
    Ok(HttpResponse::Ok()
        .content_type("text/csv; charset=utf-8")
        .insert_header((
            header::CONTENT_DISPOSITION,
            "attachment; filename=\"transactions.csv\"",
        ))
        .body(table::csv(&header_row, &rows)))
}

/// The activity export as a spreadsheet (seed 000's "Account-Aktivität").
pub async fn transactions_xlsx(
    state: web::Data<AppState>,
    caller: AnyCaller,
    query: web::Query<HistoryQuery>,
) -> ApiResult<HttpResponse> {
    let (header_row, rows) = activity(&state, &caller, &query).await?;
    let book = table::xlsx("Activity", &[], &header_row, &rows)
        .map_err(|e| ApiError::internal_from("writing the workbook failed", e))?;
    Ok(HttpResponse::Ok()
        .content_type("application/vnd.openxmlformats-officedocument.spreadsheetml.sheet")
        .insert_header((
            header::CONTENT_DISPOSITION,
            "attachment; filename=\"transactions.xlsx\"",
        ))
        .body(book))
}

/// The export's table: every posting the filter selects, newest first.
async fn activity(
    state: &AppState,
    caller: &AnyCaller,
    query: &HistoryQuery,
) -> ApiResult<([&'static str; 8], Vec<Vec<Cell>>)> {
    if query.limit.is_some() || query.starting_after.is_some() {
        return Err(ApiError::bad_request(
            "invalid_query",
            "the export takes kind, from and to only",
        ));
    }
    let items = statements::history_all(state, caller.account.id, query.filter()?).await?;
    let rows = items
        .into_iter()
        .map(|item| {
            let v = PostingView::from(item);
            vec![
                v.id.into(),
                v.transaction_id.into(),
                v.created_at.into(),
                v.kind.into(),
                v.amount.into(),
                v.currency.into(),
                v.counterparty.into(),
                v.description.into(),
            ]
        })
        .collect();
    let header_row = [
        "id",
        "transaction_id",
        "created_at",
        "kind",
        "amount",
        "currency",
        "counterparty",
        "description",
    ];
    Ok((header_row, rows))
}

#[derive(Serialize)]
struct FeesView<'a> {
    tier: &'static str,
    currency: &'static str,
    #[serde(flatten)]
    rules: &'a TierRules,
}

pub async fn fees(state: web::Data<AppState>, caller: AnyCaller) -> HttpResponse {
    let kind = AccountKind::from_db(&caller.account.kind);
    HttpResponse::Ok().json(FeesView {
        tier: kind.as_str(),
        currency: "EUR",
        rules: state.tiers.for_kind(kind),
    })
}

#[derive(Serialize)]
struct TransferView {
    id: String,
    object: &'static str,
    to: String,
    amount: Money,
    fee: Money,
    currency: &'static str,
    description: Option<String>,
    created_at: String,
}

pub async fn transfer(
    state: web::Data<AppState>,
    req: HttpRequest,
    user: AppUser,
    key: IdempotencyKey,
    body: ApiJson<transfers::TransferRequest>,
) -> ApiResult<HttpResponse> {
    let raw = body.raw.clone();
    idempotent(
        &state,
        &req,
        account_scope(user.account.id),
        key,
        &raw,
        move |state, seal| async move {
            let t = transfers::send(
                &state,
                &user.account,
                body.into_inner(),
                seal.hook(transfer_response),
            )
            .await?;
            transfer_response(&t)
        },
    )
    .await
}

fn transfer_response(t: &transfers::Transfer) -> ApiResult<(StatusCode, Value)> {
    let view = TransferView {
        id: txn_public_id(t.transaction_id),
        object: "transfer",
        to: t.to.clone(),
        amount: t.amount,
        fee: t.fee,
        currency: "EUR",
        description: t.description.clone(),
        created_at: rfc3339(t.created_at),
    };
    Ok((StatusCode::CREATED, json(&view)?))
}

#[derive(Serialize)]
struct PayoutView {
    id: String,
    object: &'static str,
    amount: Money,
    fee: Money,
    currency: &'static str,
    iban: String,
    created_at: String,
}

pub async fn payout(
    state: web::Data<AppState>,
    req: HttpRequest,
    user: AppUser,
    key: IdempotencyKey,
    body: ApiJson<payouts::PayoutRequest>,
) -> ApiResult<HttpResponse> {
    let raw = body.raw.clone();
    idempotent(
        &state,
        &req,
        account_scope(user.account.id),
        key,
        &raw,
        move |state, seal| async move {
            let p = payouts::withdraw(
                &state,
                &user.account,
                body.into_inner(),
                seal.hook(payout_response),
            )
            .await?;
            payout_response(&p)
        },
    )
    .await
}

fn payout_response(p: &payouts::Payout) -> ApiResult<(StatusCode, Value)> {
    let view = PayoutView {
        id: txn_public_id(p.transaction_id),
        object: "payout",
        amount: p.amount,
        fee: p.fee,
        currency: "EUR",
        iban: p.iban.clone(),
        created_at: rfc3339(p.created_at),
    };
    Ok((StatusCode::CREATED, json(&view)?))
}
