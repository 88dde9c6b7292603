-- Which kind of server uses this database (a sandbox never shares one with a live
-- server), and the sandbox's test clock, so every instance and a restart keep it.
CREATE TABLE server_environment (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    environment TEXT NOT NULL CHECK (environment IN ('live', 'sandbox')),
    clock_offset_micros BIGINT NOT NULL DEFAULT 0,
    created_at TIMESTAMP NOT NULL,
    updated_at TIMESTAMP NOT NULL
);
