-- Running debit totals, so the balance view reads a period's debits with two index seeks
-- instead of summing the period's postings: each account carries the total it has ever
-- been debited, and each posting the account's total including itself.
ALTER TABLE accounts ADD COLUMN debited_total BIGINT NOT NULL DEFAULT 0;
ALTER TABLE postings ADD COLUMN debited_through BIGINT NOT NULL DEFAULT 0;
UPDATE postings SET debited_through = s.running
FROM (
    SELECT id, SUM(CASE WHEN amount < 0 THEN -amount ELSE 0 END)
        OVER (PARTITION BY account_id ORDER BY id) AS running
    FROM postings
) AS s
WHERE postings.id = s.id;
UPDATE accounts SET debited_total = COALESCE(
    (SELECT SUM(-amount) FROM postings p WHERE p.account_id = accounts.id AND p.amount < 0), 0);
