-- Web Push subscriptions of wallets (the app's service worker, or a native app that
-- speaks Web Push): where to push (the push service's endpoint) and the keys the
-- message is encrypted to (RFC 8291). A push service's 404/410 removes the row.
CREATE TABLE push_subscriptions (
    id INTEGER PRIMARY KEY AUTOINCREMENT NOT NULL,
    account_id BIGINT NOT NULL REFERENCES accounts(id),
    endpoint TEXT NOT NULL UNIQUE,
    p256dh TEXT NOT NULL,
    auth TEXT NOT NULL,
    -- The language its notifications are written in (the app's when it subscribed).
    language TEXT NOT NULL,
    created_at TIMESTAMP NOT NULL
);
CREATE INDEX push_subscriptions_account ON push_subscriptions (account_id);
