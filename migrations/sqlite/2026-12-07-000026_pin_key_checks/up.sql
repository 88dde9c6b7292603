-- The key check value of each PIN key version the database's PINs were tagged under (an
-- HMAC of a fixed label under the key, never the key): a server started with another key
-- under the same version refuses to start, instead of reading every PIN as wrong and
-- counting it toward the lock.
CREATE TABLE pin_key_checks (
    version INTEGER PRIMARY KEY NOT NULL,
    check_value TEXT NOT NULL,
    created_at TIMESTAMP NOT NULL
);
