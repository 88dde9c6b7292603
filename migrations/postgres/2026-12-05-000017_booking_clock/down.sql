ALTER TABLE accounts DROP COLUMN booking_clock;
