//! The catalogue of problem codes: the one place each `code` of a problem+json answer is
//! described. Its `type` is `/problems/{code}`, served from this table (`web::docs`), and
//! `ApiError::new` refuses (in debug builds, so every test) a code that is not here.

pub struct Problem {
    pub code: &'static str,
    pub status: u16,
    pub title: &'static str,
    /// What happened and what the caller can do about it.
    pub text: &'static str,
}

const fn p(code: &'static str, status: u16, title: &'static str, text: &'static str) -> Problem {
    Problem {
        code,
        status,
        title,
        text,
    }
}

/// Every code, in alphabetical order.
pub const CATALOGUE: &[Problem] = &[
    p("already_corporate_plus", 409, "Already Corporate+", "The merchant is Corporate+ already; there is nothing to apply for."),
    p("amount_out_of_range", 422, "Amount out of range", "The amount, or its EUR value after conversion, is below the minimum or above the maximum of one transaction. Send an amount within the tier's bounds (`GET /v1/fees`)."),
    p("api_access_requires_corporate_plus", 403, "API access requires Corporate+", "API tokens and the merchant API are for Corporate+ merchants. Apply for the free upgrade (the operator accepts it once the company documents are checked); until then use the app."),
    p("application_not_submitted", 409, "Application not submitted", "Only a submitted application can be accepted or rejected."),
    p("application_under_review", 409, "Application under review", "The application is with an operator; documents cannot be added and it cannot be submitted again until it is decided."),
    p("bad_request", 400, "Bad request", "The request could not be processed as sent (an HTTP-level error such as a malformed header). `detail` says what."),
    p("bank_account_already_verified", 409, "Bank account already verified", "The current bank account is verified; a new verification payout is not needed."),
    p("bank_account_changed", 409, "Bank account changed", "The bank account changed while the payout was being confirmed; nothing was paid out. Confirm the payout again."),
    p("bank_account_not_verified", 409, "Bank account not verified", "Verify the bank account first: `POST /v1/me/bank-account/verification` books a 0.02 EUR payout whose transfer subject carries a code; enter it at `POST /v1/me/bank-account/verify`."),
    p("bulk_requires_corporate_plus", 403, "Bulk entry requires Corporate+", "`POST /v1/money-requests/bulk` is a Corporate+ feature."),
    p("cannot_pay_own_request", 422, "Cannot pay your own request", "A merchant cannot approve a money request it created."),
    p("concurrent_update", 409, "Concurrent update", "Another change to the same data committed first. Retry the request (with the same Idempotency-Key)."),
    p("confirmation_code_invalid", 422, "Confirmation code invalid", "The code does not match. `attempts_remaining` says how many tries are left before the code is void."),
    p("confirmation_code_voided", 422, "Confirmation code void", "Three wrong codes void the code; ask for a new one."),
    p("confirmation_limit_reached", 429, "Confirmation limit reached", "At most 5 confirmation codes a rolling day; retry after the `Retry-After` seconds."),
    p("database_timeout", 503, "Database timeout", "The database did not answer within the call deadline (`PINPAY_DB_CALL_TIMEOUT_MS`), for example during a network loss. The outcome is unknown: retry with the same `Idempotency-Key` (it replays the outcome if the work committed), or read the current state, after the `Retry-After` seconds."),
    p("database_unavailable", 503, "Database unavailable", "The database cannot be reached right now. Nothing was changed; retry after the `Retry-After` seconds."),
    p("delivery_pending", 409, "Delivery pending", "The callback event is still being delivered or waits for its next retry; redeliver it once it has been delivered or has failed."),
    p("device_factor_required", 403, "Passkey required", "This operation needs a passkey's assertion as well as the PIN: the wallet has a passkey, or the amount is above PINPAY_SCA_DEVICE_REQUIRED_ABOVE. Ask for the operation's passkey challenge, have the passkey sign it and send the assertion as `webauthn`. `has_passkey` says whether the wallet has one. Nothing was counted against the PIN and nothing moved."),
    p("document_quota_exceeded", 429, "Document upload quota exceeded", "A merchant uploads at most 5 documents or 20 MiB in 24 hours before its bank account is verified, 40 documents or 200 MiB after (`max_documents`, `max_bytes`, `bank_account_verified` say which applied). Nothing of the refused upload was kept; wait the `Retry-After` seconds, or verify the bank account."),
    p("document_too_large", 413, "Document too large", "A document may have 10 MB at most. Nothing was stored."),
    p("documents_required", 422, "Documents required", "Upload the company documents (`POST /v1/me/upgrade/documents`) before submitting the application."),
    p("duplicate_bank_reference", 409, "Duplicate bank reference", "This bank reference was already booked with another account or amount. A repeat with the same account and amount returns the original booking."),
    p("duplicate_external_reference", 409, "Duplicate external reference", "A booking with this outside reference was committed by a concurrent call first. Retry: a repeat of the same booking returns it."),
    p("email_already_confirmed", 409, "E-mail address already confirmed", "The account's e-mail address is confirmed; no code is needed."),
    p("email_not_confirmed", 409, "E-mail address not confirmed", "Confirm the account's e-mail address first: `POST /v1/me/email/confirmation` mails a code, `POST /v1/me/email/confirm` takes it. A verification payout costs real money, so it is booked only for a confirmed address."),
    p("fully_refunded", 409, "Fully refunded", "The money request has been refunded in full; nothing is left to refund."),
    p("idempotency_key_in_flight", 409, "Idempotency key in flight", "The first request with this Idempotency-Key is still running. Retry shortly with the same key: you get its outcome once it is done."),
    p("idempotency_key_reused", 422, "Idempotency key reused", "This Idempotency-Key was used with another body or route. Use a new key for a new operation."),
    p("insufficient_funds", 422, "Insufficient funds", "The wallet's balance does not cover the amount (and its fee). Top up the wallet first."),
    p("internal_error", 500, "Internal error", "Something failed on PinPay's side; it is logged with the request id (`X-Request-Id`). Nothing half-done was kept. Retry later, with the same Idempotency-Key if you sent one."),
    p("invalid_amount", 422, "Invalid amount", "Amounts are strings with at most two decimals, such as \"12.50\"."),
    p("invalid_bic", 422, "Invalid BIC", "The BIC must have 8 or 11 characters (bank, country, location, optional branch)."),
    p("invalid_body", 422, "Invalid body", "The JSON is well-formed but does not fit the operation's schema (a missing or unknown field, or a value of the wrong type). `detail` names what is wrong."),
    p("invalid_callback_url", 422, "Invalid callback URL", "Callback URLs must be https and resolve to public addresses; redirects are not followed."),
    p("invalid_credentials", 401, "Invalid credentials", "The username or password is not correct. Repeated failures are slowed down (see `too_many_attempts`)."),
    p("invalid_iban", 422, "Invalid IBAN", "The IBAN's length or check digits (mod 97) are wrong."),
    p("invalid_idempotency_key", 400, "Invalid Idempotency-Key", "An Idempotency-Key is 1 to 255 printable ASCII characters."),
    p("invalid_multipart", 400, "Invalid multipart form", "The upload must be multipart/form-data with a text field `kind` and one file part `file`. `detail` says what was wrong."),
    p("invalid_pin_format", 422, "Invalid PIN format", "A PIN is exactly 6 digits."),
    p("invalid_query", 400, "Invalid query", "A query parameter is malformed or unknown; `detail` names it."),
    p("invalid_range", 422, "Invalid range", "The `from` date is after the `to` date, or the range is too long."),
    p("invoice_period_open", 409, "Month not ended", "An invoice covers a whole month and is issued once the month has ended in the account's calendar; ask again after that."),
    p("limit_exceeded", 422, "Limit exceeded", "A limit of the tier table would be exceeded (per transaction, per day or per year); `limit` names it and `party` says whose. Limits follow the calendar in the server's time zone."),
    p("link_already_addressed", 409, "Link already addressed", "This payment link has already been sent to a wallet's app; only that wallet can pay it now."),
    p("malformed_json", 400, "Malformed JSON", "The body is not valid JSON."),
    p("merchant_only", 403, "Merchants only", "This operation is for merchant accounts."),
    p("merchant_unavailable", 409, "Merchant unavailable", "The merchant can no longer receive payments."),
    p("method_not_allowed", 405, "Method not allowed", "The path exists but not with this method; the `Allow` header lists the methods it takes."),
    p("no_bank_account", 409, "No bank account", "A payout needs the account's own bank account (IBAN) on file."),
    p("no_confirmation_code", 409, "No confirmation code waiting", "No mailed code is open (codes are valid for 24 hours; a new one voids the last): ask for one with `POST /v1/me/email/confirmation`."),
    p("no_email", 409, "No e-mail address", "The account has no e-mail address to confirm."),
    p("no_open_application", 409, "No open application", "Open an application with `POST /v1/me/upgrade` first (an accepted one takes no more documents)."),
    p("no_passkey", 409, "No passkey", "The wallet has no passkey to challenge; register one with POST /v1/me/passkeys/registration and POST /v1/me/passkeys."),
    p("no_pending_verification", 409, "No pending verification", "No verification code waits for entry; request a verification payout first."),
    p("not_a_merchant", 409, "Not a merchant", "Only corporate accounts have a tier."),
    p("not_found", 404, "Not found", "Nothing with this id exists that the caller may see."),
    p("operator_api_disabled", 403, "Operator API disabled", "The operator API is off: the server runs without `PINPAY_ADMIN_TOKEN`."),
    p("passkey_already_registered", 409, "Passkey registered already", "This authenticator's credential is registered already."),
    p("passkey_binding_mismatch", 403, "Passkey signed something else", "The passkey signed a challenge for another operation, amount or payee than the one being confirmed (dynamic linking): ask for this operation's challenge. `signed_operation` and `signed_amount` say what was signed."),
    p("passkey_challenge_unknown", 403, "Passkey challenge unknown", "The assertion answers no open challenge of this wallet: it was used already (a challenge is used once), it expired (after 5 minutes), or it was made for another wallet. Ask for a new challenge."),
    p("passkey_invalid", 403, "Passkey assertion invalid", "The passkey's assertion (or attestation, when registering) does not verify: wrong signature, origin, user verification or counter. Nothing was counted against the PIN and nothing moved."),
    p("passkey_limit", 409, "Too many passkeys", "A wallet keeps at most 10 passkeys; delete one first."),
    p("payload_too_large", 413, "Payload too large", "The body is larger than the server accepts (256 KiB)."),
    p("payout_already_executed", 409, "Payout already executed", "The payout is marked executed already."),
    p("pin_authorisation_required", 422, "PIN authorisation required", "Changing the PIN needs the current PIN or the account password."),
    p("pin_blocked", 403, "PIN blocked", "Too many wrong PINs: the PIN is blocked until `blocked_until`. Nothing was paid."),
    p("pin_check_busy", 429, "PIN checks busy", "Too many PIN checks are running for this wallet at once; retry shortly."),
    p("pin_invalid", 403, "Wrong PIN", "The PIN is not correct; `attempts_remaining` says how many tries are left before it is blocked."),
    p("pin_key_missing", 503, "PIN key missing", "The PIN was tagged with a PIN key version this server does not have (PINPAY_PIN_KEYS). Nothing was counted against the PIN; the operator must add the key."),
    p("pin_not_set", 409, "No PIN set", "Set a 6-digit PIN first (`PUT /v1/me/pin`)."),
    p("pin_too_weak", 422, "PIN too weak", "The PIN is too easy to guess (a run such as 123456 or one digit repeated). Choose another."),
    p("push_subscription_limit", 409, "Too many push subscriptions", "A wallet holds at most 10 push subscriptions; remove one before adding another."),
    p("refund_exceeds_remaining", 422, "Refund exceeds the remainder", "The refund is larger than what is left of the payment after earlier refunds."),
    p("reload_already_resolved", 409, "Reload already resolved", "The reload order was confirmed, refused or failed already; a repeated confirmation books nothing."),
    p("reload_mismatch", 422, "Reload mismatch", "The confirmation names another amount or currency than the order; the order is refused and nothing is booked."),
    p("reload_pending", 409, "Reload pending", "A reload of this account is still pending; wait for its outcome before ordering another."),
    p("request_expired", 409, "Money request expired", "The money request passed its deadline; it can no longer be approved, declined or cancelled. Create a new one."),
    p("request_not_pending", 409, "Money request not pending", "The money request is already approved, declined, expired or cancelled (`request_status` says which)."),
    p("request_not_refundable", 409, "Not refundable", "Only approved money requests can be refunded."),
    p("request_timeout", 408, "Request timeout", "The request's body did not arrive in time. Send it again."),
    p("return_url_not_registered", 422, "return_url not registered", "A hosted page returns the browser only to origins the merchant registered: add the return_url's origin to `return_origins` with `PUT /v1/hosted-page`, then create the request."),
    p("route_not_found", 404, "No such route", "No route matches this path. The API reference is at `/docs`; sandbox routes exist only on a sandbox server."),
    p("statement_too_large", 422, "Statement too large", "The month holds more postings than one statement lists; export it in parts by date range from `/v1/transactions.csv`."),
    p("streams_busy", 503, "Event streams busy", "This instance holds as many event streams as it allows, so that they never starve the API. Retry after the `Retry-After` seconds (an EventSource does so by itself) or poll the status."),
    p("superseded_token", 403, "Superseded API token", "A newer API token replaced this one, which still works for payments during its grace period (`previous_valid_for`) but may not revoke tokens or change settings (callback URL and secret, hosted page, alerts, auto-reload): a leaked old key must not take the shop over. Use the newest token or the merchant's app session."),
    p("too_many_attempts", 429, "Too many attempts", "Too many failed passwords for this account or from this address. Wait the `Retry-After` seconds; the wait doubles with further failures and ends with a successful login."),
    p("too_many_documents", 409, "Too many documents", "An application holds 20 documents at most."),
    p("too_many_sends", 429, "Too many sends", "A payment link can be sent at most 5 times an hour; wait the `Retry-After` seconds."),
    p("too_many_streams", 429, "Too many event streams", "This client address, link or wallet already has as many event streams open as allowed. Close one, or wait the `Retry-After` seconds; an EventSource retries by itself."),
    p("unauthenticated", 401, "Unauthenticated", "The bearer token is missing, expired, revoked or of the wrong kind for this operation (merchant API token, app session or operator token: see the operation's security)."),
    p("unknown_account", 422, "Unknown account", "No wallet has this username."),
    p("unknown_payer", 422, "Unknown payer", "No PinPay wallet has this username."),
    p("unknown_recipient", 422, "Unknown recipient", "No wallet has this username."),
    p("unsupported_api_version", 400, "Unsupported API version", "The `PinPay-Version` header names a version this server does not know; `supported` lists the ones it does."),
    p("unsupported_currency", 422, "Unsupported currency", "There is no exchange rate for this currency. Send EUR, or ask the operator to add the rate."),
    p("unsupported_document_type", 422, "Unsupported document type", "Documents must be PDF, PNG or JPEG, recognised by their content (a file named .pdf that is not a PDF is refused). Nothing was stored."),
    p("unsupported_media_type", 415, "Unsupported media type", "Send the body as `application/json`."),
    p("upgrade_requires_accepted_application", 409, "Upgrade requires an accepted application", "An operator upgrades a merchant to Corporate+ by accepting its submitted application (`POST /v1/admin/applications/{id}/accept`); the tier route is for downgrades and corrections."),
    p("username_taken", 409, "Username taken", "Another account has this username. Choose another."),
    p("validation_failed", 422, "Validation failed", "A field breaks a rule; `field` names it and `detail` says which rule."),
    p("verification_code_expired", 409, "Verification code expired", "Codes are valid for 14 days; request a new verification payout."),
    p("verification_code_invalid", 422, "Verification code invalid", "The code does not match. `attempts_remaining` says how many tries are left before the code is void."),
    p("verification_code_voided", 422, "Verification code void", "Three wrong codes void the code; request a new verification payout (at most 3 a day)."),
    p("verification_limit_reached", 429, "Verification limit reached", "At most 3 verification payouts a day; retry after the `Retry-After` seconds."),
    p("verification_pending", 409, "Verification payout on its way", "A verification payout was sent less than 5 days ago and its code is still valid: enter the code from its transfer subject (`POST /v1/me/bank-account/verify`). Each payout costs real money, so another is sent only after 5 days, after 3 wrong codes void it, or for a new bank account."),
];

