//! How strong a configured secret is: an estimate of its entropy from its length and the
//! character classes it uses, discounted for repetition (`abcabcabc…`, `aaaa…`), so that
//! production refuses an operator token a person made up or typed by pattern; and secrets
//! compared in constant time.

use sha2::{Digest, Sha256};

/// Compares two secrets in time independent of where they differ.
pub fn constant_time_eq(a: &str, b: &str) -> bool {
    let (da, db) = (Sha256::digest(a.as_bytes()), Sha256::digest(b.as_bytes()));
    da.iter()
        .zip(db.iter())
        .fold(0u8, |acc, (x, y)| acc | (x ^ y))
        == 0
}

/// Bits of entropy a secret of `s`'s length and alphabet could carry at most, counted
/// over its distinct characters' share: a repeated pattern counts once.
pub fn estimated_bits(s: &str) -> f64 {
    let chars: Vec<char> = s.chars().collect();
    if chars.is_empty() {
        return 0.0;
    }
    let has = |f: fn(&char) -> bool| chars.iter().any(f);
    let mut alphabet = 0u32;
    if has(char::is_ascii_lowercase) {
        alphabet += 26;
    }
    if has(char::is_ascii_uppercase) {
        alphabet += 26;
    }
    if has(char::is_ascii_digit) {
        alphabet += 10;
    }
    if has(|c| !c.is_ascii_alphanumeric()) {
        alphabet += 33;
    }
    let per_char = f64::from(alphabet.max(2)).log2();
    // A string made of a repeated unit carries the unit's entropy only.
    let period = (1..=chars.len())
        .find(|&p| chars.len().is_multiple_of(p) && chars.chunks(p).all(|c| c == &chars[..p]))
        .unwrap_or(chars.len());
    let mut distinct = chars[..period].to_vec();
    distinct.sort_unstable();
    distinct.dedup();
    // Few distinct characters: each carries at most log2(distinct) bits.
    let per_char = per_char.min(f64::from(distinct.len().max(2) as u32).log2());
    per_char * period as f64
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn random_tokens_pass_and_patterns_do_not() {
        // 32 random hex characters: 128 bits.
        assert!(estimated_bits("9f2c4e7a1b3d5f60718293a4b5c6d7e8") >= 128.0);
        // 43 URL-safe base64 characters (openssl rand -base64 32): about 256 bits.
        assert!(estimated_bits("q3VtY2Fm-ZXJ_aGFwcHlwaW5wYXlvcGVyYXRvcjIwMjY") >= 128.0);
        assert!(estimated_bits(&"a".repeat(64)) < 16.0);
        assert!(estimated_bits(&"abcd".repeat(16)) < 16.0);
        assert!(estimated_bits(&"operator-token-".repeat(4)) < 128.0);
        assert!(estimated_bits("0123456789012345678901234567890123") < 128.0);
        assert!(estimated_bits("") == 0.0);
    }
}
