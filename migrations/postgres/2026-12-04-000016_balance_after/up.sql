-- Running balances, so a statement reads the balance at a month's start and end with one
-- index seek each instead of summing every posting booked since: each posting carries
-- its account's balance including itself.
ALTER TABLE postings ADD COLUMN balance_after BIGINT NOT NULL DEFAULT 0;
UPDATE postings p SET balance_after = s.running
FROM (
    SELECT id, SUM(amount) OVER (PARTITION BY account_id ORDER BY id) AS running
    FROM postings
) s
WHERE p.id = s.id;
