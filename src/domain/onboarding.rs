//! Pure rules of merchant onboarding: the bank-account verification code, the limits on
//! verification requests, and the documents an application accepts (recognised by their
//! content, never by their name).

use crate::error::ApiError;
use actix_web::http::StatusCode;

/// The verification payout: 0.02 EUR.
pub const VERIFICATION_AMOUNT_CENTS: i64 = 2;
/// Wrong codes before the code is void.
pub const MAX_WRONG_CODES: i32 = 3;
/// Verification payouts a merchant may ask for per calendar day.
/// A verification payout on its way blocks another for this long (a SEPA transfer takes a
/// business day or two; each payout costs real money), unless it was voided or the bank
/// account changed.
pub const RESEND_AFTER_DAYS: i64 = 5;
pub const MAX_VERIFICATIONS_PER_DAY: i64 = 3;
/// How long a code stays valid (a bank transfer takes a few days to arrive).
pub const CODE_VALID_DAYS: i64 = 14;
pub const CODE_LEN: usize = 6;
/// Letters and digits that cannot be mistaken for one another on a bank statement.
const CODE_ALPHABET: &[u8] = b"ABCDEFGHJKLMNPQRSTUVWXYZ23456789";

/// A fresh one-time code.
pub fn new_code() -> String {
    use rand::Rng;
    let mut rng = rand::rngs::OsRng;
    (0..CODE_LEN)
        .map(|_| CODE_ALPHABET[rng.gen_range(0..CODE_ALPHABET.len())] as char)
        .collect()
}

/// The code as the merchant typed it: case and spaces do not matter.
pub fn normalise_code(raw: &str) -> Result<String, ApiError> {
    let code: String = raw
        .chars()
        .filter(|c| !c.is_whitespace() && *c != '-')
        .collect::<String>()
        .to_ascii_uppercase();
    if code.len() != CODE_LEN || !code.bytes().all(|b| b.is_ascii_alphanumeric()) {
        return Err(ApiError::invalid_field(
            "code",
            "the 6-character code of letters and digits you were sent",
        ));
    }
    Ok(code)
}

/// How long an e-mailed confirmation code stays valid.
pub const EMAIL_CODE_VALID_HOURS: i64 = 24;
/// Confirmation codes mailed to one account per rolling day.
pub const MAX_EMAIL_CODES_PER_DAY: i32 = 5;

/// The peppered hash a one-time code is kept as (the account's id binds it to its owner).
pub fn code_hash(pepper: &str, account_id: i64, code: &str) -> String {
    use sha2::{Digest, Sha256};
    let mut h = Sha256::new();
    for part in [pepper, "\n", &account_id.to_string(), "\n", code] {
        h.update(part.as_bytes());
    }
    hex::encode(h.finalize())
}

/// What the transfer's subject says.
pub fn subject(code: &str) -> String {
    format!("PinPay Bestaetigungs-Code {code}")
}

/// The subject once the payout is executed: the code is no longer kept in clear.
pub fn redacted_subject() -> String {
    subject("******")
}

/// The kinds of documents an application takes.
pub const DOCUMENT_KINDS: &[&str] = &[
    "commercial_register",
    "business_registration",
    "bank_statement",
    "id_document",
    "address_proof",
    "other",
];
pub const MAX_DOCUMENT_BYTES: usize = 10 * 1024 * 1024;
pub const MAX_DOCUMENTS: i64 = 20;

pub fn document_kind(raw: &str) -> Result<&'static str, ApiError> {
    DOCUMENT_KINDS
        .iter()
        .find(|k| **k == raw)
        .copied()
        .ok_or_else(|| {
            ApiError::invalid_field("kind", format!("one of {}", DOCUMENT_KINDS.join(", ")))
        })
}

/// The content type the bytes really have: PDF, PNG or JPEG by their magic numbers.
pub fn sniff(content: &[u8]) -> Result<&'static str, ApiError> {
    if content.starts_with(b"%PDF-") {
        Ok("application/pdf")
    } else if content.starts_with(b"\x89PNG\r\n\x1a\n") {
        Ok("image/png")
    } else if content.starts_with(&[0xFF, 0xD8, 0xFF]) {
        Ok("image/jpeg")
    } else {
        Err(ApiError::unprocessable(
            "unsupported_document_type",
            "Documents must be PDF, PNG or JPEG files; this file's content is none of them \
             (its name does not count).",
        ))
    }
}

pub fn too_large() -> ApiError {
    ApiError::new(
        StatusCode::PAYLOAD_TOO_LARGE,
        "document_too_large",
        "A document may have 10 MB at most.",
    )
    .with("max_bytes", MAX_DOCUMENT_BYTES)
}

/// A file name fit to show and to send back in `Content-Disposition`: its last path
/// part, printable ASCII without quotes, at most 100 characters.
pub fn clean_filename(raw: &str) -> String {
    let base = raw.rsplit(['/', '\\']).next().unwrap_or_default();
    let clean: String = base
        .chars()
        .filter(|c| c.is_ascii_graphic() || *c == ' ')
        .filter(|c| !matches!(c, '"' | ';' | '\\'))
        .take(100)
        .collect();
    if clean.trim().is_empty() {
        "document".into()
    } else {
        clean.trim().to_string()
    }
}

/// A payout or an application that needs a bank account first.
pub fn no_bank_account() -> ApiError {
    ApiError::conflict(
        "no_bank_account",
        "Add a bank account (IBAN) first: PUT /v1/me/bank-account.",
    )
}

pub fn bank_account_not_verified() -> ApiError {
    ApiError::conflict(
        "bank_account_not_verified",
        "Verify the bank account first: POST /v1/me/bank-account/verification, then enter \
         the code from the transfer's subject at POST /v1/me/bank-account/verify.",
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_use_the_unambiguous_alphabet_and_normalise() {
        for _ in 0..100 {
            let c = new_code();
            assert_eq!(c.len(), CODE_LEN);
            assert!(c.bytes().all(|b| CODE_ALPHABET.contains(&b)), "{c}");
        }
        assert_eq!(normalise_code(" ab3-d9k ").unwrap(), "AB3D9K");
        assert!(normalise_code("ABCDE").is_err());
        assert!(normalise_code("ABCDEF1").is_err());
        assert!(normalise_code("ABC DÉ").is_err());
    }

    #[test]
    fn documents_are_recognised_by_their_content() {
        assert_eq!(sniff(b"%PDF-1.7\n...").unwrap(), "application/pdf");
        assert_eq!(sniff(b"\x89PNG\r\n\x1a\n....").unwrap(), "image/png");
        assert_eq!(sniff(&[0xFF, 0xD8, 0xFF, 0xE0]).unwrap(), "image/jpeg");
        assert!(sniff(b"<html><body>%PDF-</body></html>").is_err());
        assert!(sniff(b"\x7fELF\x02\x01\x01").is_err());
        assert!(sniff(b"MZ\x90\x00").is_err());
        assert!(sniff(b"").is_err());
    }

    #[test]
    fn file_names_lose_paths_and_quotes() {
        assert_eq!(clean_filename("C:\\x\\evil\".pdf"), "evil.pdf");
        assert_eq!(clean_filename("../../etc/passwd"), "passwd");
        assert_eq!(clean_filename(""), "document");
    }
}
