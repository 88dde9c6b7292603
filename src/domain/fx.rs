//! Currency conversion to EUR with the operator's rate table (units of the currency
//! per 1 EUR, as the ECB quotes them); a default table ships with the server.

use super::money::{Money, MAX_CENTS};
use crate::error::ApiError;
use rust_decimal::Decimal;
use std::collections::BTreeMap;
use std::str::FromStr;

/// Reference rates shipped with the server; the operator overrides them.
pub const DEFAULT_RATES: &[(&str, &str)] = &[
    ("USD", "1.0842"),
    ("GBP", "0.8512"),
    ("CHF", "0.9420"),
    ("SEK", "11.4500"),
    ("NOK", "11.7000"),
    ("DKK", "7.4603"),
    ("PLN", "4.3000"),
    ("CZK", "25.2000"),
    ("HUF", "395.00"),
    ("JPY", "163.50"),
];

pub fn default_rates() -> BTreeMap<String, Decimal> {
    DEFAULT_RATES
        .iter()
        .map(|(c, r)| {
            (
                c.to_string(),
                Decimal::from_str(r).expect("valid default rate"),
            )
        })
        .collect()
}

/// An ISO 4217 code: three upper-case letters.
pub fn currency_code(field: &str, code: &str) -> Result<String, ApiError> {
    if code.len() == 3 && code.bytes().all(|b| b.is_ascii_uppercase()) {
        Ok(code.to_string())
    } else {
        Err(ApiError::invalid_field(
            field,
            "currency must be an ISO 4217 code such as EUR or USD",
        ))
    }
}

/// A rate: a positive decimal with at most 6 integer and 8 fraction digits.
pub fn parse_rate(currency: &str, raw: &str) -> Result<Decimal, ApiError> {
    let (int, frac) = raw.split_once('.').unwrap_or((raw, "0"));
    let digits = |s: &str, max: usize| {
        !s.is_empty() && s.len() <= max && s.bytes().all(|b| b.is_ascii_digit())
    };
    let rate = (digits(int, 6) && digits(frac, 8))
        .then(|| Decimal::from_str(raw).ok())
        .flatten();
    match rate {
        Some(r) if r > Decimal::ZERO => Ok(r),
        _ => Err(ApiError::invalid_field(
            "rates",
            format!("the rate for {currency} must be a positive decimal string like \"1.0842\""),
        )),
    }
}

/// `amount` in the foreign currency, in EUR: divided by the rate, rounded half-up once,
/// within the same bounds as an amount given in EUR: 422 `amount_out_of_range` above
/// `MAX_CENTS`, never a saturated or overflowed value.
pub fn to_eur(amount: Money, rate: Decimal) -> Result<Money, ApiError> {
    amount
        .to_decimal()
        .checked_div(rate)
        .and_then(Money::checked_from_decimal_half_up)
        .filter(|eur| eur.as_cents() <= MAX_CENTS)
        .ok_or_else(|| {
            ApiError::unprocessable(
                "amount_out_of_range",
                format!(
                    "The amount converts to more than the maximum of {} EUR.",
                    Money::cents(MAX_CENTS)
                ),
            )
            .with("field", "amount")
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn converts_and_rounds_half_up() {
        let usd = Decimal::from_str("1.0842").unwrap();
        assert_eq!(to_eur(Money::cents(1000), usd).unwrap(), Money::cents(922));
        // 0.45 / 2 = 0.225 -> 0.23 (half-up, not banker's 0.22)
        assert_eq!(
            to_eur(Money::cents(45), Decimal::from(2)).unwrap(),
            Money::cents(23)
        );
        assert!(parse_rate("USD", "0").is_err());
        assert!(parse_rate("USD", "1e3").is_err());
        assert!(parse_rate("USD", "-1.2").is_err());
        assert_eq!(parse_rate("USD", "1.0842").unwrap(), usd);
    }

    #[test]
    fn conversion_beyond_the_maximum_is_refused_not_saturated() {
        let max = Money::cents(MAX_CENTS);
        let third = Decimal::from_str("0.33").unwrap();
        assert_eq!(to_eur(max, third).unwrap_err().code, "amount_out_of_range");
        let tiny = Decimal::from_str("0.0000000000000000000000000001").unwrap();
        assert_eq!(to_eur(max, tiny).unwrap_err().code, "amount_out_of_range");
        assert_eq!(to_eur(max, Decimal::ONE).unwrap(), max);
    }
}
