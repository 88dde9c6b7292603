//! Password-guessing throttle rules (OWASP ASVS: throttling, not hard lockout). Every
//! attempt counts as a failure until it succeeds; after `free` failures in a row each
//! further attempt waits an exponentially growing back-off, never longer than
//! [`MAX_BACKOFF_SECS`]. A bucket quiet for [`RESET_AFTER_SECS`] starts over.

use std::net::IpAddr;

pub const MAX_BACKOFF_SECS: i64 = 15 * 60;
pub const RESET_AFTER_SECS: i64 = 60 * 60;

/// Failures allowed before back-off starts, per account and per client address.
#[derive(Clone, Copy, Debug)]
pub struct Limits {
    pub account_free: i32,
    pub address_free: i32,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            account_free: 5,
            address_free: 20,
        }
    }
}

/// The back-off after `failures` consecutive failures: none while within `free`, then
/// 1 s, 2 s, 4 s, … up to the cap.
pub fn backoff_secs(failures: i32, free: i32) -> Option<i64> {
    let over = failures.checked_sub(free)?;
    (over >= 0).then(|| {
        1i64.checked_shl(over.min(30) as u32)
            .unwrap_or(MAX_BACKOFF_SECS)
            .min(MAX_BACKOFF_SECS)
    })
}

/// The bucket of an account name (known or not: unknown names are throttled alike, so
/// the answers reveal nothing).
/// Names outside the username alphabet are stored by their digest (any length, any
/// characters, NUL included, become a short key).
pub fn account_bucket(username: &str) -> String {
    let name = username.to_ascii_lowercase();
    let plain = (1..=64).contains(&name.len())
        && name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b"._-".contains(&b));
    if plain {
        format!("acct:{name}")
    } else {
        use sha2::{Digest, Sha256};
        format!(
            "acct:#{}",
            hex::encode(&Sha256::digest(name.as_bytes())[..16])
        )
    }
}

/// The bucket of a client address; IPv6 clients are counted per /64, the block one
/// subscriber usually holds.
pub fn address_bucket(ip: IpAddr) -> String {
    match ip {
        IpAddr::V4(v4) => format!("ip:{v4}"),
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => format!("ip:{v4}"),
            None => {
                let s = v6.segments();
                format!("ip:{:x}:{:x}:{:x}:{:x}::/64", s[0], s[1], s[2], s[3])
            }
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn back_off_doubles_after_the_free_failures_and_is_capped() {
        assert_eq!(backoff_secs(4, 5), None);
        assert_eq!(backoff_secs(5, 5), Some(1));
        assert_eq!(backoff_secs(6, 5), Some(2));
        assert_eq!(backoff_secs(9, 5), Some(16));
        assert_eq!(backoff_secs(15, 5), Some(MAX_BACKOFF_SECS));
        assert_eq!(backoff_secs(i32::MAX, 5), Some(MAX_BACKOFF_SECS));
    }

    #[test]
    fn addresses_are_bucketed_per_host_and_per_ipv6_64() {
        assert_eq!(address_bucket("10.1.2.3".parse().unwrap()), "ip:10.1.2.3");
        assert_eq!(
            address_bucket("::ffff:10.1.2.3".parse().unwrap()),
            "ip:10.1.2.3"
        );
        assert_eq!(
            address_bucket("2001:db8:1:2:aaaa::1".parse().unwrap()),
            address_bucket("2001:db8:1:2:bbbb::9".parse().unwrap())
        );
        assert_eq!(account_bucket("Anna"), "acct:anna");
        let odd = account_bucket("a\0b");
        assert!(odd.starts_with("acct:#") && !odd.contains('\0'));
    }
}
