CREATE TABLE accounts (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    username TEXT NOT NULL UNIQUE,
    kind TEXT NOT NULL CHECK (kind IN ('private', 'corporate', 'corporate_plus', 'system')),
    password_hash TEXT,
    email TEXT,
    phone TEXT,
    company_name TEXT,
    iban TEXT,
    bic TEXT,
    balance BIGINT NOT NULL DEFAULT 0 CHECK (kind = 'system' OR balance >= 0),
    api_token_generation BIGINT NOT NULL DEFAULT 0,
    pin_hash TEXT,
    pin_failed_attempts BIGINT NOT NULL DEFAULT 0,
    pin_blocked_until TIMESTAMP,
    created_at TIMESTAMP NOT NULL,
    updated_at TIMESTAMP NOT NULL
);

CREATE TABLE refresh_tokens (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    account_id BIGINT NOT NULL REFERENCES accounts (id),
    token_hash TEXT NOT NULL UNIQUE,
    expires_at TIMESTAMP NOT NULL,
    revoked_at TIMESTAMP,
    created_at TIMESTAMP NOT NULL
);
CREATE INDEX refresh_tokens_account ON refresh_tokens (account_id);

-- PIN checks in flight: counted with the failures so that concurrent guesses cannot
-- exceed the limit; a row older than its lease (a crashed check) no longer counts.
CREATE TABLE pin_checks (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    account_id BIGINT NOT NULL REFERENCES accounts (id),
    started_at TIMESTAMP NOT NULL
);
CREATE INDEX pin_checks_account ON pin_checks (account_id, started_at);
