-- How many lines each app keeps in `log_lines`, kept with them: the shipper
-- drops what is beyond the cap knowing how much is beyond it, instead of
-- counting 10,000 lines back from the newest on every write.
CREATE TABLE log_counts (
    app TEXT PRIMARY KEY REFERENCES apps (name) ON DELETE CASCADE,
    lines BIGINT NOT NULL
);
INSERT INTO log_counts (app, lines) SELECT app, count(*) FROM log_lines GROUP BY app;
