//! Table definitions (kept by hand: one schema for both backends).

diesel::table! {
    accounts (id) {
        id -> BigInt,
        username -> Text,
        kind -> Text,
        password_hash -> Nullable<Text>,
        email -> Nullable<Text>,
        phone -> Nullable<Text>,
        company_name -> Nullable<Text>,
        iban -> Nullable<Text>,
        bic -> Nullable<Text>,
        balance -> BigInt,
        api_token_generation -> BigInt,
        pin_hash -> Nullable<Text>,
        pin_failed_attempts -> BigInt,
        pin_blocked_until -> Nullable<Timestamp>,
        created_at -> Timestamp,
        updated_at -> Timestamp,
    }
}

diesel::table! {
    refresh_tokens (id) {
        id -> BigInt,
        account_id -> BigInt,
        token_hash -> Text,
        expires_at -> Timestamp,
        revoked_at -> Nullable<Timestamp>,
        created_at -> Timestamp,
    }
}

diesel::table! {
    pin_checks (id) {
        id -> BigInt,
        account_id -> BigInt,
        started_at -> Timestamp,
    }
}

diesel::table! {
    ledger_transactions (id) {
        id -> BigInt,
        kind -> Text,
        related_id -> Nullable<BigInt>,
        external_ref -> Nullable<Text>,
        description -> Nullable<Text>,
        created_at -> Timestamp,
    }
}

diesel::table! {
    postings (id) {
        id -> BigInt,
        transaction_id -> BigInt,
        account_id -> BigInt,
        kind -> Text,
        amount -> BigInt,
        counterparty_id -> Nullable<BigInt>,
        created_at -> Timestamp,
    }
}

diesel::joinable!(refresh_tokens -> accounts (account_id));
diesel::joinable!(postings -> ledger_transactions (transaction_id));
diesel::joinable!(pin_checks -> accounts (account_id));
diesel::allow_tables_to_appear_in_same_query!(
    accounts,
    refresh_tokens,
    pin_checks,
    ledger_transactions,
    postings
);
