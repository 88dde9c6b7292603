-- Sandbox test clocks belong to the merchant who moves them (as Stripe's test clocks
-- belong to their objects): a merchant's clock moves its own requests' deadlines and
-- callback retries; signatures, sessions, tokens and everyone else's requests keep real
-- time. The one global clock is retired.
CREATE TABLE sandbox_clocks (
    account_id BIGINT PRIMARY KEY REFERENCES accounts(id),
    offset_micros BIGINT NOT NULL,
    updated_at TIMESTAMP NOT NULL
);
UPDATE server_environment SET clock_offset_micros = 0;
