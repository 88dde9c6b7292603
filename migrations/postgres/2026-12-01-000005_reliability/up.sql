-- An idempotency key in flight is held by a lease: the attempt that holds it stores its
-- outcome in the same transaction as its effect, so a key whose lease has lapsed has no
-- effect yet and may be taken over by a retry.
ALTER TABLE idempotency_keys ADD COLUMN lease_token TEXT NOT NULL DEFAULT '';
ALTER TABLE idempotency_keys ADD COLUMN lease_until TIMESTAMP;

-- Password guessing, counted per account and per client address: consecutive failures
-- and the time before which the next attempt is refused (exponential back-off).
CREATE TABLE auth_throttles (
    bucket TEXT PRIMARY KEY,
    failures INTEGER NOT NULL,
    blocked_until TIMESTAMP,
    updated_at TIMESTAMP NOT NULL
);
CREATE INDEX auth_throttles_updated ON auth_throttles (updated_at);
