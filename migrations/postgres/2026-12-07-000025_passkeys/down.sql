ALTER TABLE money_request_events DROP COLUMN factors;
ALTER TABLE ledger_transactions DROP COLUMN factors;
DROP TABLE passkey_challenges;
DROP TABLE passkeys;
