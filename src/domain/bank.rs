//! SEPA bank account identifiers: IBAN (ISO 13616 mod-97) and BIC (ISO 9362).

use crate::error::ApiError;

/// An IBAN in electronic form (upper case, no spaces) whose check digits verify.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Iban(String);

impl Iban {
    pub fn parse(raw: &str) -> Result<Self, ApiError> {
        let s: String = raw
            .chars()
            .filter(|c| *c != ' ')
            .collect::<String>()
            .to_ascii_uppercase();
        let bad = |why: &str| {
            ApiError::unprocessable("invalid_iban", format!("iban is not valid: {why}"))
                .with("field", "iban")
        };
        if !(15..=34).contains(&s.len()) || !s.bytes().all(|b| b.is_ascii_alphanumeric()) {
            return Err(bad("15 to 34 letters and digits expected"));
        }
        let b = s.as_bytes();
        if !b[..2].iter().all(u8::is_ascii_uppercase) || !b[2..4].iter().all(u8::is_ascii_digit) {
            return Err(bad(
                "it must start with a country code and two check digits",
            ));
        }
        if mod97(&s) != 1 {
            return Err(bad("the check digits do not match"));
        }
        Ok(Self(s))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// ISO 13616: move the first four characters to the end, letters to 10..35, mod 97.
fn mod97(iban: &str) -> u32 {
    let rearranged = iban[4..].bytes().chain(iban[..4].bytes());
    rearranged.fold(0u32, |acc, b| {
        let v = if b.is_ascii_digit() {
            u32::from(b - b'0')
        } else {
            u32::from(b - b'A') + 10
        };
        if v >= 10 {
            (acc * 100 + v) % 97
        } else {
            (acc * 10 + v) % 97
        }
    })
}

/// A BIC: 4 letters (bank), 2 letters (country), 2 alphanumerics (location), optional 3 (branch).
#[derive(Clone, Debug)]
pub struct Bic(String);

impl Bic {
    pub fn parse(raw: &str) -> Result<Self, ApiError> {
        let s = raw.trim().to_ascii_uppercase();
        let b = s.as_bytes();
        let ok = (s.len() == 8 || s.len() == 11)
            && b[..6].iter().all(u8::is_ascii_uppercase)
            && b[6..].iter().all(u8::is_ascii_alphanumeric);
        if !ok {
            return Err(ApiError::unprocessable(
                "invalid_bic",
                "bic must be 8 or 11 characters like DEUTDEFF or DEUTDEFF500",
            )
            .with("field", "bic"));
        }
        Ok(Self(s))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_ibans_verify() {
        for ok in [
            "DE89 3704 0044 0532 0130 00",
            "GB82WEST12345698765432",
            "fr1420041010050500013m02606",
        ] {
            assert!(Iban::parse(ok).is_ok(), "{ok}");
        }
        for bad in [
            "DE89370400440532013001",
            "DE8937040044",
            "XX89370400440532013000!",
            "1234567890123456",
        ] {
            assert!(Iban::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn bic_shapes() {
        assert!(Bic::parse("DEUTDEFF").is_ok());
        assert!(Bic::parse("deutdeff500").is_ok());
        assert!(Bic::parse("DEUT1EFF").is_err());
        assert!(Bic::parse("DEUTDEF").is_err());
    }
}
