-- Booking order is id order on every account: a posting is stamped no earlier than the
-- account's previous one. A transaction reads its time before it waits for an
-- account's row lock, so without this a posting that waited could carry an earlier time
-- than one booked while it waited, and a statement's closing balance at a month's end
-- (the running balance of the last posting booked before it) could include a payment
-- booked after it. The column holds the time of the account's latest posting.
ALTER TABLE accounts ADD COLUMN booking_clock TIMESTAMP NOT NULL DEFAULT '1970-01-01 00:00:00';
UPDATE accounts SET booking_clock = COALESCE(
    (SELECT MAX(p.created_at) FROM postings p WHERE p.account_id = accounts.id),
    '1970-01-01 00:00:00'
);
