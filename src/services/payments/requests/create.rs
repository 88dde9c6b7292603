//! Creating money requests, one or in bulk.

use super::record;
use super::view::{merchant_view, Names, RequestView};
use crate::auth::Merchant;
use crate::db::schema::money_requests as mr;
use crate::db::{accounts as q, DbConn};
use crate::domain::account::{text_field, AccountKind};
use crate::domain::fx::{currency_code, to_eur};
use crate::domain::money::Money;
use crate::domain::requests::{
    self, deadline, public_id, Kind, DEFAULT_EXPIRY_SECS, DEFAULT_LINK_EXPIRY_SECS,
};
use crate::domain::status::RequestStatus;
use crate::domain::tiers::{check_amount, limit_exceeded, TierTable};
use crate::error::{ApiError, ApiResult};
use crate::services::idempotency::{sealed_tx, OnCommit};
use crate::services::operator::fx;
use crate::services::Context;
use chrono::{DateTime, Utc};
use diesel::prelude::*;
use serde::Deserialize;
use serde_json::{json, Map, Value};

pub const MAX_BULK: usize = 1000;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CreateRequest {
    /// The payer's username; absent for an open payment link.
    #[serde(default, deserialize_with = "crate::domain::input::present")]
    pub payer: Option<String>,
    pub amount: String,
    #[serde(default, deserialize_with = "crate::domain::input::present")]
    pub currency: Option<String>,
    #[serde(default, deserialize_with = "crate::domain::input::present")]
    pub description: Option<String>,
    #[serde(default, deserialize_with = "crate::domain::input::present")]
    pub reference: Option<String>,
    #[serde(default, deserialize_with = "crate::domain::input::present")]
    pub callback_url: Option<String>,
    #[serde(default, deserialize_with = "crate::domain::input::present")]
    pub expires_in: Option<i64>,
    #[serde(default, deserialize_with = "crate::domain::input::present")]
    pub expires_at: Option<DateTime<Utc>>,
    #[serde(default, deserialize_with = "crate::domain::input::present")]
    pub metadata: Option<Map<String, Value>>,
    /// Where the hosted page sends the browser after the outcome.
    #[serde(default, deserialize_with = "crate::domain::input::present")]
    pub return_url: Option<String>,
}

/// Everything checked before the database is touched.
struct Validated {
    payer: Option<String>,
    amount: Money,
    currency: String,
    description: Option<String>,
    reference: Option<String>,
    callback_url: Option<String>,
    expires_at: DateTime<Utc>,
    metadata: Option<String>,
    return_url: Option<String>,
}

/// The synchronous checks; `callback_url` is left to `create` (its guard resolves names).
fn validate(state: &Context, r: CreateRequest) -> ApiResult<Validated> {
    let amount = Money::parse_amount("amount", &r.amount)?;
    let currency = currency_code("currency", r.currency.as_deref().unwrap_or("EUR"))?;
    let description = r
        .description
        .as_deref()
        .map(|d| text_field("description", d, 140))
        .transpose()?;
    let reference = r
        .reference
        .as_deref()
        .map(|d| text_field("reference", d, 64))
        .transpose()?;
    let default_expiry = if r.payer.is_some() {
        DEFAULT_EXPIRY_SECS
    } else {
        DEFAULT_LINK_EXPIRY_SECS
    };
    let expires_at = deadline(
        state.clock.now(),
        r.expires_in,
        r.expires_at,
        default_expiry,
    )?;
    let metadata = r.metadata.as_ref().map(requests::metadata).transpose()?;
    let return_url = r
        .return_url
        .as_deref()
        .map(|u| requests::return_url(u, state.config.callback_allow_private))
        .transpose()?;
    let payer = r.payer.map(|p| p.to_ascii_lowercase());
    Ok(Validated {
        payer,
        amount,
        currency,
        description,
        reference,
        callback_url: None,
        expires_at,
        metadata,
        return_url,
    })
}

