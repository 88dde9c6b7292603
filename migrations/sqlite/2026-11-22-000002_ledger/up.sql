-- System accounts of the double-entry ledger; they never log in and, unlike wallets,
-- may go negative (bank_clearing mirrors money that entered from bank accounts).
INSERT INTO accounts (username, kind, created_at, updated_at)
VALUES ('fees', 'system', CURRENT_TIMESTAMP, CURRENT_TIMESTAMP),
       ('bank_clearing', 'system', CURRENT_TIMESTAMP, CURRENT_TIMESTAMP);

CREATE TABLE ledger_transactions (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    kind TEXT NOT NULL CHECK (kind IN ('deposit', 'payment', 'fee', 'refund', 'transfer', 'payout', 'adjustment')),
    -- For a fee: the movement it was charged on.
    related_id BIGINT REFERENCES ledger_transactions (id),
    -- A unique outside reference, e.g. the bank reference of a deposit.
    external_ref TEXT UNIQUE,
    description TEXT,
    created_at TIMESTAMP NOT NULL
);

-- Signed amounts in cents: credit > 0, debit < 0. The postings of one transaction sum
-- to zero; an account's balance is the sum of its postings.
CREATE TABLE postings (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    transaction_id BIGINT NOT NULL REFERENCES ledger_transactions (id),
    account_id BIGINT NOT NULL REFERENCES accounts (id),
    -- The transaction's kind, repeated so per-account limits need no join.
    kind TEXT NOT NULL,
    amount BIGINT NOT NULL CHECK (amount <> 0),
    counterparty_id BIGINT REFERENCES accounts (id),
    created_at TIMESTAMP NOT NULL
);
CREATE INDEX postings_account_time ON postings (account_id, created_at);
CREATE INDEX postings_transaction ON postings (transaction_id);
