-- The newest lines of each app's instances' output, shipped by the worker
-- that supervises the app, for `GET /apps/{app}/logs` (the API may run
-- where the instances do not). Capped per app by the shipper.
CREATE TABLE log_lines (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    app TEXT NOT NULL REFERENCES apps (name) ON DELETE CASCADE,
    service TEXT NOT NULL,
    instance TEXT NOT NULL,
    at TIMESTAMP NOT NULL,
    line TEXT NOT NULL
);
CREATE INDEX log_lines_by_app ON log_lines (app, seq);

-- How far each instance's output was shipped, written with the lines it
-- ends, so a worker taking an app over goes on where the last one stopped.
CREATE TABLE log_offsets (
    instance TEXT PRIMARY KEY,
    app TEXT NOT NULL REFERENCES apps (name) ON DELETE CASCADE,
    next BIGINT NOT NULL
);
