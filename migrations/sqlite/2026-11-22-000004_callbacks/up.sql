-- A merchant's callback settings: default URL and the Standard Webhooks signing secret;
-- after a rotation the previous secret keeps signing until previous_until.
CREATE TABLE merchant_callbacks (
    merchant_id BIGINT PRIMARY KEY REFERENCES accounts (id),
    url TEXT,
    secret TEXT NOT NULL,
    previous_secret TEXT,
    previous_until TIMESTAMP,
    updated_at TIMESTAMP NOT NULL
);

-- Every delivery attempt of an outbox event, with its outcome.
CREATE TABLE callback_attempts (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    event_id BIGINT NOT NULL REFERENCES outbox_events (id),
    attempt INTEGER NOT NULL,
    target_url TEXT,
    started_at TIMESTAMP NOT NULL,
    http_status INTEGER,
    error TEXT,
    next_attempt_at TIMESTAMP
);
CREATE INDEX callback_attempts_event ON callback_attempts (event_id, id);
