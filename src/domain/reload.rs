//! Pure rules of reloads: the confirmation MAC a payment provider sends (HMAC-SHA256 over
//! the order code, amount, currency and status, as Worldpay's hosted order flow signs its
//! redirects) and the statuses it may report.

use hmac::{Hmac, Mac};
use sha2::Sha256;

/// The provider's word on an order.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ProviderStatus {
    Authorised,
    Refused,
    Cancelled,
}

impl ProviderStatus {
    pub fn parse(raw: &str) -> Option<Self> {
        match raw {
            "AUTHORISED" => Some(Self::Authorised),
            "REFUSED" => Some(Self::Refused),
            "CANCELLED" => Some(Self::Cancelled),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Authorised => "AUTHORISED",
            Self::Refused => "REFUSED",
            Self::Cancelled => "CANCELLED",
        }
    }
}

/// The MAC of a confirmation, lower-case hex. The fields are joined with `|`, which none
/// of them may contain (the service refuses such a confirmation before checking it).
pub fn mac(secret: &str, order_code: &str, amount: &str, currency: &str, status: &str) -> String {
    let mut m = Hmac::<Sha256>::new_from_slice(secret.as_bytes()).expect("any key length");
    for (i, part) in [order_code, amount, currency, status].iter().enumerate() {
        if i > 0 {
            m.update(b"|");
        }
        m.update(part.as_bytes());
    }
    hex::encode(m.finalize().into_bytes())
}

/// Whether `given` is the MAC of the confirmation, compared in constant time.
pub fn verify(
    secret: &str,
    order_code: &str,
    amount: &str,
    currency: &str,
    status: &str,
    given: &str,
) -> bool {
    let expected = mac(secret, order_code, amount, currency, status);
    super::secrets::constant_time_eq(&expected, &given.to_ascii_lowercase())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_mac_binds_every_field() {
        let good = mac("s3cret", "rl_1", "25.00", "EUR", "AUTHORISED");
        assert!(verify(
            "s3cret",
            "rl_1",
            "25.00",
            "EUR",
            "AUTHORISED",
            &good
        ));
        assert!(verify(
            "s3cret",
            "rl_1",
            "25.00",
            "EUR",
            "AUTHORISED",
            &good.to_uppercase()
        ));
        assert!(!verify(
            "other",
            "rl_1",
            "25.00",
            "EUR",
            "AUTHORISED",
            &good
        ));
        assert!(!verify(
            "s3cret",
            "rl_2",
            "25.00",
            "EUR",
            "AUTHORISED",
            &good
        ));
        assert!(!verify(
            "s3cret",
            "rl_1",
            "26.00",
            "EUR",
            "AUTHORISED",
            &good
        ));
        assert!(!verify(
            "s3cret",
            "rl_1",
            "25.00",
            "USD",
            "AUTHORISED",
            &good
        ));
        assert!(!verify("s3cret", "rl_1", "25.00", "EUR", "REFUSED", &good));
    }
}
