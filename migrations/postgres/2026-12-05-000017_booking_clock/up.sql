-- Booking order is id order on every account: a posting is stamped no earlier than the
-- account's previous one. A transaction reads its time before it waits for an
-- account's row lock, so without this a posting that waited could carry an earlier time
-- than one booked while it waited, and a statement's closing balance at a month's end
-- (the running balance of the last posting booked before it) could include a payment
-- booked after it. The column holds the time of the account's latest posting.
--
-- Postings booked before this rule that a wait put out of order take the time of the
-- posting before them on their account, as the rule would have stamped them (a lock
-- wait's milliseconds; amounts and order are unchanged).
UPDATE postings p SET created_at = s.booked
FROM (
    SELECT id, MAX(created_at) OVER (PARTITION BY account_id ORDER BY id) AS booked
    FROM postings
) s
WHERE p.id = s.id AND p.created_at < s.booked;
ALTER TABLE accounts ADD COLUMN booking_clock TIMESTAMP NOT NULL DEFAULT '1970-01-01 00:00:00';
UPDATE accounts SET booking_clock = COALESCE(
    (SELECT MAX(p.created_at) FROM postings p WHERE p.account_id = accounts.id),
    '1970-01-01 00:00:00'
);
