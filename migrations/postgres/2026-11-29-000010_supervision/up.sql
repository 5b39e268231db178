-- The worker that keeps an app's active release running between deployments
-- (restores it after a restart, restarts crashed instances): one per app.
CREATE TABLE supervisors (
    app TEXT PRIMARY KEY REFERENCES apps (name) ON DELETE CASCADE,
    owner TEXT NOT NULL,
    expires_at TIMESTAMP NOT NULL
);

-- An app's instances as its supervising worker last saw them, for
-- `GET /apps/{app}/processes` (the API may run where the instances do not).
CREATE TABLE processes (
    id TEXT PRIMARY KEY,
    app TEXT NOT NULL REFERENCES apps (name) ON DELETE CASCADE,
    service TEXT NOT NULL,
    release TEXT NOT NULL,
    status TEXT NOT NULL,
    restarts INTEGER NOT NULL,
    port INTEGER,
    started_at TIMESTAMP NOT NULL
);
CREATE INDEX processes_by_app ON processes (app, service, started_at);
