//! Account kinds and the validated values a registration is made of.

use crate::error::ApiError;

#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AccountKind {
    Private,
    Corporate,
    CorporatePlus,
    System,
}

impl AccountKind {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Private => "private",
            Self::Corporate => "corporate",
            Self::CorporatePlus => "corporate_plus",
            Self::System => "system",
        }
    }

    /// Reads the stored value; the database CHECK constraint guarantees one of these.
    pub fn from_db(s: &str) -> Self {
        match s {
            "private" => Self::Private,
            "corporate" => Self::Corporate,
            "corporate_plus" => Self::CorporatePlus,
            _ => Self::System,
        }
    }

    pub fn is_merchant(self) -> bool {
        matches!(self, Self::Corporate | Self::CorporatePlus)
    }
}

/// 3–32 characters of `[a-z0-9._-]`; input is lower-cased first, so uniqueness is
/// case-insensitive by construction.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Username(String);

impl Username {
    pub fn parse(raw: &str) -> Result<Self, ApiError> {
        let s = raw.to_ascii_lowercase();
        let len = s.chars().count();
        if !(3..=32).contains(&len) {
            return Err(ApiError::invalid_field(
                "username",
                "username must be 3 to 32 characters",
            ));
        }
        if !s
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || "._-".contains(c))
        {
            return Err(ApiError::invalid_field(
                "username",
                "username may contain only letters a-z, digits, '.', '_' and '-'",
            ));
        }
        Ok(Self(s))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// At least 10 characters; at most 128 so hashing cost stays bounded.
pub struct Password(String);

impl Password {
    pub fn parse(raw: String) -> Result<Self, ApiError> {
        let len = raw.chars().count();
        if len < 10 {
            return Err(ApiError::invalid_field(
                "password",
                "password must be at least 10 characters",
            ));
        }
        if len > 128 {
            return Err(ApiError::invalid_field(
                "password",
                "password must be at most 128 characters",
            ));
        }
        Ok(Self(raw))
    }

    pub fn expose(&self) -> &str {
        &self.0
    }
}

#[derive(Clone, Debug)]
pub struct Email(String);

impl Email {
    pub fn parse(raw: &str) -> Result<Self, ApiError> {
        let bad =
            || ApiError::invalid_field("email", "email must be an address like name@example.com");
        if raw.len() > 254 || raw.chars().any(|c| c.is_whitespace() || c.is_control()) {
            return Err(bad());
        }
        let (local, domain) = raw.split_once('@').ok_or_else(bad)?;
        let labels_ok = domain.split('.').count() >= 2
            && domain.split('.').all(|l| !l.is_empty() && l.len() <= 63);
        if local.is_empty() || local.len() > 64 || domain.contains('@') || !labels_ok {
            return Err(bad());
        }
        Ok(Self(raw.to_string()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// E.164: `+` then 8–15 digits.
#[derive(Clone, Debug)]
pub struct Phone(String);

impl Phone {
    pub fn parse(raw: &str) -> Result<Self, ApiError> {
        let digits = raw.strip_prefix('+').unwrap_or("");
        if !(8..=15).contains(&digits.len()) || !digits.bytes().all(|b| b.is_ascii_digit()) {
            return Err(ApiError::invalid_field(
                "phone",
                "phone must be in E.164 form, e.g. +4915112345678",
            ));
        }
        Ok(Self(raw.to_string()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// Free text with a length bound (counted as sent, before trimming) and no control
/// characters; stored trimmed.
pub fn text_field(field: &str, raw: &str, max_chars: usize) -> Result<String, ApiError> {
    if raw.chars().count() > max_chars {
        return Err(ApiError::invalid_field(
            field,
            format!("{field} must be at most {max_chars} characters"),
        ));
    }
    let trimmed = raw.trim();

    if trimmed.is_empty() {
        return Err(ApiError::invalid_field(
            field,
            format!("{field} must not be empty"),
        ));
    }
    if trimmed.chars().count() > max_chars {
        return Err(ApiError::invalid_field(
            field,
            format!("{field} must be at most {max_chars} characters"),
        ));
    }
    if trimmed.chars().any(char::is_control) {
        return Err(ApiError::invalid_field(
            field,
            format!("{field} must not contain control characters"),
        ));
    }
    Ok(trimmed.to_string())
}

/// Exactly six ASCII digits, refusing the guessable ones (all equal, straight runs).
pub struct Pin(String);

impl Pin {
    pub fn parse(field: &str, raw: &str) -> Result<Self, ApiError> {
        if raw.len() != 6 || !raw.bytes().all(|b| b.is_ascii_digit()) {
            return Err(
                ApiError::unprocessable("invalid_pin_format", "a PIN is exactly 6 digits")
                    .with("field", field),
            );
        }
        Ok(Self(raw.to_string()))
    }

    /// Extra rule for a PIN being chosen (not for one being entered).
    pub fn parse_new(field: &str, raw: &str) -> Result<Self, ApiError> {
        let pin = Self::parse(field, raw)?;
        let d: Vec<i16> = pin.0.bytes().map(|b| i16::from(b - b'0')).collect();
        let steps: Vec<i16> = d.windows(2).map(|w| w[1] - w[0]).collect();
        let uniform = steps.windows(2).all(|w| w[0] == w[1]);
        if uniform && steps[0].abs() <= 1 {
            return Err(ApiError::unprocessable(
                "pin_too_weak",
                "choose a PIN that is not one repeated digit or a straight run like 123456",
            )
            .with("field", field));
        }
        Ok(pin)
    }

    pub fn expose(&self) -> &str {
        &self.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn usernames_are_lowercased_and_checked() {
        assert_eq!(Username::parse("Alice_01").unwrap().as_str(), "alice_01");
        assert!(Username::parse("ab").is_err());
        assert!(Username::parse(&"a".repeat(33)).is_err());
        assert!(Username::parse("bad name").is_err());
        assert!(Username::parse("émile").is_err());
    }

    #[test]
    fn weak_and_malformed_pins_are_refused() {
        for bad in ["12345", "1234567", "12a456", "١٢٣٤٥٦"] {
            assert_eq!(
                Pin::parse("pin", bad).err().unwrap().code,
                "invalid_pin_format"
            );
        }
        for weak in ["000000", "123456", "987654", "555555"] {
            assert_eq!(
                Pin::parse_new("pin", weak).err().unwrap().code,
                "pin_too_weak"
            );
        }
        assert!(Pin::parse_new("pin", "482915").is_ok());
        assert!(Pin::parse_new("pin", "135791").is_ok());
    }

    #[test]
    fn email_and_phone_shapes() {
        assert!(Email::parse("a@example.com").is_ok());
        for bad in [
            "a@b",
            "@example.com",
            "a@@example.com",
            "a b@example.com",
            "a@.com",
        ] {
            assert!(Email::parse(bad).is_err(), "{bad}");
        }
        assert!(Phone::parse("+4915112345678").is_ok());
        assert!(Phone::parse("015112345678").is_err());
    }
}
