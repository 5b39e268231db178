-- Custom domains, each claimed by one app: the first build whose manifest
-- lists a domain claims it for its app, and a build of another app listing
-- it is refused. A claim stays with its app until the app's rows are purged.
CREATE TABLE domains (
    domain TEXT PRIMARY KEY,
    app TEXT NOT NULL REFERENCES apps (name) ON DELETE CASCADE,
    created_at TIMESTAMP NOT NULL
);
CREATE INDEX domains_by_app ON domains (app);
