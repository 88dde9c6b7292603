-- Signed-in sessions of the wallet app (and, later, the dashboard and the console): the
-- cookie holds a random token, the database only its SHA-256. A session ends when it
-- has been idle too long, at its absolute lifetime, on sign-out, or when its account
-- signs out everywhere.
CREATE TABLE app_sessions (
    id INTEGER PRIMARY KEY AUTOINCREMENT NOT NULL,
    token_hash TEXT NOT NULL UNIQUE,
    account_id BIGINT NOT NULL REFERENCES accounts(id),
    created_at TIMESTAMP NOT NULL,
    last_seen_at TIMESTAMP NOT NULL
);
CREATE INDEX app_sessions_account ON app_sessions (account_id);
CREATE INDEX app_sessions_last_seen ON app_sessions (last_seen_at);
