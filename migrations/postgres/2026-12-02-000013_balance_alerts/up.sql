-- Low-balance alerts (issue 13): the threshold lives on the account row, so the ledger
-- sees it in the statement that moves the balance; `alert_armed` is false between an
-- alert and the balance's return above the threshold (one alert per crossing).
ALTER TABLE accounts ADD COLUMN alert_threshold BIGINT;
ALTER TABLE accounts ADD COLUMN alert_armed BOOLEAN NOT NULL DEFAULT TRUE;

CREATE TABLE balance_alert_settings (
    account_id BIGINT PRIMARY KEY REFERENCES accounts (id),
    threshold BIGINT NOT NULL CHECK (threshold > 0),
    recipients TEXT NOT NULL,
    enabled BOOLEAN NOT NULL,
    last_alert_at TIMESTAMP,
    updated_at TIMESTAMP NOT NULL
);

-- E-mail to send, queued in the transaction that decided it and delivered by a worker
-- through the notifier (retried, never lost on a restart).
CREATE TABLE notifications (
    id BIGSERIAL PRIMARY KEY,
    account_id BIGINT NOT NULL REFERENCES accounts (id),
    kind TEXT NOT NULL,
    recipient TEXT NOT NULL,
    subject TEXT NOT NULL,
    body TEXT NOT NULL,
    status TEXT NOT NULL CHECK (status IN ('queued', 'sent', 'failed')),
    attempts INTEGER NOT NULL DEFAULT 0,
    next_attempt_at TIMESTAMP NOT NULL,
    lease_owner TEXT,
    lease_until TIMESTAMP,
    last_error TEXT,
    created_at TIMESTAMP NOT NULL,
    sent_at TIMESTAMP
);
CREATE INDEX notifications_due ON notifications (status, next_attempt_at);
