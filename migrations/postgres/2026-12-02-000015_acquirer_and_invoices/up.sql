-- Reload orders sent to a card acquirer over HTTP (issue 13): the acquirer's reference
-- and the page where the payer completes the order, and the submission's retry state
-- (an order is claimed for a submission by moving next_submit_at ahead).
ALTER TABLE reload_orders ADD COLUMN provider_reference TEXT;
ALTER TABLE reload_orders ADD COLUMN payment_url TEXT;
ALTER TABLE reload_orders ADD COLUMN submit_attempts INTEGER NOT NULL DEFAULT 0;
ALTER TABLE reload_orders ADD COLUMN next_submit_at TIMESTAMP;
CREATE INDEX reload_orders_pending ON reload_orders (provider, created_at) WHERE status = 'pending';

-- Monthly fee invoices of merchants: one per account and month, numbered without gaps
-- by one counter per issuer (its row lock orders concurrent issues).
CREATE TABLE invoice_sequences (
    issuer TEXT PRIMARY KEY,
    last_number BIGINT NOT NULL
);
INSERT INTO invoice_sequences (issuer, last_number) VALUES ('pinpay', 0);

CREATE TABLE invoices (
    id BIGSERIAL PRIMARY KEY,
    number BIGINT NOT NULL UNIQUE,
    account_id BIGINT NOT NULL REFERENCES accounts (id),
    period TEXT NOT NULL,
    company_name TEXT NOT NULL,
    total BIGINT NOT NULL CHECK (total > 0),
    issued_at TIMESTAMP NOT NULL,
    UNIQUE (account_id, period)
);
