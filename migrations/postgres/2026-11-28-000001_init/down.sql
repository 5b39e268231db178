DROP TABLE tokens;
DROP TABLE events;
DROP TABLE deployments;
DROP TABLE releases;
DROP TABLE builds;
DROP TABLE apps;
