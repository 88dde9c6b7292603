//! Where a payment link may be sent: e-mail addresses and phone numbers (E.164), and
//! the SMS sender name.

use crate::error::ApiError;

/// A plausible e-mail address: one `@`, a local part and a dotted domain of letters,
/// digits and hyphens, no spaces or control characters, ≤ 254 characters (RFC 5321).
pub fn email(field: &str, raw: &str) -> Result<String, ApiError> {
    let bad = || ApiError::invalid_field(field, format!("{field} is not a valid e-mail address"));
    let s = raw.trim();
    if s.len() > 254 || s.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err(bad());
    }
    let (local, domain) = s.rsplit_once('@').ok_or_else(bad)?;
    let local_ok = !local.is_empty()
        && local.len() <= 64
        && !local.contains('@')
        && !local.starts_with('.')
        && !local.ends_with('.')
        && !local.contains("..")
        && local
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "!#$%&'*+-/=?^_`{|}~.".contains(c));
    let labels: Vec<&str> = domain.split('.').collect();
    let domain_ok = labels.len() >= 2
        && labels.iter().all(|l| {
            !l.is_empty()
                && l.len() <= 63
                && !l.starts_with('-')
                && !l.ends_with('-')
                && l.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
        });
    if local_ok && domain_ok {
        Ok(format!("{local}@{}", domain.to_ascii_lowercase()))
    } else {
        Err(bad())
    }
}

/// An E.164 phone number: `+`, a country code not starting with 0, 8 to 15 digits in all.
pub fn phone(field: &str, raw: &str) -> Result<String, ApiError> {
    let digits = raw.strip_prefix('+').unwrap_or("");
    let ok = (8..=15).contains(&digits.len())
        && digits.bytes().all(|b| b.is_ascii_digit())
        && !digits.starts_with('0');
    if ok {
        Ok(raw.to_string())
    } else {
        Err(ApiError::invalid_field(
            field,
            format!("{field} must be a phone number in E.164 form, such as +4915112345678"),
        ))
    }
}

/// The name an SMS is sent from: 1 to 20 printable characters.
pub fn sms_sender(raw: &str) -> Result<String, String> {
    let n = raw.chars().count();
    if (1..=20).contains(&n) && raw.chars().all(|c| !c.is_control()) {
        Ok(raw.to_string())
    } else {
        Err(format!(
            "PINPAY_SMS_SENDER must be 1 to 20 characters (it is {n})"
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn emails() {
        assert_eq!(email("to", "Anna@Example.COM").unwrap(), "Anna@example.com");
        for bad in [
            "anna",
            "@x.de",
            "anna@",
            "anna@de",
            "a b@x.de",
            "a@x..de",
            "a@-x.de",
            "a\n@x.de",
            "a@x.de\r\nBcc: b@y.de",
        ] {
            assert!(email("to", bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn phones() {
        assert!(phone("to", "+4915112345678").is_ok());
        for bad in [
            "4915112345678",
            "+0151",
            "+49 151 1234",
            "+1234567",
            "+1234567890123456",
        ] {
            assert!(phone("to", bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn sender_names() {
        assert!(sms_sender("PinPay").is_ok());
        assert!(sms_sender("").is_err());
        assert!(sms_sender("A sender name too long").is_err());
    }
}
