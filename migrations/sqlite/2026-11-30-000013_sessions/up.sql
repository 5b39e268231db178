-- Console sessions: signing in with an API token opens one; the browser
-- holds only its id, in a cookie. The id is stored as its SHA-256 (like
-- tokens), so a copy of the database opens no session. A session acts with
-- its token's grant and ends with it (deleted, or expired: checked on use).
CREATE TABLE sessions (
    -- SHA-256 (hex) of the 32 random bytes the cookie carries.
    id TEXT PRIMARY KEY,
    token TEXT NOT NULL REFERENCES tokens (id) ON DELETE CASCADE,
    -- The key the session's CSRF form values are derived from (HMAC).
    csrf_secret TEXT NOT NULL,
    created_at TIMESTAMP NOT NULL,
    expires_at TIMESTAMP NOT NULL,
    last_seen TIMESTAMP NOT NULL
);
CREATE INDEX sessions_expiry ON sessions (expires_at);
CREATE INDEX sessions_token ON sessions (token);
