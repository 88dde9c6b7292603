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
        debited_total -> BigInt,
        bank_verified_at -> Nullable<Timestamp>,
        alert_threshold -> Nullable<BigInt>,
        alert_armed -> Bool,
        reload_threshold -> Nullable<BigInt>,
        booking_clock -> Timestamp,
        email_confirmed_at -> Nullable<Timestamp>,
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
        factors -> Nullable<Text>,
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
        debited_through -> BigInt,
        balance_after -> BigInt,
    }
}

diesel::joinable!(refresh_tokens -> accounts (account_id));
diesel::joinable!(postings -> ledger_transactions (transaction_id));
diesel::joinable!(pin_checks -> accounts (account_id));

diesel::table! {
    money_requests (id) {
        id -> BigInt,
        public_id -> Text,
        merchant_id -> BigInt,
        payer_id -> Nullable<BigInt>,
        status -> Text,
        amount -> BigInt,
        fee -> BigInt,
        original_amount -> Nullable<Text>,
        original_currency -> Nullable<Text>,
        exchange_rate -> Nullable<Text>,
        description -> Nullable<Text>,
        reference -> Nullable<Text>,
        callback_url -> Nullable<Text>,
        metadata -> Nullable<Text>,
        expires_at -> Timestamp,
        paid_by -> Nullable<BigInt>,
        payment_transaction_id -> Nullable<BigInt>,
        refunded_amount -> BigInt,
        decline_reason_code -> Nullable<Text>,
        decline_reason -> Nullable<Text>,
        resolved_at -> Nullable<Timestamp>,
        created_at -> Timestamp,
        updated_at -> Timestamp,
        kind -> Text,
        return_url -> Nullable<Text>,
    }
}

diesel::table! {
    hosted_page_settings (merchant_id) {
        merchant_id -> BigInt,
        frame_ancestors -> Text,
        updated_at -> Timestamp,
        return_origins -> Text,
    }
}

diesel::table! {
    link_sends (id) {
        id -> BigInt,
        public_id -> Text,
        request_id -> BigInt,
        channel -> Text,
        recipient -> Text,
        language -> Text,
        status -> Text,
        attempts -> Integer,
        next_attempt_at -> Timestamp,
        lease_owner -> Nullable<Text>,
        lease_until -> Nullable<Timestamp>,
        last_error -> Nullable<Text>,
        sent_at -> Nullable<Timestamp>,
        created_at -> Timestamp,
    }
}

diesel::table! {
    money_request_events (id) {
        id -> BigInt,
        request_id -> BigInt,
        #[sql_name = "type"]
        event_type -> Text,
        actor -> Text,
        detail -> Nullable<Text>,
        created_at -> Timestamp,
        factors -> Nullable<Text>,
    }
}

diesel::table! {
    push_subscriptions (id) {
        id -> BigInt,
        account_id -> BigInt,
        endpoint -> Text,
        p256dh -> Text,
        auth -> Text,
        language -> Text,
        created_at -> Timestamp,
    }
}

diesel::table! {
    app_sessions (id) {
        id -> BigInt,
        token_hash -> Text,
        account_id -> BigInt,
        created_at -> Timestamp,
        last_seen_at -> Timestamp,
    }
}

diesel::table! {
    pin_key_checks (version) {
        version -> Integer,
        check_value -> Text,
        created_at -> Timestamp,
    }
}

diesel::table! {
    passkeys (id) {
        id -> BigInt,
        public_id -> Text,
        account_id -> BigInt,
        name -> Text,
        credential_id -> Text,
        passkey -> Text,
        created_at -> Timestamp,
        last_used_at -> Nullable<Timestamp>,
    }
}

diesel::table! {
    passkey_challenges (id) {
        id -> BigInt,
        account_id -> BigInt,
        purpose -> Text,
        challenge -> Text,
        operation -> Nullable<Text>,
        amount -> Nullable<BigInt>,
        payee -> Nullable<Text>,
        nonce -> Text,
        state -> Text,
        expires_at -> Timestamp,
        created_at -> Timestamp,
    }
}

diesel::table! {
    refunds (id) {
        id -> BigInt,
        public_id -> Text,
        request_id -> BigInt,
        amount -> BigInt,
        reason -> Nullable<Text>,
        transaction_id -> BigInt,
        created_at -> Timestamp,
    }
}

