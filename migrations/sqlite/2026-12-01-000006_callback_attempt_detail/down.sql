ALTER TABLE callback_attempts DROP COLUMN error_class;
ALTER TABLE callback_attempts DROP COLUMN duration_ms;
