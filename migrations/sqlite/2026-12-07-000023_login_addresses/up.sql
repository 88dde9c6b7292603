-- Addresses an account's owner signed in from. While an account backs off after failed
-- passwords, an attempt from one of these (with no failures of its own) is still let
-- through: the guesser is throttled, the owner is not, and rotating through fresh
-- addresses gains a guesser nothing.
CREATE TABLE login_addresses (
    account_bucket TEXT NOT NULL,
    address_bucket TEXT NOT NULL,
    last_success TIMESTAMP NOT NULL,
    PRIMARY KEY (account_bucket, address_bucket)
);