diesel::table! {
    outbox_events (id) {
        id -> BigInt,
        public_id -> Text,
        merchant_id -> BigInt,
        #[sql_name = "type"]
        event_type -> Text,
        payload -> Text,
        target_url -> Nullable<Text>,
        status -> Text,
        attempts -> Integer,
        next_attempt_at -> Timestamp,
        lease_owner -> Nullable<Text>,
        lease_until -> Nullable<Timestamp>,
        last_error -> Nullable<Text>,
        delivered_at -> Nullable<Timestamp>,
        created_at -> Timestamp,
    }
}

diesel::table! {
    merchant_callbacks (merchant_id) {
        merchant_id -> BigInt,
        url -> Nullable<Text>,
        secret -> Text,
        previous_secret -> Nullable<Text>,
        previous_until -> Nullable<Timestamp>,
        updated_at -> Timestamp,
    }
}

diesel::table! {
    callback_attempts (id) {
        id -> BigInt,
        event_id -> BigInt,
        attempt -> Integer,
        target_url -> Nullable<Text>,
        started_at -> Timestamp,
        http_status -> Nullable<Integer>,
        error -> Nullable<Text>,
        next_attempt_at -> Nullable<Timestamp>,
        duration_ms -> Nullable<Integer>,
        error_class -> Nullable<Text>,
    }
}

diesel::table! {
    idempotency_keys (id) {
        id -> BigInt,
        scope -> Text,
        idempotency_key -> Text,
        request_hash -> Text,
        status -> Text,
        response_status -> Nullable<Integer>,
        response_body -> Nullable<Text>,
        created_at -> Timestamp,
        lease_token -> Text,
        lease_until -> Nullable<Timestamp>,
    }
}

diesel::table! {
    auth_throttles (bucket) {
        bucket -> Text,
        failures -> Integer,
        blocked_until -> Nullable<Timestamp>,
        updated_at -> Timestamp,
    }
}

diesel::table! {
    fx_rates (currency) {
        currency -> Text,
        rate -> Text,
        updated_at -> Timestamp,
    }
}

diesel::table! {
    server_environment (id) {
        id -> Integer,
        environment -> Text,
        clock_offset_micros -> BigInt,
        created_at -> Timestamp,
        updated_at -> Timestamp,
    }
}

diesel::joinable!(money_request_events -> money_requests (request_id));
diesel::joinable!(refunds -> money_requests (request_id));
diesel::joinable!(callback_attempts -> outbox_events (event_id));

diesel::table! {
    api_tokens (id) {
        id -> BigInt,
        public_id -> Text,
        account_id -> BigInt,
        generation -> BigInt,
        created_at -> Timestamp,
        expires_at -> Timestamp,
        revokes_at -> Nullable<Timestamp>,
        revoked_at -> Nullable<Timestamp>,
    }
}

diesel::table! {
    payouts (id) {
        id -> BigInt,
        public_id -> Text,
        account_id -> BigInt,
        purpose -> Text,
        amount -> BigInt,
        iban -> Text,
        bic -> Nullable<Text>,
        subject -> Text,
        status -> Text,
        transaction_id -> BigInt,
        created_at -> Timestamp,
        executed_at -> Nullable<Timestamp>,
    }
}

diesel::table! {
    email_confirmations (account_id) {
        account_id -> BigInt,
        email -> Text,
        code_hash -> Text,
        failed_attempts -> Integer,
        expires_at -> Timestamp,
        window_start -> Timestamp,
        sends -> Integer,
        created_at -> Timestamp,
    }
}

diesel::table! {
    bank_verifications (id) {
        id -> BigInt,
        account_id -> BigInt,
        iban -> Text,
        code_hash -> Text,
        status -> Text,
        failed_attempts -> Integer,
        payout_id -> BigInt,
        created_at -> Timestamp,
        expires_at -> Timestamp,
        resolved_at -> Nullable<Timestamp>,
    }
}

diesel::table! {
    upgrade_applications (id) {
        id -> BigInt,
        public_id -> Text,
        account_id -> BigInt,
        status -> Text,
        rejection_reason -> Nullable<Text>,
        created_at -> Timestamp,
        submitted_at -> Nullable<Timestamp>,
        decided_at -> Nullable<Timestamp>,
        updated_at -> Timestamp,
    }
}

