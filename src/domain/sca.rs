//! Strong customer authentication of a payer's operation: the PIN (knowledge) and, where
//! the wallet has one or the amount requires it, a passkey (possession). A passkey signs
//! a challenge that is the hash of what is approved (PSD2 RTS Art. 5, dynamic linking):
//! any change of the operation, amount, currency or payee gives another challenge, so an
//! assertion made for one approval cannot confirm another.

use crate::domain::money::Money;
use sha2::{Digest, Sha256};

/// What a payer's approval binds: the operation (a money request's id, `transfer` or
/// `payout`), its amount and currency, and who receives it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Binding {
    pub operation: String,
    pub amount: Money,
    pub currency: &'static str,
    pub payee: String,
}

impl Binding {
    /// The challenge a passkey signs for this binding and `nonce`: SHA-256 over a domain
    /// label and each field length-prefixed, so no two bindings share an encoding.
    pub fn challenge(&self, nonce: &[u8]) -> [u8; 32] {
        let mut h = Sha256::new();
        h.update(b"pinpay/sca/v1");
        let amount = self.amount.as_cents().to_string();
        let fields: [&[u8]; 5] = [
            self.operation.as_bytes(),
            amount.as_bytes(),
            self.currency.as_bytes(),
            self.payee.as_bytes(),
            nonce,
        ];
        for field in fields {
            h.update((field.len() as u64).to_be_bytes());
            h.update(field);
        }
        h.finalize().into()
    }
}

/// The factors that confirmed an operation, as recorded with it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Factors {
    Pin,
    PinAndPasskey,
}

impl Factors {
    pub fn as_str(self) -> &'static str {
        match self {
            Factors::Pin => "pin",
            Factors::PinAndPasskey => "pin+passkey",
        }
    }
}

/// Whether an operation needs the passkey: always once the wallet has one, and above
/// `required_above` (`PINPAY_SCA_DEVICE_REQUIRED_ABOVE`) for every wallet.
pub fn device_required(has_passkey: bool, amount: Money, required_above: Option<Money>) -> bool {
    has_passkey || required_above.is_some_and(|limit| amount > limit)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn binding(operation: &str, cents: i64, payee: &str) -> Binding {
        Binding {
            operation: operation.into(),
            amount: Money::cents(cents),
            currency: "EUR",
            payee: payee.into(),
        }
    }

    #[test]
    fn any_change_of_what_is_approved_changes_the_challenge() {
        let nonce = [7u8; 32];
        let base = binding("mr_1", 1250, "shop").challenge(&nonce);
        assert_eq!(base, binding("mr_1", 1250, "shop").challenge(&nonce));
        for other in [
            binding("mr_2", 1250, "shop"),
            binding("mr_1", 1251, "shop"),
            binding("mr_1", 1250, "shop2"),
            // Field boundaries cannot be shifted: "mr_1" + "2" is not "mr_12" + "".
            binding("mr_12", 1250, "shop"),
        ] {
            assert_ne!(base, other.challenge(&nonce), "{other:?}");
        }
        assert_ne!(base, binding("mr_1", 1250, "shop").challenge(&[8u8; 32]));
    }

    #[test]
    fn the_device_factor_is_required_with_a_passkey_or_above_the_limit() {
        let limit = Some(Money::cents(3000));
        assert!(!device_required(false, Money::cents(3000), limit));
        assert!(device_required(false, Money::cents(3001), limit));
        assert!(device_required(true, Money::cents(1), limit));
        assert!(!device_required(false, Money::cents(1_000_000), None));
    }
}
