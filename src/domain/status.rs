//! Every status a row can be in, as a type: the one place that maps each status to the
//! text of its database column and back. Use cases compare and set these, never strings.

/// A status enum with its column texts; `TryFrom<String>` lets a row read it directly
/// (`#[diesel(deserialize_as = String)]`).
macro_rules! statuses {
    ($($(#[$doc:meta])* $name:ident { $($variant:ident = $text:literal),+ $(,)? })+) => {$(
        $(#[$doc])*
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
        #[serde(rename_all = "snake_case")]
        pub enum $name {
            $($variant),+
        }

        impl $name {
            pub const ALL: &'static [Self] = &[$(Self::$variant),+];

            /// The column's text.
            pub fn as_str(self) -> &'static str {
                match self {
                    $(Self::$variant => $text),+
                }
            }

            /// A list's `status` filter: none, one of the statuses, or 400 `invalid_query`
            /// naming them.
            pub fn filter(raw: Option<&str>) -> Result<Option<Self>, crate::error::ApiError> {
                raw.map(|s| {
                    Self::parse(s).ok_or_else(|| {
                        let all: Vec<&str> = Self::ALL.iter().map(|s| s.as_str()).collect();
                        crate::error::ApiError::bad_request(
                            "invalid_query",
                            format!("status must be one of {}", all.join(", ")),
                        )
                        .with("field", "status")
                    })
                })
                .transpose()
            }

            /// The column's text read back; `None` for a text no version of PinPay writes.
            pub fn parse(s: &str) -> Option<Self> {
                match s {
                    $($text => Some(Self::$variant),)+
                    _ => None,
                }
            }
        }

        impl TryFrom<String> for $name {
            type Error = String;
            fn try_from(s: String) -> Result<Self, String> {
                Self::parse(&s).ok_or_else(|| format!("unknown {} {s:?}", stringify!($name)))
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(self.as_str())
            }
        }
    )+};
}

statuses! {
    /// A money request (addressed or a payment link).
    RequestStatus {
        Pending = "pending",
        Approved = "approved",
        Declined = "declined",
        Expired = "expired",
        Cancelled = "cancelled",
    }
    /// A message on its way: a payment link sent by e-mail or SMS, or an e-mail to an
    /// account holder.
    SendStatus {
        Queued = "queued",
        Sent = "sent",
        Failed = "failed",
    }
    /// A Corporate+ application.
    ApplicationStatus {
        Open = "open",
        Submitted = "submitted",
        Rejected = "rejected",
        Accepted = "accepted",
    }
    /// A payout to a bank account (the operator marks it executed once transferred).
    PayoutStatus {
        Pending = "pending",
        Executed = "executed",
    }
    /// A bank-account verification code.
    VerificationStatus {
        Pending = "pending",
        Verified = "verified",
        Voided = "voided",
    }
    /// A reload order with its payment provider.
    ReloadStatus {
        Pending = "pending",
        Confirmed = "confirmed",
        Refused = "refused",
        Failed = "failed",
    }
    /// A callback event's delivery to the merchant.
    DeliveryStatus {
        Pending = "pending",
        Delivered = "delivered",
        Failed = "failed",
    }
    /// An idempotency key: its first request still running, or its response saved.
    KeyStatus {
        InFlight = "in_flight",
        Done = "done",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_status_reads_back_its_own_text_and_serializes_as_it() {
        fn check<T: Copy + PartialEq + std::fmt::Debug + serde::Serialize>(
            all: &[T],
            text: fn(T) -> &'static str,
            parse: fn(&str) -> Option<T>,
        ) {
            for s in all {
                assert_eq!(parse(text(*s)), Some(*s));
                assert_eq!(serde_json::to_value(s).unwrap(), text(*s));
            }
            assert_eq!(parse("no such status"), None);
        }
        check(
            RequestStatus::ALL,
            RequestStatus::as_str,
            RequestStatus::parse,
        );
        check(SendStatus::ALL, SendStatus::as_str, SendStatus::parse);
        check(
            ApplicationStatus::ALL,
            ApplicationStatus::as_str,
            ApplicationStatus::parse,
        );
        check(PayoutStatus::ALL, PayoutStatus::as_str, PayoutStatus::parse);
        check(
            VerificationStatus::ALL,
            VerificationStatus::as_str,
            VerificationStatus::parse,
        );
        check(ReloadStatus::ALL, ReloadStatus::as_str, ReloadStatus::parse);
        check(
            DeliveryStatus::ALL,
            DeliveryStatus::as_str,
            DeliveryStatus::parse,
        );
        check(KeyStatus::ALL, KeyStatus::as_str, KeyStatus::parse);
    }
}