diesel::table! {
    application_documents (id) {
        id -> BigInt,
        public_id -> Text,
        application_id -> BigInt,
        kind -> Text,
        filename -> Text,
        content_type -> Text,
        size -> BigInt,
        sha256 -> Text,
        content -> Binary,
        created_at -> Timestamp,
        complete -> Bool,
    }
}

diesel::table! {
    document_chunks (document_id, seq) {
        document_id -> BigInt,
        seq -> Integer,
        bytes -> Binary,
    }
}

diesel::table! {
    audit_log (id) {
        id -> BigInt,
        actor -> Text,
        action -> Text,
        target -> Text,
        detail -> Nullable<Text>,
        created_at -> Timestamp,
    }
}

diesel::table! {
    balance_alert_settings (account_id) {
        account_id -> BigInt,
        threshold -> BigInt,
        recipients -> Text,
        enabled -> Bool,
        last_alert_at -> Nullable<Timestamp>,
        updated_at -> Timestamp,
    }
}

diesel::table! {
    notifications (id) {
        id -> BigInt,
        account_id -> BigInt,
        kind -> Text,
        recipient -> Text,
        subject -> Text,
        body -> Text,
        status -> Text,
        attempts -> Integer,
        next_attempt_at -> Timestamp,
        lease_owner -> Nullable<Text>,
        lease_until -> Nullable<Timestamp>,
        last_error -> Nullable<Text>,
        created_at -> Timestamp,
        sent_at -> Nullable<Timestamp>,
    }
}

diesel::table! {
    auto_reload_settings (account_id) {
        account_id -> BigInt,
        enabled -> Bool,
        replenish_amount -> BigInt,
        recurring_amount -> BigInt,
        provider -> Text,
        consecutive_failures -> Integer,
        disabled_reason -> Nullable<Text>,
        updated_at -> Timestamp,
    }
}

diesel::table! {
    reload_orders (id) {
        id -> BigInt,
        public_id -> Text,
        account_id -> BigInt,
        provider -> Text,
        origin -> Text,
        amount -> BigInt,
        currency -> Text,
        status -> Text,
        reason -> Nullable<Text>,
        transaction_id -> Nullable<BigInt>,
        created_at -> Timestamp,
        resolved_at -> Nullable<Timestamp>,
        provider_reference -> Nullable<Text>,
        payment_url -> Nullable<Text>,
        submit_attempts -> Integer,
        next_submit_at -> Nullable<Timestamp>,
    }
}

diesel::table! {
    invoice_sequences (issuer) {
        issuer -> Text,
        last_number -> BigInt,
    }
}

diesel::table! {
    invoices (id) {
        id -> BigInt,
        number -> BigInt,
        account_id -> BigInt,
        period -> Text,
        company_name -> Text,
        total -> BigInt,
        issued_at -> Timestamp,
    }
}

diesel::table! {
    link_pushes (account_id, request_id) {
        account_id -> BigInt,
        request_id -> BigInt,
        created_at -> Timestamp,
    }
}

diesel::table! {
    sandbox_clocks (account_id) {
        account_id -> BigInt,
        offset_micros -> BigInt,
        updated_at -> Timestamp,
    }
}

diesel::table! {
    ended_sessions (jti) {
        jti -> Text,
        expires_at -> Timestamp,
    }
}

diesel::table! {
    login_addresses (account_bucket, address_bucket) {
        account_bucket -> Text,
        address_bucket -> Text,
        last_success -> Timestamp,
    }
}

diesel::allow_tables_to_appear_in_same_query!(
    accounts,
    app_sessions,
    push_subscriptions,
    pin_key_checks,
    passkeys,
    passkey_challenges,
    document_chunks,
    ended_sessions,
    link_pushes,
    login_addresses,
    sandbox_clocks,
    auto_reload_settings,
    reload_orders,
    invoice_sequences,
    invoices,
    balance_alert_settings,
    notifications,
    api_tokens,
    payouts,
    bank_verifications,
    email_confirmations,
    upgrade_applications,
    application_documents,
    audit_log,
    refresh_tokens,
    pin_checks,
    ledger_transactions,
    postings,
    money_requests,
    money_request_events,
    refunds,
    outbox_events,
    idempotency_keys,
    auth_throttles,
    fx_rates,
    merchant_callbacks,
    callback_attempts,
);
