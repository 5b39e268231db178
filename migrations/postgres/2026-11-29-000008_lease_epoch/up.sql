-- A fencing token per claim: every claim of a deployment bumps it, and a
-- drive's renewals and transitions hold only while it is still theirs.
ALTER TABLE deployments ADD COLUMN lease_epoch BIGINT NOT NULL DEFAULT 0;
-- When a job for the deployment was last put on the queue and not yet taken:
-- the reconciler does not queue it again while that job may still come.
ALTER TABLE deployments ADD COLUMN queued_at TIMESTAMP;
UPDATE deployments SET queued_at = created_at WHERE status = 'pending';
