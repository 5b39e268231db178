-- Env values and webhook secrets are sealed (AES-256-GCM) under
-- SLIPWAY_SECRET_KEY. This one row holds a known value sealed under that
-- key: every start opens it, so a wrong key is refused at once instead of
-- failing on the first secret it reads.
CREATE TABLE seal_check (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    sealed TEXT NOT NULL,
    created_at TIMESTAMP NOT NULL
);
