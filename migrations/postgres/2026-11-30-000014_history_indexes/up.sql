-- History reads that must not grow with an app's history.
--
-- A release's status comes from its latest deployment: the deployments of
-- a page of releases, found by release (and deleting a release, which
-- cascades to its deployments, finds them the same way). Without it every
-- releases list, release and diff read all of the app's deployments.
CREATE INDEX deployments_by_release ON deployments (release, seq);
-- Deleting a build cascades to the releases made on it: purging an app
-- with years of history would otherwise scan its releases once per build.
CREATE INDEX releases_by_build ON releases (build);