pub fn find(code: &str) -> Option<&'static Problem> {
    CATALOGUE.iter().find(|p| p.code == code)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_sorted_unique_and_snake_case() {
        let codes: Vec<&str> = CATALOGUE.iter().map(|p| p.code).collect();
        assert!(codes.len() > 50);
        let mut sorted = codes.clone();
        sorted.sort();
        sorted.dedup();
        assert_eq!(codes, sorted);
        assert!(codes
            .iter()
            .all(|c| c.chars().all(|ch| ch.is_ascii_lowercase() || ch == '_')));
    }

    /// Every code written in the source as an `ApiError` constructor's argument, or as
    /// a `code` chosen before the call, has its entry (a scan of `src/`).
    #[test]
    fn every_code_in_the_source_is_catalogued() {
        let mut missing = Vec::new();
        let mut seen = 0;
        for file in rust_files(std::path::Path::new(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/src"
        ))) {
            if file.ends_with("problems.rs") {
                continue;
            }
            let text = std::fs::read_to_string(&file).unwrap();
            for code in codes_in(&text) {
                seen += 1;
                if find(&code).is_none() {
                    missing.push(format!("{code} ({})", file.display()));
                }
            }
        }
        assert!(seen > 50, "the scan found only {seen} codes");
        assert!(missing.is_empty(), "not in the catalogue: {missing:?}");
    }

    fn rust_files(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
        let mut out = Vec::new();
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                out.extend(rust_files(&path));
            } else if path.extension().is_some_and(|e| e == "rs") {
                out.push(path);
            }
        }
        out
    }

    /// The first string literal in each call of a constructor that takes a code, and
    /// the literals a `let code = if …` chooses between.
    fn codes_in(text: &str) -> Vec<String> {
        const STARTS: [&str; 6] = [
            "::new(",
            "::bad_request(",
            "::forbidden(",
            "::conflict(",
            "::unprocessable(",
            "let code = if ",
        ];
        let mut found = Vec::new();
        for start in STARTS {
            for (at, _) in text.match_indices(start) {
                let before = &text[..at];
                let owner = before
                    .rsplit(|c: char| !c.is_alphanumeric())
                    .next()
                    .unwrap_or("");
                if start.starts_with("::") && owner != "ApiError" && owner != "Self" {
                    continue;
                }
                if owner == "Self" && !text.contains("pub struct ApiError") {
                    continue;
                }
                let rest = &text[at + start.len()..];
                let end = if start == "let code = if " {
                    rest.find(';').unwrap_or(rest.len())
                } else {
                    rest.find(')').unwrap_or(rest.len())
                };
                let call = &rest[..end];
                // A code given as a constant of the same file: `const NAME: &str = "code";`.
                let first = call.split(',').next().unwrap_or("").trim();
                if !first.is_empty() && first.chars().all(|c| c.is_ascii_uppercase() || c == '_') {
                    let decl = format!("const {first}: &str = \"");
                    if let Some(at) = text.find(&decl) {
                        let value = &text[at + decl.len()..];
                        found.push(value[..value.find('"').unwrap_or(0)].to_string());
                    }
                }
                let parts: Vec<&str> = call.split('"').collect();
                // Odd parts are literals; a literal compared with `==` is not a code.
                let literals = (1..parts.len())
                    .step_by(2)
                    .filter(|&i| !parts[i - 1].trim_end().ends_with("=="))
                    .map(|i| parts[i]);
                let take = if start == "let code = if " {
                    usize::MAX
                } else {
                    1
                };
                for lit in literals.take(take) {
                    if !lit.is_empty() && lit.chars().all(|c| c.is_ascii_lowercase() || c == '_') {
                        found.push(lit.to_string());
                    }
                }
            }
        }
        found
    }
}
