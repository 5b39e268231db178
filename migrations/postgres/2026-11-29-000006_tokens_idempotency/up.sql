-- Idempotency keys: the first response to a request with an
-- `Idempotency-Key`, replayed to repeats for 24 hours. The row is written in
-- the transaction of the work it guards, so a crash cannot leave one without
-- the other; the response (sealed: it may hold a new token or secret) is
-- recorded just after.
CREATE TABLE idempotency_keys (
    token TEXT NOT NULL REFERENCES tokens (id) ON DELETE CASCADE,
    key TEXT NOT NULL,
    -- SHA-256 of the method, path and body of the first request.
    fingerprint TEXT NOT NULL,
    status INTEGER,
    body TEXT,
    created_at TIMESTAMP NOT NULL,
    expires_at TIMESTAMP NOT NULL,
    PRIMARY KEY (token, key)
);
CREATE INDEX idempotency_keys_expiry ON idempotency_keys (expires_at);
