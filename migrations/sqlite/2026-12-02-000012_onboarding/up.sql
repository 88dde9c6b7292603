-- Merchant onboarding (issue 12): bank-account verification by a 0.02 EUR payout with a
-- code, the Corporate+ application with its documents, a payout record the bank
-- integration reads, and the operators' audit log.

-- When the merchant's current IBAN was verified (cleared when the IBAN changes).
ALTER TABLE accounts ADD COLUMN bank_verified_at TIMESTAMP;

-- Every payout to a bank account: withdrawals and verification payouts. The bank
-- integration (or an operator) executes the pending ones and marks them executed.
CREATE TABLE payouts (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    public_id TEXT NOT NULL UNIQUE,
    account_id BIGINT NOT NULL REFERENCES accounts (id),
    purpose TEXT NOT NULL CHECK (purpose IN ('withdrawal', 'verification')),
    amount BIGINT NOT NULL CHECK (amount > 0),
    iban TEXT NOT NULL,
    bic TEXT,
    subject TEXT NOT NULL,
    status TEXT NOT NULL CHECK (status IN ('pending', 'executed')),
    transaction_id BIGINT NOT NULL REFERENCES ledger_transactions (id),
    created_at TIMESTAMP NOT NULL,
    executed_at TIMESTAMP
);
CREATE INDEX payouts_by_status ON payouts (status, id);
CREATE INDEX payouts_by_account ON payouts (account_id, id);

-- One verification code per request; the code itself is kept only as a hash.
CREATE TABLE bank_verifications (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    account_id BIGINT NOT NULL REFERENCES accounts (id),
    iban TEXT NOT NULL,
    code_hash TEXT NOT NULL,
    status TEXT NOT NULL CHECK (status IN ('pending', 'verified', 'voided')),
    failed_attempts INTEGER NOT NULL DEFAULT 0,
    payout_id BIGINT NOT NULL REFERENCES payouts (id),
    created_at TIMESTAMP NOT NULL,
    expires_at TIMESTAMP NOT NULL,
    resolved_at TIMESTAMP
);
CREATE INDEX bank_verifications_by_account ON bank_verifications (account_id, id);

-- The Corporate+ application: open while the merchant gathers documents, submitted for
-- review, rejected (the merchant may add documents and submit again) or accepted.
CREATE TABLE upgrade_applications (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    public_id TEXT NOT NULL UNIQUE,
    account_id BIGINT NOT NULL REFERENCES accounts (id),
    status TEXT NOT NULL CHECK (status IN ('open', 'submitted', 'rejected', 'accepted')),
    rejection_reason TEXT,
    created_at TIMESTAMP NOT NULL,
    submitted_at TIMESTAMP,
    decided_at TIMESTAMP,
    updated_at TIMESTAMP NOT NULL
);
CREATE INDEX upgrade_applications_by_account ON upgrade_applications (account_id, id);
CREATE INDEX upgrade_applications_by_status ON upgrade_applications (status, id);

CREATE TABLE application_documents (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    public_id TEXT NOT NULL UNIQUE,
    application_id BIGINT NOT NULL REFERENCES upgrade_applications (id),
    kind TEXT NOT NULL CHECK (kind IN ('commercial_register', 'business_registration',
        'bank_statement', 'id_document', 'address_proof', 'other')),
    filename TEXT NOT NULL,
    content_type TEXT NOT NULL CHECK (content_type IN ('application/pdf', 'image/png', 'image/jpeg')),
    size BIGINT NOT NULL,
    sha256 TEXT NOT NULL,
    content BLOB NOT NULL,
    created_at TIMESTAMP NOT NULL
);
CREATE INDEX application_documents_by_application ON application_documents (application_id, id);

-- Who did what, when: every operator action.
CREATE TABLE audit_log (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    actor TEXT NOT NULL,
    action TEXT NOT NULL,
    target TEXT NOT NULL,
    detail TEXT,
    created_at TIMESTAMP NOT NULL
);
