DROP INDEX releases_by_build;
DROP INDEX deployments_by_release;
