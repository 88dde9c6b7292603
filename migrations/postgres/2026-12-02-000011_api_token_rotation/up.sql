-- Rolling API keys: one row per token generation of a merchant. A new token starts a
-- new generation; the earlier ones die at once or, with `previous_valid_for`, at
-- `revokes_at`. `revoked_at` is a revocation of that one token.
CREATE TABLE api_tokens (
    id BIGSERIAL PRIMARY KEY,
    public_id TEXT NOT NULL UNIQUE,
    account_id BIGINT NOT NULL REFERENCES accounts (id),
    generation BIGINT NOT NULL,
    created_at TIMESTAMP NOT NULL,
    expires_at TIMESTAMP NOT NULL,
    revokes_at TIMESTAMP,
    revoked_at TIMESTAMP,
    UNIQUE (account_id, generation)
);
