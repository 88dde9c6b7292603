DROP TABLE postings;
DROP TABLE ledger_transactions;
DELETE FROM accounts WHERE kind = 'system';
