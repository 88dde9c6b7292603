ALTER TABLE postings DROP COLUMN balance_after;
