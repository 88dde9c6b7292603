//! Money: EUR cents in an `i64`. The one parser and formatter for API strings
//! like `"12.34"`, and half-up rounding to the cent for fee arithmetic.

use crate::error::ApiError;
use rust_decimal::prelude::ToPrimitive;
use rust_decimal::{Decimal, RoundingStrategy};
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use std::fmt;

/// The largest amount the API accepts: 1,000,000,000.00 EUR.
pub const MAX_CENTS: i64 = 100_000_000_000;

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Money(i64);

impl Money {
    pub const ZERO: Money = Money(0);

    pub const fn cents(c: i64) -> Self {
        Self(c)
    }

    pub fn as_cents(self) -> i64 {
        self.0
    }

    /// Parses a non-negative decimal string with at most two decimals, no sign, no
    /// exponent, no leading zeros, no surrounding spaces, at most `MAX_CENTS`.
    pub fn parse(s: &str) -> Option<Self> {
        let (int, frac) = match s.split_once('.') {
            Some((i, f)) => (i, Some(f)),
            None => (s, None),
        };
        let digits = |p: &str| !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit());
        if !digits(int) || (int.len() > 1 && int.starts_with('0')) || int.len() > 12 {
            return None;
        }
        let frac_cents = match frac {
            None => 0,
            Some(f) if digits(f) && f.len() <= 2 => {
                let v: i64 = f.parse().ok()?;
                if f.len() == 1 {
                    v * 10
                } else {
                    v
                }
            }
            Some(_) => return None,
        };
        let cents = int
            .parse::<i64>()
            .ok()?
            .checked_mul(100)?
            .checked_add(frac_cents)?;
        (cents <= MAX_CENTS).then_some(Self(cents))
    }

    /// An API amount: positive, at most 2 decimals. 422 `invalid_amount` otherwise.
    pub fn parse_amount(field: &str, s: &str) -> Result<Self, ApiError> {
        match Self::parse(s) {
            Some(m) if m.0 > 0 => Ok(m),
            _ => Err(ApiError::unprocessable(
                "invalid_amount",
                format!("{field} must be a positive EUR amount as a string with at most 2 decimals, e.g. \"12.34\""),
            )
            .with("field", field)),
        }
    }

    pub fn to_decimal(self) -> Decimal {
        Decimal::new(self.0, 2)
    }

    /// Rounds half-up ("kaufmännisch") to the cent; values beyond `i64` cents saturate
    /// (for fees, which are bounded by the amounts they are computed from).
    pub fn from_decimal_half_up(d: Decimal) -> Self {
        Self::checked_from_decimal_half_up(d).unwrap_or(Self(i64::MAX))
    }

    /// Rounds half-up to the cent; `None` beyond `i64` cents.
    pub fn checked_from_decimal_half_up(d: Decimal) -> Option<Self> {
        let rounded = d.round_dp_with_strategy(2, RoundingStrategy::MidpointAwayFromZero);
        rounded
            .checked_mul(Decimal::ONE_HUNDRED)
            .and_then(|c| c.to_i64())
            .map(Self)
    }

    pub fn checked_add(self, other: Money) -> Option<Money> {
        self.0.checked_add(other.0).map(Money)
    }
}

impl std::ops::Add for Money {
    type Output = Money;
    fn add(self, o: Money) -> Money {
        Money(self.0 + o.0)
    }
}

impl std::ops::Sub for Money {
    type Output = Money;
    fn sub(self, o: Money) -> Money {
        Money(self.0 - o.0)
    }
}

impl std::ops::Neg for Money {
    type Output = Money;
    fn neg(self) -> Money {
        Money(-self.0)
    }
}

impl fmt::Display for Money {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let sign = if self.0 < 0 { "-" } else { "" };
        let abs = self.0.unsigned_abs();
        write!(f, "{sign}{}.{:02}", abs / 100, abs % 100)
    }
}

impl Serialize for Money {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

/// Reads configuration data (the tier table); API input goes through `parse_amount`.
impl<'de> Deserialize<'de> for Money {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        Money::parse(&s).ok_or_else(|| serde::de::Error::custom(format!("invalid amount {s:?}")))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_only_plain_two_decimal_strings() {
        assert_eq!(Money::parse("12.34"), Some(Money(1234)));
        assert_eq!(Money::parse("0.2"), Some(Money(20)));
        assert_eq!(Money::parse("7"), Some(Money(700)));
        assert_eq!(Money::parse("1000000000.00"), Some(Money(MAX_CENTS)));
        for bad in [
            "1.234",
            "-1",
            "+1",
            "1e3",
            "",
            " 1",
            "1.",
            ".5",
            "01.00",
            "1,00",
            "1000000000.01",
            "99999999999999999999",
            "NaN",
        ] {
            assert_eq!(Money::parse(bad), None, "{bad}");
        }
        assert!(Money::parse_amount("amount", "0").is_err());
        assert!(Money::parse_amount("amount", "0.00").is_err());
        assert!(Money::parse_amount("amount", "0.01").is_ok());
    }

    #[test]
    fn formats_and_rounds_half_up() {
        assert_eq!(Money(-1234).to_string(), "-12.34");
        assert_eq!(Money(5).to_string(), "0.05");
        assert_eq!(Money::from_decimal_half_up(Decimal::new(245, 3)), Money(25));
        assert_eq!(
            Money::from_decimal_half_up(Decimal::new(2449, 4)),
            Money(24)
        );
    }
}
