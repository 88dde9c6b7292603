//! The exchange-rate table: shipped defaults overlaid with the operator's rates.

use crate::db::schema::fx_rates;
use crate::db::{write_tx, DbConn};
use crate::domain::fx::{currency_code, default_rates, parse_rate};
use crate::error::{ApiError, ApiResult};
use crate::services::Context;
use diesel::prelude::*;
use rust_decimal::Decimal;
use serde::Deserialize;
use std::collections::BTreeMap;
use std::str::FromStr;

/// Every known rate (units per 1 EUR).
pub fn table(c: &mut DbConn) -> ApiResult<BTreeMap<String, Decimal>> {
    let mut rates = default_rates();
    let stored: Vec<(String, String)> = fx_rates::table
        .select((fx_rates::currency, fx_rates::rate))
        .load(c)?;
    for (currency, rate) in stored {
        let rate =
            Decimal::from_str(&rate).map_err(|e| ApiError::internal_from("stored fx rate", e))?;
        rates.insert(currency, rate);
    }
    Ok(rates)
}

pub fn rate(c: &mut DbConn, currency: &str) -> ApiResult<Decimal> {
    table(c)?.remove(currency).ok_or_else(|| {
        ApiError::unprocessable(
            "unsupported_currency",
            format!("No exchange rate for {currency}."),
        )
        .with("field", "currency")
    })
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RatesUpdate {
    pub rates: BTreeMap<String, String>,
}

/// Operator: sets the given rates (others keep their value); returns the whole table.
pub async fn update(state: &Context, update: RatesUpdate) -> ApiResult<BTreeMap<String, Decimal>> {
    if update.rates.is_empty() || update.rates.len() > 200 {
        return Err(ApiError::invalid_field(
            "rates",
            "give between 1 and 200 rates",
        ));
    }
    let mut parsed = Vec::new();
    for (currency, raw) in &update.rates {
        let code = currency_code("rates", currency)?;
        if code == "EUR" {
            return Err(ApiError::invalid_field(
                "rates",
                "EUR is the ledger currency; its rate is 1",
            ));
        }
        parsed.push((
            code.clone(),
            parse_rate(&code, raw)?.normalize().to_string(),
        ));
    }
    let now = state.clock.now_naive();
    state
        .db
        .run(move |c| {
            write_tx(c, |c| {
                for (currency, rate) in &parsed {
                    diesel::delete(fx_rates::table.find(currency)).execute(c)?;
                    diesel::insert_into(fx_rates::table)
                        .values((
                            fx_rates::currency.eq(currency),
                            fx_rates::rate.eq(rate),
                            fx_rates::updated_at.eq(now),
                        ))
                        .execute(c)?;
                }
                table(c)
            })
        })
        .await
}
