//! The money-request object as merchants, payers and callbacks see it.

use crate::db::accounts;
use crate::db::models::{Account, MoneyRequest, Refund};
use crate::db::DbConn;
use crate::domain::money::Money;
use crate::domain::time::rfc3339;
use crate::error::ApiResult;
use serde::Serialize;
use serde_json::Value;
use std::collections::HashMap;

#[derive(Serialize, Clone, Debug)]
pub struct RequestView {
    pub id: String,
    pub object: &'static str,
    pub status: crate::domain::status::RequestStatus,
    pub merchant: String,
    pub payer: Option<String>,
    pub amount: Money,
    pub currency: &'static str,
    pub original_amount: Option<String>,
    pub original_currency: Option<String>,
    pub exchange_rate: Option<String>,
    pub description: Option<String>,
    pub reference: Option<String>,
    pub expires_at: String,
    pub pay_url: String,
    /// `link` (created without a payer) or `addressed`.
    pub kind: String,
    pub refunded_amount: Money,
    pub paid_by: Option<String>,
    pub decline_reason_code: Option<String>,
    pub decline_reason: Option<String>,
    pub resolved_at: Option<String>,
    pub created_at: String,
    /// Merchant-only fields, left out of the payer's view.
    #[serde(flatten, skip_serializing_if = "Option::is_none")]
    pub merchant_fields: Option<MerchantFields>,
}

#[derive(Serialize, Clone, Debug)]
pub struct MerchantFields {
    pub fee: Money,
    pub net_amount: Money,
    pub metadata: Option<Value>,
    pub callback_url: Option<String>,
    pub return_url: Option<String>,
}

impl RequestView {
    /// The payer's view of a merchant's view: the merchant-only fields left out.
    pub fn for_payer(mut self) -> Self {
        self.merchant_fields = None;
        self
    }
}

/// Resolves account ids to usernames once per call.
#[derive(Default)]
pub struct Names(HashMap<i64, String>);

impl Names {
    /// Names the caller already holds (its own account, the accounts it locked): no
    /// lookup for them.
    pub fn knowing(accounts: &[&Account]) -> Self {
        Self(
            accounts
                .iter()
                .map(|a| (a.id, a.username.clone()))
                .collect(),
        )
    }

    /// A name read along with other data (a join).
    pub fn add(&mut self, id: Option<i64>, name: Option<String>) {
        if let (Some(id), Some(name)) = (id, name) {
            self.0.insert(id, name);
        }
    }

    pub fn get(&mut self, c: &mut DbConn, id: Option<i64>) -> ApiResult<Option<String>> {
        let Some(id) = id else { return Ok(None) };
        if let Some(n) = self.0.get(&id) {
            return Ok(Some(n.clone()));
        }
        let name = accounts::find(c, id)?.map(|a| a.username);
        if let Some(n) = &name {
            self.0.insert(id, n.clone());
        }
        Ok(name)
    }
}

pub fn merchant_view(
    c: &mut DbConn,
    names: &mut Names,
    r: &MoneyRequest,
    public_url: &str,
) -> ApiResult<RequestView> {
    let mut v = payer_view(c, names, r, public_url)?;
    v.merchant_fields = Some(MerchantFields {
        fee: Money::cents(r.fee),
        net_amount: Money::cents(r.amount - r.fee),
        metadata: r
            .metadata
            .as_deref()
            .and_then(|m| serde_json::from_str(m).ok()),
        callback_url: r.callback_url.clone(),
        return_url: r.return_url.clone(),
    });
    Ok(v)
}

pub fn payer_view(
    c: &mut DbConn,
    names: &mut Names,
    r: &MoneyRequest,
    public_url: &str,
) -> ApiResult<RequestView> {
    Ok(RequestView {
        id: r.public_id.clone(),
        object: "money_request",
        status: r.status,
        merchant: names.get(c, Some(r.merchant_id))?.unwrap_or_default(),
        payer: names.get(c, r.payer_id)?,
        amount: Money::cents(r.amount),
        currency: "EUR",
        original_amount: r.original_amount.clone(),
        original_currency: r.original_currency.clone(),
        exchange_rate: r.exchange_rate.clone(),
        description: r.description.clone(),
        reference: r.reference.clone(),
        expires_at: rfc3339(r.expires_at),
        pay_url: format!("{public_url}/pay/{}", r.public_id),
        kind: r.kind.clone(),
        refunded_amount: Money::cents(r.refunded_amount),
        paid_by: names.get(c, r.paid_by)?,
        decline_reason_code: r.decline_reason_code.clone(),
        decline_reason: r.decline_reason.clone(),
        resolved_at: r.resolved_at.map(rfc3339),
        created_at: rfc3339(r.created_at),
        merchant_fields: None,
    })
}

#[derive(Serialize, Clone, Debug)]
pub struct RefundView {
    pub id: String,
    pub object: &'static str,
    pub money_request: String,
    pub amount: Money,
    pub currency: &'static str,
    pub reason: Option<String>,
    pub status: &'static str,
    pub created_at: String,
}

pub fn refund_view(r: &Refund, request_public_id: &str) -> RefundView {
    RefundView {
        id: r.public_id.clone(),
        object: "refund",
        money_request: request_public_id.to_string(),
        amount: Money::cents(r.amount),
        currency: "EUR",
        reason: r.reason.clone(),
        status: "succeeded",
        created_at: rfc3339(r.created_at),
    }
}
