//! Refunds of approved requests: full or partial, several allowed, their sum never above
//! the paid amount (the request row is locked while checking), paid from the merchant's
//! balance, free of charge (the original fee is not returned).

use super::view::{refund_view, RefundView};
use super::{find_by_public_id, lock_by_public_id, not_found, record};
use crate::db::accounts as q;
use crate::db::models::Refund;
use crate::db::schema::{money_requests as mr, refunds as rf};
use crate::domain::account::text_field;
use crate::domain::money::Money;
use crate::domain::requests::public_id;
use crate::domain::status::RequestStatus;
use crate::error::{ApiError, ApiResult};
use crate::ledger::{insufficient_funds, Entry, Leg, TxKind};
use crate::services::idempotency::{sealed_tx, OnCommit};
use crate::services::messaging::outbox;
use crate::services::wallet::money;
use crate::services::Context;
use diesel::prelude::*;
use serde::Deserialize;

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct RefundRequest {
    /// Defaults to what is left to refund.
    #[serde(default, deserialize_with = "crate::domain::input::present")]
    pub amount: Option<String>,
    #[serde(default, deserialize_with = "crate::domain::input::present")]
    pub reason: Option<String>,
}

pub async fn refund(
    state: &Context,
    merchant_id: i64,
    request_id: String,
    req: RefundRequest,
    on_commit: OnCommit<RefundView>,
) -> ApiResult<RefundView> {
    let asked = req
        .amount
        .as_deref()
        .map(|a| Money::parse_amount("amount", a))
        .transpose()?;
    let reason = req
        .reason
        .as_deref()
        .map(|r| text_field("reason", r, 140))
        .transpose()?;
    let now = state.clock.now_naive();
    state
        .db
        .run(move |c| {
            sealed_tx(c, on_commit, |c| {
                let row = lock_by_public_id(c, &request_id)?
                    .filter(|r| r.merchant_id == merchant_id)
                    .ok_or_else(not_found)?;
                if row.status != RequestStatus::Approved {
                    return Err(ApiError::conflict(
                        "request_not_refundable",
                        format!(
                            "Only approved requests can be refunded; this one is {}.",
                            row.status
                        ),
                    ));
                }
                let remaining = Money::cents(row.amount - row.refunded_amount);
                if remaining == Money::ZERO {
                    return Err(ApiError::conflict(
                        "fully_refunded",
                        "The money request is already fully refunded.",
                    ));
                }
                let amount = asked.unwrap_or(remaining);
                if amount > remaining {
                    return Err(ApiError::unprocessable(
                        "refund_exceeds_remaining",
                        format!("At most {remaining} EUR is left to refund."),
                    )
                    .with("field", "amount")
                    .with("remaining", remaining.to_string()));
                }
                let payer_id = row.paid_by.ok_or_else(ApiError::internal)?;
                let (merchant, payer) = q::lock_pair(c, merchant_id, payer_id)?;
                if Money::cents(merchant.balance) < amount {
                    return Err(insufficient_funds());
                }
                let description = format!("Refund of {}", row.public_id);
                let txn = money::post(
                    c,
                    Entry {
                        kind: TxKind::Refund,
                        legs: &[
                            Leg::debit(merchant.id, amount),
                            Leg::credit(payer.id, amount),
                        ],
                        related_id: row.payment_transaction_id,
                        external_ref: None,
                        description: Some(&description),
                        factors: None,
                    },
                    now,
                )?;
                diesel::update(mr::table.find(row.id))
                    .set((
                        mr::refunded_amount.eq(mr::refunded_amount + amount.as_cents()),
                        mr::updated_at.eq(now),
                    ))
                    .execute(c)?;
                let refund: Refund = diesel::insert_into(rf::table)
                    .values((
                        rf::public_id.eq(public_id("re")),
                        rf::request_id.eq(row.id),
                        rf::amount.eq(amount.as_cents()),
                        rf::reason.eq(&reason),
                        rf::transaction_id.eq(txn),
                        rf::created_at.eq(now),
                    ))
                    .returning(rf::all_columns)
                    .get_result(c)?;
                record(
                    c,
                    row.id,
                    "refunded",
                    &format!("merchant:{}", merchant.username),
                    Some(&amount.to_string()),
                    now,
                )?;
                let view = refund_view(&refund, &row.public_id);
                let data =
                    serde_json::to_value(&view).map_err(|e| ApiError::internal_from("view", e))?;
                outbox::emit(
                    c,
                    merchant_id,
                    "refund.succeeded",
                    data,
                    row.callback_url.as_deref(),
                    now,
                )?;
                Ok(view)
            })
        })
        .await
}

pub async fn list(
    state: &Context,
    merchant_id: i64,
    request_id: String,
) -> ApiResult<Vec<RefundView>> {
    state
        .db
        .run(move |c| {
            let row = find_by_public_id(c, &request_id)?
                .filter(|r| r.merchant_id == merchant_id)
                .ok_or_else(not_found)?;
            let refunds: Vec<Refund> = rf::table
                .filter(rf::request_id.eq(row.id))
                .order(rf::id.asc())
                .select(Refund::as_select())
                .load(c)?;
            Ok(refunds
                .iter()
                .map(|r| refund_view(r, &row.public_id))
                .collect())
        })
        .await
}
