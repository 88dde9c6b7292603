-- Passkeys (WebAuthn credentials) as a wallet's device factor. `passkey` is webauthn-rs's
-- stored credential (public key, signature counter) as JSON; `credential_id` is unique
-- across accounts, so one authenticator's credential belongs to one wallet.
CREATE TABLE passkeys (
    id BIGSERIAL PRIMARY KEY,
    public_id TEXT NOT NULL UNIQUE,
    account_id BIGINT NOT NULL REFERENCES accounts (id),
    name TEXT NOT NULL,
    credential_id TEXT NOT NULL UNIQUE,
    passkey TEXT NOT NULL,
    created_at TIMESTAMP NOT NULL,
    last_used_at TIMESTAMP
);
CREATE INDEX passkeys_by_account ON passkeys (account_id);

-- An open WebAuthn ceremony: a registration, or an approval's challenge. An approval's
-- challenge is SHA-256 over what it approves (operation, amount, currency, payee) and
-- `nonce`; it is used once (deleted) and lives a few minutes.
CREATE TABLE passkey_challenges (
    id BIGSERIAL PRIMARY KEY,
    account_id BIGINT NOT NULL REFERENCES accounts (id),
    purpose TEXT NOT NULL,
    challenge TEXT NOT NULL UNIQUE,
    operation TEXT,
    amount BIGINT,
    payee TEXT,
    nonce TEXT NOT NULL,
    state TEXT NOT NULL,
    expires_at TIMESTAMP NOT NULL,
    created_at TIMESTAMP NOT NULL
);
CREATE INDEX passkey_challenges_by_account ON passkey_challenges (account_id, expires_at);

-- Which factors confirmed a payer's operation ("pin" or "pin+passkey"): on the ledger
-- transaction it authorised and on the request's "approved" event.
ALTER TABLE ledger_transactions ADD COLUMN factors TEXT;
ALTER TABLE money_request_events ADD COLUMN factors TEXT;
