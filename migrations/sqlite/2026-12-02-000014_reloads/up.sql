-- Reloads (issue 13): top-ups through a payment provider, ordered by hand or by
-- auto-reload, booked once when the provider's MAC-verified confirmation arrives.
-- While auto-reload is on, its threshold sits on the account row for the ledger.
ALTER TABLE accounts ADD COLUMN reload_threshold BIGINT;

CREATE TABLE auto_reload_settings (
    account_id BIGINT PRIMARY KEY REFERENCES accounts (id),
    enabled BOOLEAN NOT NULL,
    replenish_amount BIGINT NOT NULL CHECK (replenish_amount > 0),
    recurring_amount BIGINT NOT NULL CHECK (recurring_amount > 0),
    provider TEXT NOT NULL,
    consecutive_failures INTEGER NOT NULL DEFAULT 0,
    disabled_reason TEXT,
    updated_at TIMESTAMP NOT NULL
);

CREATE TABLE reload_orders (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    public_id TEXT NOT NULL UNIQUE,
    account_id BIGINT NOT NULL REFERENCES accounts (id),
    provider TEXT NOT NULL,
    origin TEXT NOT NULL CHECK (origin IN ('manual', 'auto')),
    amount BIGINT NOT NULL CHECK (amount > 0),
    currency TEXT NOT NULL,
    status TEXT NOT NULL CHECK (status IN ('pending', 'confirmed', 'refused', 'failed')),
    reason TEXT,
    transaction_id BIGINT REFERENCES ledger_transactions (id),
    created_at TIMESTAMP NOT NULL,
    resolved_at TIMESTAMP
);
-- One pending order per account at a time: concurrent debits below the threshold order
-- one reload, not one each.
CREATE UNIQUE INDEX reload_orders_one_pending ON reload_orders (account_id) WHERE status = 'pending';
CREATE INDEX reload_orders_by_account ON reload_orders (account_id, id);
