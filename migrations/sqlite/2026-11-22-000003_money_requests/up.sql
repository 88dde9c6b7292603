CREATE TABLE money_requests (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    public_id TEXT NOT NULL UNIQUE,
    merchant_id BIGINT NOT NULL REFERENCES accounts (id),
    -- NULL: an open payment link any wallet may pay.
    payer_id BIGINT REFERENCES accounts (id),
    status TEXT NOT NULL CHECK (status IN ('pending', 'approved', 'declined', 'expired', 'cancelled')),
    amount BIGINT NOT NULL CHECK (amount > 0),
    -- The fee the merchant pays on approval (estimated at creation, fixed at approval).
    fee BIGINT NOT NULL CHECK (fee >= 0),
    original_amount TEXT,
    original_currency TEXT,
    exchange_rate TEXT,
    description TEXT,
    reference TEXT,
    callback_url TEXT,
    metadata TEXT,
    expires_at TIMESTAMP NOT NULL,
    paid_by BIGINT REFERENCES accounts (id),
    payment_transaction_id BIGINT REFERENCES ledger_transactions (id),
    refunded_amount BIGINT NOT NULL DEFAULT 0 CHECK (refunded_amount >= 0 AND refunded_amount <= amount),
    decline_reason_code TEXT,
    decline_reason TEXT,
    resolved_at TIMESTAMP,
    created_at TIMESTAMP NOT NULL,
    updated_at TIMESTAMP NOT NULL
);
CREATE INDEX money_requests_merchant ON money_requests (merchant_id, id);
CREATE INDEX money_requests_payer ON money_requests (payer_id, status);
CREATE INDEX money_requests_due ON money_requests (status, expires_at);

CREATE TABLE money_request_events (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    request_id BIGINT NOT NULL REFERENCES money_requests (id),
    type TEXT NOT NULL,
    actor TEXT NOT NULL,
    detail TEXT,
    created_at TIMESTAMP NOT NULL
);
CREATE INDEX money_request_events_request ON money_request_events (request_id, id);

CREATE TABLE refunds (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    public_id TEXT NOT NULL UNIQUE,
    request_id BIGINT NOT NULL REFERENCES money_requests (id),
    amount BIGINT NOT NULL CHECK (amount > 0),
    reason TEXT,
    transaction_id BIGINT NOT NULL REFERENCES ledger_transactions (id),
    created_at TIMESTAMP NOT NULL
);
CREATE INDEX refunds_request ON refunds (request_id, id);

-- Transactional outbox: written in the same transaction as the state change it reports.
CREATE TABLE outbox_events (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    public_id TEXT NOT NULL UNIQUE,
    merchant_id BIGINT NOT NULL REFERENCES accounts (id),
    type TEXT NOT NULL,
    payload TEXT NOT NULL,
    target_url TEXT,
    status TEXT NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'delivered', 'failed')),
    attempts INTEGER NOT NULL DEFAULT 0,
    next_attempt_at TIMESTAMP NOT NULL,
    -- The instance delivering it now, until when (several instances share the outbox).
    lease_owner TEXT,
    lease_until TIMESTAMP,
    last_error TEXT,
    delivered_at TIMESTAMP,
    created_at TIMESTAMP NOT NULL
);
CREATE INDEX outbox_events_due ON outbox_events (status, next_attempt_at);
CREATE INDEX outbox_events_merchant ON outbox_events (merchant_id, id);

-- Idempotency-Key (IETF draft): the stored outcome per caller and key, kept 24 h.
CREATE TABLE idempotency_keys (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    scope TEXT NOT NULL,
    idempotency_key TEXT NOT NULL,
    request_hash TEXT NOT NULL,
    status TEXT NOT NULL CHECK (status IN ('in_flight', 'done')),
    response_status INTEGER,
    response_body TEXT,
    created_at TIMESTAMP NOT NULL,
    UNIQUE (scope, idempotency_key)
);
CREATE INDEX idempotency_keys_created ON idempotency_keys (created_at);

-- Operator overrides of the shipped exchange-rate table: units of currency per 1 EUR.
CREATE TABLE fx_rates (
    currency TEXT PRIMARY KEY,
    rate TEXT NOT NULL,
    updated_at TIMESTAMP NOT NULL
);
