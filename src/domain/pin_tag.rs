//! How a PIN is kept: a keyed tag, `HMAC-SHA-256(K_pin[v], "pinpay/pin/v1" ‖ account id ‖
//! pin)`, stored as `pinpay-hmac$v<v>$<tag>` with the key's version. A 6-digit PIN has
//! 10^6 values, so no hash cost protects a stolen row; the keys do, held outside the
//! database (`PINPAY_PIN_KEYS`), as banks keep PIN verification keys in an HSM. PINs
//! stored as argon2 before keyed tags are verified the old way and tagged on their next
//! correct entry.

use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use base64::Engine;
use hmac::{Hmac, Mac};
use sha2::Sha256;
use std::collections::BTreeMap;

const PREFIX: &str = "pinpay-hmac$v";
/// The shortest key accepted (256 bits).
pub const MIN_KEY_BYTES: usize = 32;

/// The PIN keys by version; the newest tags new PINs.
#[derive(Clone)]
pub struct PinKeys {
    keys: BTreeMap<u32, Vec<u8>>,
}

impl std::fmt::Debug for PinKeys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "PinKeys(versions {:?}, redacted)", self.versions())
    }
}

/// How a stored PIN is kept.
#[derive(Debug, PartialEq, Eq)]
pub enum Stored<'a> {
    /// A keyed tag under key version `version`.
    Keyed { version: u32, tag: &'a str },
    /// An argon2 hash from before keyed tags.
    Argon2,
    /// Anything else (no version of PinPay writes it).
    Unknown,
}

/// What checking a PIN against its stored form found.
#[derive(Debug, PartialEq, Eq)]
pub enum Verdict {
    Matches,
    Differs,
    /// The stored form is an argon2 hash: the hasher decides.
    Argon2,
    /// The key version that tagged it is not configured here.
    KeyMissing(u32),
    Unreadable,
}

impl PinKeys {
    /// `2:base64…,1:base64…`: each version a positive number, each key at least 32 bytes
    /// (standard or URL-safe base64).
    pub fn parse(raw: &str) -> Result<Self, String> {
        let mut keys = BTreeMap::new();
        for part in raw.split(',').map(str::trim).filter(|p| !p.is_empty()) {
            let (version, key) = part
                .split_once(':')
                .ok_or_else(|| format!("{part:?} is not VERSION:BASE64KEY"))?;
            let version: u32 = version
                .trim()
                .parse()
                .ok()
                .filter(|v| *v > 0)
                .ok_or_else(|| format!("key version {version:?} is not a positive number"))?;
            let key = key.trim();
            let bytes = STANDARD
                .decode(key)
                .or_else(|_| URL_SAFE_NO_PAD.decode(key))
                .map_err(|_| format!("key version {version} is not base64"))?;
            if bytes.len() < MIN_KEY_BYTES {
                return Err(format!(
                    "key version {version} has {} bytes; at least {MIN_KEY_BYTES} random bytes",
                    bytes.len()
                ));
            }
            if keys.insert(version, bytes).is_some() {
                return Err(format!("key version {version} is given twice"));
            }
        }
        if keys.is_empty() {
            return Err("no key given".into());
        }
        Ok(Self { keys })
    }

    /// A new key of version 1 and its `PINPAY_PIN_KEYS` value.
    pub fn generate() -> (Self, String) {
        use rand::RngCore;
        let mut key = [0u8; 32];
        rand::rngs::OsRng.fill_bytes(&mut key);
        let value = format!("1:{}", STANDARD.encode(key));
        (Self::parse(&value).expect("a generated key parses"), value)
    }

    pub fn versions(&self) -> Vec<u32> {
        self.keys.keys().copied().collect()
    }

    /// The version new tags are made with.
    pub fn newest(&self) -> u32 {
        *self.keys.keys().next_back().expect("at least one key")
    }

    /// The key check value of `version` (as banks keep one beside each key): an HMAC of a
    /// fixed label under the key, so a database can remember which key each version was
    /// without holding the key. `None` for a version this server does not have.
    pub fn check_value(&self, version: u32) -> Option<String> {
        let key = self.keys.get(&version)?;
        let mut m = Hmac::<Sha256>::new_from_slice(key).expect("HMAC takes any key length");
        m.update(b"pinpay/pin-key-check/v1");
        Some(URL_SAFE_NO_PAD.encode(&m.finalize().into_bytes()[..12]))
    }

    /// The stored form of `pin` for the account, under the newest key.
    pub fn tag(&self, account_id: i64, pin: &str) -> String {
        let version = self.newest();
        format!(
            "{PREFIX}{version}${}",
            URL_SAFE_NO_PAD.encode(mac(&self.keys[&version], account_id, pin))
        )
    }

