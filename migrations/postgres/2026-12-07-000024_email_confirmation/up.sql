-- A merchant confirms its e-mail address with a code mailed to it before PinPay spends
-- money on it (the 0.02 EUR verification payout). Accounts whose bank account is verified
-- already count as confirmed from then.
ALTER TABLE accounts ADD COLUMN email_confirmed_at TIMESTAMP;
UPDATE accounts SET email_confirmed_at = bank_verified_at WHERE bank_verified_at IS NOT NULL;

-- The one open confirmation code per account, kept only as a peppered hash. `sends` counts
-- the codes mailed since `window_start` (a rolling day), `failed_attempts` the wrong
-- codes entered against this one.
CREATE TABLE email_confirmations (
    account_id BIGINT PRIMARY KEY NOT NULL REFERENCES accounts (id),
    email TEXT NOT NULL,
    code_hash TEXT NOT NULL,
    failed_attempts INTEGER NOT NULL DEFAULT 0,
    expires_at TIMESTAMP NOT NULL,
    window_start TIMESTAMP NOT NULL,
    sends INTEGER NOT NULL,
    created_at TIMESTAMP NOT NULL
);
