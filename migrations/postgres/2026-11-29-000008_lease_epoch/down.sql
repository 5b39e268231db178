ALTER TABLE deployments DROP COLUMN queued_at;
ALTER TABLE deployments DROP COLUMN lease_epoch;
