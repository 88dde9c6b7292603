-- Hosted-page sessions ended by "log out" before their expiry: the session's token is
-- refused from then on, on every instance. Rows go once the token would have expired.
CREATE TABLE ended_sessions (
    jti TEXT PRIMARY KEY,
    expires_at TIMESTAMP NOT NULL
);
