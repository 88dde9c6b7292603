ALTER TABLE postings DROP COLUMN debited_through;
ALTER TABLE accounts DROP COLUMN debited_total;
