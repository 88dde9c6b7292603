DROP TABLE audit_log;
DROP TABLE application_documents;
DROP TABLE upgrade_applications;
DROP TABLE bank_verifications;
DROP TABLE payouts;
ALTER TABLE accounts DROP COLUMN bank_verified_at;