pub async fn create(
    state: &Context,
    merchant: &Merchant,
    r: CreateRequest,
    on_commit: OnCommit<RequestView>,
) -> ApiResult<RequestView> {
    let v = prepare(state, merchant, r).await?;
    let target = Target::new(state, merchant);
    let view = state
        .db
        .run(move |c| sealed_tx(c, on_commit, |c| target.insert(c, v)))
        .await?;
    state.metrics.money_request("created", 1);
    Ok(view)
}

/// Where new requests go: the merchant, its tier table and the time of creation.
struct Target {
    tiers: std::sync::Arc<TierTable>,
    merchant_id: i64,
    now: chrono::NaiveDateTime,
    public_url: String,
}

impl Target {
    fn new(state: &Context, merchant: &Merchant) -> Self {
        Self {
            tiers: state.tiers.clone(),
            merchant_id: merchant.account.id,
            now: state.clock.now_naive(),
            public_url: state.config.public_url.clone(),
        }
    }

    fn insert(&self, c: &mut DbConn, v: Validated) -> ApiResult<RequestView> {
        insert(
            c,
            &self.tiers,
            self.merchant_id,
            v,
            self.now,
            &self.public_url,
        )
    }
}

/// Every check that needs no transaction: the fields, then the callback URL (its guard
/// resolves names).
async fn prepare(state: &Context, merchant: &Merchant, r: CreateRequest) -> ApiResult<Validated> {
    let raw_url = r.callback_url.clone();
    let mut v = validate(state, r)?;
    v.callback_url = match raw_url {
        Some(_) if !merchant.via_api() => {
            return Err(ApiError::invalid_field(
                "callback_url",
                "callback_url can be set only with a merchant API token",
            ))
        }
        Some(raw) => Some(
            crate::services::messaging::callback_settings::validate_url(
                state,
                &raw,
                "callback_url",
            )
            .await?,
        ),
        None => None,
    };
    Ok(v)
}