    /// Checks `pin` against the stored form, in constant time for a keyed tag.
    pub fn check(&self, stored: &str, account_id: i64, pin: &str) -> Verdict {
        match read(stored) {
            Stored::Argon2 => Verdict::Argon2,
            Stored::Unknown => Verdict::Unreadable,
            Stored::Keyed { version, tag } => {
                let Some(key) = self.keys.get(&version) else {
                    return Verdict::KeyMissing(version);
                };
                let Ok(tag) = URL_SAFE_NO_PAD.decode(tag) else {
                    return Verdict::Unreadable;
                };
                let m = keyed(key, account_id, pin);
                match m.verify_slice(&tag) {
                    Ok(()) => Verdict::Matches,
                    Err(_) => Verdict::Differs,
                }
            }
        }
    }

    /// Whether a stored form that matched should be tagged again (argon2, or an older key).
    pub fn needs_retag(&self, stored: &str) -> bool {
        !matches!(read(stored), Stored::Keyed { version, .. } if version == self.newest())
    }
}

/// What a stored PIN is.
pub fn read(stored: &str) -> Stored<'_> {
    if stored.starts_with("$argon2") {
        return Stored::Argon2;
    }
    let Some(rest) = stored.strip_prefix(PREFIX) else {
        return Stored::Unknown;
    };
    match rest.split_once('$') {
        Some((version, tag)) => match version.parse() {
            Ok(version) => Stored::Keyed { version, tag },
            Err(_) => Stored::Unknown,
        },
        None => Stored::Unknown,
    }
}

/// The `LIKE` pattern of tags under `version` (for counting them).
pub fn like_version(version: u32) -> String {
    format!("{PREFIX}{version}$%")
}

fn keyed(key: &[u8], account_id: i64, pin: &str) -> Hmac<Sha256> {
    let mut m = Hmac::<Sha256>::new_from_slice(key).expect("HMAC takes any key length");
    m.update(b"pinpay/pin/v1\n");
    m.update(account_id.to_string().as_bytes());
    m.update(b"\n");
    m.update(pin.as_bytes());
    m
}

fn mac(key: &[u8], account_id: i64, pin: &str) -> Vec<u8> {
    keyed(key, account_id, pin).finalize().into_bytes().to_vec()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn keys(raw: &str) -> PinKeys {
        PinKeys::parse(raw).unwrap()
    }
    const K1: &str = "1:AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=";
    const K2: &str = "2:ICEiIyQlJicoKSorLC0uLzAxMjM0NTY3ODk6Ozw9Pj8=";

    #[test]
    fn a_tag_matches_its_pin_account_and_key_only() {
        let one = keys(K1);
        let tag = one.tag(7, "482915");
        assert!(tag.starts_with("pinpay-hmac$v1$"), "{tag}");
        assert_eq!(one.check(&tag, 7, "482915"), Verdict::Matches);
        assert_eq!(one.check(&tag, 7, "482916"), Verdict::Differs);
        assert_eq!(one.check(&tag, 8, "482915"), Verdict::Differs);
        let other = keys("1:ICEiIyQlJicoKSorLC0uLzAxMjM0NTY3ODk6Ozw9Pj8=");
        assert_eq!(other.check(&tag, 7, "482915"), Verdict::Differs);
        assert_eq!(keys(K2).check(&tag, 7, "482915"), Verdict::KeyMissing(1));
    }

    #[test]
    fn the_newest_key_tags_and_older_tags_ask_for_a_new_one() {
        let both = keys(&format!("{K2},{K1}"));
        assert_eq!(both.newest(), 2);
        let old = keys(K1).tag(7, "482915");
        assert_eq!(both.check(&old, 7, "482915"), Verdict::Matches);
        assert!(both.needs_retag(&old));
        let new = both.tag(7, "482915");
        assert!(new.starts_with("pinpay-hmac$v2$"));
        assert!(!both.needs_retag(&new));
        assert!(both.needs_retag("$argon2id$v=19$m=19456,t=2,p=1$abc$def"));
        assert_eq!(both.check("$argon2id$v=19$x", 7, "1"), Verdict::Argon2);
        assert_eq!(both.check("garbage", 7, "1"), Verdict::Unreadable);
    }

    #[test]
    fn weak_or_malformed_keys_are_refused() {
        for bad in [
            "",
            "1:c2hvcnQ=",
            "0:AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=",
            "x:AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=",
            "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=",
            &format!("{K1},{K1}"),
        ] {
            assert!(PinKeys::parse(bad).is_err(), "{bad:?} was accepted");
        }
        let (generated, value) = PinKeys::generate();
        assert_eq!(generated.versions(), vec![1]);
        assert!(PinKeys::parse(&value).is_ok());
        assert!(!format!("{generated:?}").contains(&value[2..]));
    }
}
