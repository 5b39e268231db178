-- Apps, builds, releases, deployments, events and tokens.
-- Timestamps are UTC. `seq` columns order rows of one app; they come from
-- `apps.seq`, which every writer bumps first, so writers of one app serialise
-- on that row.

CREATE TABLE apps (
    name TEXT PRIMARY KEY,
    active_release TEXT,
    deadline_seconds INTEGER NOT NULL DEFAULT 600,
    seq INTEGER NOT NULL DEFAULT 0,
    created_at TIMESTAMP NOT NULL
);

CREATE TABLE builds (
    id TEXT PRIMARY KEY,
    app TEXT NOT NULL REFERENCES apps (name) ON DELETE CASCADE,
    seq INTEGER NOT NULL,
    release TEXT NOT NULL,
    description TEXT NOT NULL,
    git_sha TEXT,
    git_message TEXT,
    manifest TEXT NOT NULL,
    actor TEXT NOT NULL,
    created_at TIMESTAMP NOT NULL,
    UNIQUE (app, seq)
);

CREATE TABLE releases (
    id TEXT PRIMARY KEY,
    app TEXT NOT NULL REFERENCES apps (name) ON DELETE CASCADE,
    seq INTEGER NOT NULL,
    build TEXT REFERENCES builds (id) ON DELETE CASCADE,
    env TEXT NOT NULL,
    description TEXT NOT NULL,
    actor TEXT NOT NULL,
    created_at TIMESTAMP NOT NULL,
    UNIQUE (app, seq)
);

CREATE TABLE deployments (
    id TEXT PRIMARY KEY,
    app TEXT NOT NULL REFERENCES apps (name) ON DELETE CASCADE,
    seq INTEGER NOT NULL,
    release TEXT NOT NULL REFERENCES releases (id) ON DELETE CASCADE,
    previous_release TEXT,
    status TEXT NOT NULL,
    reason TEXT,
    deadline_at TIMESTAMP NOT NULL,
    -- Strategy overrides of this promotion (percent), else the manifest's.
    minimum INTEGER,
    maximum INTEGER,
    actor TEXT NOT NULL,
    trace_id TEXT,
    traceparent TEXT,
    -- Exactly one worker drives a deployment: the one holding the lease.
    lease_owner TEXT,
    lease_expires_at TIMESTAMP,
    cancel_requested_at TIMESTAMP,
    created_at TIMESTAMP NOT NULL,
    started_at TIMESTAMP,
    finished_at TIMESTAMP,
    UNIQUE (app, seq)
);

-- One deployment that is not final per app: two API replicas cannot both win.
CREATE UNIQUE INDEX deployments_one_open_per_app ON deployments (app)
    WHERE status IN ('pending', 'running', 'rolling_back');

-- Events outlive their app (no foreign key): they are the audit trail.
CREATE TABLE events (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    id TEXT NOT NULL UNIQUE,
    app TEXT NOT NULL,
    deployment TEXT,
    kind TEXT NOT NULL,
    data TEXT NOT NULL,
    actor TEXT NOT NULL,
    created_at TIMESTAMP NOT NULL
);
CREATE INDEX events_by_app ON events (app, seq);
CREATE INDEX events_by_deployment ON events (deployment, seq);

CREATE TABLE tokens (
    id TEXT PRIMARY KEY,
    name TEXT NOT NULL UNIQUE,
    hash TEXT NOT NULL UNIQUE,
    scope TEXT NOT NULL,
    apps TEXT NOT NULL DEFAULT '[]',
    created_at TIMESTAMP NOT NULL,
    expires_at TIMESTAMP,
    last_used_at TIMESTAMP
);
