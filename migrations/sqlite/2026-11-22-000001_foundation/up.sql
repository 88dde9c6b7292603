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
    pin_failed_attempts INTEGER NOT NULL DEFAULT 0,
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
