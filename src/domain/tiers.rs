//! The fee and limit table (SPEC §5) as data: shipped in the binary (`tiers.json`),
//! replaceable by a file named in `PINPAY_TIERS_FILE`. Fee arithmetic and the
//! `limit_exceeded` rule live here; counting the usage is the ledger's job.

use super::account::AccountKind;
use super::money::Money;
use crate::error::ApiError;
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};
use serde_json::json;

const SHIPPED: &str = include_str!("tiers.json");

#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Fees {
    /// Receiving up to and including this amount is free.
    pub receive_free_up_to: Money,
    /// Percentage of the received amount (e.g. `1.5` = 1.5 %).
    pub receive_percent: Decimal,
    pub receive_fixed: Money,
    pub payout: Money,
    pub request: Money,
    pub send_to_private: Money,
    pub send_to_merchant: Money,
    pub deposit: Money,
    /// `null`: the tier cannot be upgraded.
    pub upgrade: Option<Money>,
}

/// `null` means unlimited; a count of 0 means not allowed.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Limits {
    pub deposits_per_day: Option<i64>,
    pub deposit_total_per_year: Option<Money>,
    pub payout_total_per_year: Option<Money>,
    pub purchases_per_day: Option<i64>,
    pub transactions_per_day: Option<i64>,
    pub max_per_transaction: Option<Money>,
    pub payouts_per_day: Option<i64>,
    pub max_payout_per_transaction: Option<Money>,
    pub min_per_transaction: Option<Money>,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TierRules {
    pub fees: Fees,
    pub limits: Limits,
    pub api_access: bool,
    pub bulk_entry: bool,
}

#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TierTable {
    pub private: TierRules,
    pub corporate: TierRules,
    pub corporate_plus: TierRules,
}

impl TierTable {
    pub fn shipped() -> Self {
        Self::from_json(SHIPPED).expect("the shipped tier table is valid")
    }

    pub fn from_json(text: &str) -> Result<Self, String> {
        serde_json::from_str(text).map_err(|e| format!("tier table: {e}"))
    }

    /// The rules of an account kind (system accounts follow the private column: no fees).
    pub fn for_kind(&self, kind: AccountKind) -> &TierRules {
        match kind {
            AccountKind::Corporate => &self.corporate,
            AccountKind::CorporatePlus => &self.corporate_plus,
            AccountKind::Private | AccountKind::System => &self.private,
        }
    }
}

impl Fees {
    /// The fee for receiving `amount`: free up to the threshold (inclusive), otherwise
    /// percent + fixed, rounded half-up to the cent once at the end.
    pub fn receive_fee(&self, amount: Money) -> Money {
        if amount <= self.receive_free_up_to {
            return Money::ZERO;
        }
        let fee = amount.to_decimal() * self.receive_percent / Decimal::ONE_HUNDRED
            + self.receive_fixed.to_decimal();
        Money::from_decimal_half_up(fee)
    }

    /// The fee for sending money to an account of kind `to`.
    pub fn send_fee(&self, to: AccountKind) -> Money {
        if to.is_merchant() {
            self.send_to_merchant
        } else {
            self.send_to_private
        }
    }
}

/// 422 `limit_exceeded`, naming the limit, its value and the current usage.
pub fn limit_exceeded(limit: &str, value: serde_json::Value, usage: serde_json::Value) -> ApiError {
    ApiError::unprocessable(
        "limit_exceeded",
        format!("This would exceed the {limit} limit of your tier."),
    )
    .with("limit", limit)
    .with("value", value)
    .with("usage", usage)
}

/// A count limit: `used` so far plus this one must stay within `max`.
pub fn check_count(limit: &str, max: Option<i64>, used: i64) -> Result<(), ApiError> {
    match max {
        Some(max) if used + 1 > max => Err(limit_exceeded(limit, json!(max), json!(used))),
        _ => Ok(()),
    }
}

/// A total limit: `used` so far plus `adding` must stay within `max`.
pub fn check_total(
    limit: &str,
    max: Option<Money>,
    used: Money,
    adding: Money,
) -> Result<(), ApiError> {
    match max {
        Some(max) if used + adding > max => Err(limit_exceeded(limit, json!(max), json!(used))),
        _ => Ok(()),
    }
}

/// Per-transaction bounds: `min_per_transaction` and a maximum named `max_name`.
pub fn check_amount(
    min: Option<Money>,
    max_name: &str,
    max: Option<Money>,
    amount: Money,
) -> Result<(), ApiError> {
    if let Some(min) = min.filter(|m| amount < *m) {
        return Err(limit_exceeded(
            "min_per_transaction",
            json!(min),
            json!(amount),
        ));
    }
    if let Some(max) = max.filter(|m| amount > *m) {
        return Err(limit_exceeded(max_name, json!(max), json!(amount)));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn m(s: &str) -> Money {
        Money::parse(s).unwrap()
    }

    #[test]
    fn receive_fees_follow_the_table() {
        let t = TierTable::shipped();
        let (c, p) = (&t.corporate.fees, &t.corporate_plus.fees);
        let cases = [
            ("0.20", "0.00", "0.00"),
            ("1.00", "0.00", "0.00"),
            ("1.01", "0.22", "0.16"),
            ("12.34", "0.39", "0.27"),
            ("200.00", "3.20", "2.15"),
            // Half a cent rounds up: 1.5 % of 3.00 = 0.045; 1 % of 10.50 = 0.105.
            ("3.00", "0.25", "0.18"),
            ("10.50", "0.36", "0.26"),
        ];
        for (amount, corporate, plus) in cases {
            assert_eq!(c.receive_fee(m(amount)), m(corporate), "corporate {amount}");
            assert_eq!(p.receive_fee(m(amount)), m(plus), "corporate+ {amount}");
        }
        assert_eq!(t.private.fees.receive_fee(m("50.00")), Money::ZERO);
    }

    #[test]
    fn send_fees_depend_on_the_recipient() {
        let t = TierTable::shipped();
        assert_eq!(t.corporate.fees.send_fee(AccountKind::Private), m("0.25"));
        assert_eq!(
            t.corporate_plus.fees.send_fee(AccountKind::Corporate),
            m("0.50")
        );
        assert_eq!(
            t.private.fees.send_fee(AccountKind::CorporatePlus),
            Money::ZERO
        );
    }

    #[test]
    fn limits_allow_the_boundary_and_refuse_past_it() {
        assert!(check_count("payouts_per_day", Some(1), 0).is_ok());
        let e = check_count("payouts_per_day", Some(1), 1).unwrap_err();
        assert_eq!(
            (e.code, &e.extensions["limit"]),
            ("limit_exceeded", &json!("payouts_per_day"))
        );
        assert!(check_count("transactions_per_day", None, 1_000_000).is_ok());
        assert!(check_total(
            "deposit_total_per_year",
            Some(m("2500.00")),
            m("2499.99"),
            m("0.01")
        )
        .is_ok());
        assert!(check_total(
            "deposit_total_per_year",
            Some(m("2500.00")),
            m("2500.00"),
            m("0.01")
        )
        .is_err());
        assert!(check_amount(
            Some(m("0.20")),
            "max_per_transaction",
            Some(m("200.00")),
            m("0.20")
        )
        .is_ok());
        assert!(check_amount(
            Some(m("0.20")),
            "max_per_transaction",
            Some(m("200.00")),
            m("0.19")
        )
        .is_err());
        assert!(check_amount(
            Some(m("0.20")),
            "max_per_transaction",
            Some(m("200.00")),
            m("200.01")
        )
        .is_err());
    }
}