fn insert(
    c: &mut DbConn,
    tiers: &TierTable,
    merchant_id: i64,
    v: Validated,
    now: chrono::NaiveDateTime,
    public_url: &str,
) -> ApiResult<RequestView> {
    let merchant = q::find(c, merchant_id)?.ok_or_else(ApiError::internal)?;
    if let Some(url) = &v.return_url {
        crate::services::payments::links::check_return_url(c, merchant_id, url)?;
    }
    let (eur, original) = if v.currency == "EUR" {
        (v.amount, None)
    } else {
        let rate = fx::rate(c, &v.currency)?;
        (
            to_eur(v.amount, rate)?,
            Some((
                v.amount.to_string(),
                v.currency.clone(),
                rate.normalize().to_string(),
            )),
        )
    };
    let rules = tiers.for_kind(AccountKind::from_db(&merchant.kind));
    check_amount(
        rules.limits.min_per_transaction,
        "max_per_transaction",
        rules.limits.max_per_transaction,
        eur,
    )?;
    let payer_id = match &v.payer {
        None => None,
        Some(name) => {
            let payer = q::find_by_username(c, name)?
                .filter(|a| AccountKind::from_db(&a.kind) != AccountKind::System)
                .ok_or_else(|| {
                    ApiError::unprocessable("unknown_payer", "No wallet has this username.")
                        .with("field", "payer")
                })?;
            if payer.id == merchant.id {
                return Err(ApiError::invalid_field(
                    "payer",
                    "A merchant cannot request money from itself.",
                ));
            }
            if tiers
                .for_kind(AccountKind::from_db(&payer.kind))
                .limits
                .purchases_per_day
                == Some(0)
            {
                return Err(
                    limit_exceeded("purchases_per_day", json!(0), json!(0)).with("party", "payer")
                );
            }
            Some(payer.id)
        }
    };
    let fee = rules.fees.receive_fee(eur);
    let (original_amount, original_currency, exchange_rate) = match original {
        Some((a, c, r)) => (Some(a), Some(c), Some(r)),
        None => (None, None, None),
    };
    let id: i64 = diesel::insert_into(mr::table)
        .values((
            mr::public_id.eq(public_id("mr")),
            mr::merchant_id.eq(merchant.id),
            mr::payer_id.eq(payer_id),
            mr::status.eq(RequestStatus::Pending.as_str()),
            mr::amount.eq(eur.as_cents()),
            mr::fee.eq(fee.as_cents()),
            mr::original_amount.eq(original_amount),
            mr::original_currency.eq(original_currency),
            mr::exchange_rate.eq(exchange_rate),
            mr::description.eq(v.description),
            mr::reference.eq(v.reference),
            mr::callback_url.eq(v.callback_url),
            mr::metadata.eq(v.metadata),
            mr::expires_at.eq(v.expires_at.naive_utc()),
            mr::kind.eq(match payer_id {
                Some(_) => Kind::Addressed.as_str(),
                None => Kind::Link.as_str(),
            }),
            mr::return_url.eq(v.return_url),
            mr::created_at.eq(now),
            mr::updated_at.eq(now),
        ))
        .returning(mr::id)
        .get_result(c)?;
    record(
        c,
        id,
        "created",
        &format!("merchant:{}", merchant.username),
        None,
        now,
    )?;
    let row = super::reload(c, id)?;
    if let Some(payer) = row.payer_id {
        crate::db::changes::note(c, &row.public_id, row.payer_id)?;
        super::push_to(c, payer, &row, now)?;
    }
    merchant_view(c, &mut Names::default(), &row, public_url)
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BulkRequest {
    /// Objects, each validated on its own as a `CreateRequest`.
    pub requests: Vec<Map<String, Value>>,
}

/// Validates each item on its own; creates the valid ones together in one transaction
/// (all or none), so a call interrupted at any point leaves nothing or everything, and
/// its stored outcome commits with them.
pub async fn create_bulk(
    state: &Context,
    merchant: &Merchant,
    bulk: BulkRequest,
    on_commit: OnCommit<Value>,
) -> ApiResult<Value> {
    if !state
        .tiers
        .for_kind(AccountKind::from_db(&merchant.account.kind))
        .bulk_entry
    {
        return Err(ApiError::forbidden(
            "bulk_requires_corporate_plus",
            "Bulk entry is for Corporate+ merchants.",
        ));
    }
    if bulk.requests.is_empty() || bulk.requests.len() > MAX_BULK {
        return Err(ApiError::invalid_field(
            "requests",
            format!("give between 1 and {MAX_BULK} requests"),
        ));
    }
    let mut items = Vec::with_capacity(bulk.requests.len());
    for item in bulk.requests {
        items.push(
            match serde_json::from_value::<CreateRequest>(Value::Object(item)) {
                Ok(r) => prepare(state, merchant, r).await,
                Err(e) => Err(ApiError::unprocessable(
                    "invalid_body",
                    format!("The item does not match the schema: {e}"),
                )),
            },
        );
    }
    let target = Target::new(state, merchant);
    let outcome = state
        .db
        .run(move |c| {
            sealed_tx(c, on_commit, |c| {
                let mut results = Vec::with_capacity(items.len());
                let (mut created, mut failed) = (0, 0);
                for (index, item) in items.into_iter().enumerate() {
                    // Each item in a savepoint: one refused item leaves no trace.
                    let outcome = item.and_then(|v| c.transaction(|c| target.insert(c, v)));
                    results.push(match outcome {
                        Ok(view) => {
                            created += 1;
                            json!({"index": index, "status": 201, "money_request": view})
                        }
                        Err(e) if e.status.is_client_error() => {
                            failed += 1;
                            json!({"index": index, "status": e.status.as_u16(), "error": e.body()})
                        }
                        Err(e) => return Err(e),
                    });
                }
                Ok(json!({"data": results, "created": created, "failed": failed}))
            })
        })
        .await?;
    let created = outcome["created"].as_u64().unwrap_or(0);
    state.metrics.money_request("created", created);
    Ok(outcome)
}
