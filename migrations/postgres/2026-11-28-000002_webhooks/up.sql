-- Webhook subscriptions and their deliveries.
-- A delivery row is written in the transaction of the event it carries, so an
-- event can never be committed without its deliveries; workers claim due rows
-- with a short lock, and a dead worker's claims come back when it expires.

CREATE TABLE webhooks (
    id TEXT PRIMARY KEY,
    url TEXT NOT NULL,
    kind TEXT NOT NULL,
    -- JSON arrays: event patterns (`deployment.*`, `*`) and app names (empty: all).
    events TEXT NOT NULL,
    apps TEXT NOT NULL,
    description TEXT NOT NULL,
    secret TEXT NOT NULL,
    -- After a rotation the old secret keeps signing until it expires.
    previous_secret TEXT,
    previous_secret_expires_at TIMESTAMP,
    disabled_at TIMESTAMP,
    disabled_reason TEXT,
    actor TEXT NOT NULL,
    created_at TIMESTAMP NOT NULL
);

CREATE TABLE deliveries (
    seq BIGSERIAL PRIMARY KEY,
    id TEXT NOT NULL UNIQUE,
    webhook TEXT NOT NULL REFERENCES webhooks (id) ON DELETE CASCADE,
    -- The event id is the `webhook-id` header: stable across retries.
    event TEXT NOT NULL,
    event_type TEXT NOT NULL,
    -- The exact body signed and sent on every attempt.
    payload TEXT NOT NULL,
    status TEXT NOT NULL,
    attempts INTEGER NOT NULL DEFAULT 0,
    last_status_code INTEGER,
    last_error TEXT,
    next_attempt_at TIMESTAMP,
    lock_owner TEXT,
    locked_until TIMESTAMP,
    delivered_at TIMESTAMP,
    created_at TIMESTAMP NOT NULL
);
CREATE INDEX deliveries_due ON deliveries (next_attempt_at) WHERE status = 'pending';
CREATE INDEX deliveries_by_webhook ON deliveries (webhook, seq);
