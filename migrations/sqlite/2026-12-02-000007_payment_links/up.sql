-- Payment links and the hosted page (issue 9).
-- 'link': created without a payer (any wallet may pay it, or it is addressed later by
-- "send it to my app"); 'addressed': created for a payer.
ALTER TABLE money_requests ADD COLUMN kind TEXT NOT NULL DEFAULT 'addressed' CHECK (kind IN ('link', 'addressed'));
UPDATE money_requests SET kind = 'link' WHERE payer_id IS NULL;
-- Where the hosted page sends the browser after the outcome (https).
ALTER TABLE money_requests ADD COLUMN return_url TEXT;
-- The wallet's live stream reads what changed for a payer since its last look.
CREATE INDEX money_requests_payer_changes ON money_requests (payer_id, updated_at);

-- Per merchant: the origins allowed to embed the hosted page (CSP frame-ancestors).
CREATE TABLE hosted_page_settings (
    merchant_id BIGINT PRIMARY KEY REFERENCES accounts (id),
    frame_ancestors TEXT NOT NULL,
    updated_at TIMESTAMP NOT NULL
);

-- Links sent by e-mail or SMS: an outbox of their own (queued in the request's
-- transaction, claimed with a lease, retried, never lost on restart).
CREATE TABLE link_sends (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    public_id TEXT NOT NULL UNIQUE,
    request_id BIGINT NOT NULL REFERENCES money_requests (id),
    channel TEXT NOT NULL CHECK (channel IN ('email', 'sms')),
    recipient TEXT NOT NULL,
    language TEXT NOT NULL,
    status TEXT NOT NULL CHECK (status IN ('queued', 'sent', 'failed')),
    attempts INTEGER NOT NULL DEFAULT 0,
    next_attempt_at TIMESTAMP NOT NULL,
    lease_owner TEXT,
    lease_until TIMESTAMP,
    last_error TEXT,
    sent_at TIMESTAMP,
    created_at TIMESTAMP NOT NULL
);
CREATE INDEX link_sends_due ON link_sends (status, next_attempt_at);
CREATE INDEX link_sends_request ON link_sends (request_id, created_at);
