-- How long each delivery attempt took and what kind of failure it was, for the log.
ALTER TABLE callback_attempts ADD COLUMN duration_ms INTEGER;
ALTER TABLE callback_attempts ADD COLUMN error_class TEXT;
