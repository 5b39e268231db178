//! What waits for a worker: deployments due a job (taken and marked queued
//! in one transaction by the reconciler), and how much rollout work waits,
//! for the `queue_depth` metric: counted in the database, the source of
//! truth, so the number is right whichever process scrapes it and whatever
//! the queue backend.

use crate::domain::{Deployment, DeploymentStatus};
use crate::store::rows::deployments::{open_statuses, DeploymentRow};
use crate::store::rows::now;
use crate::store::schema::deployments;
use crate::store::{Store, StoreError};
use diesel::prelude::*;

impl Store {
    /// Deployments that need a worker and have no job coming, marked as
    /// queued now: the caller puts a job for each on the queue. That is an
    /// open deployment nobody holds a live lease on (a worker died, or gave
    /// it back), unless its job was queued less than `requeue_after` ago and
    /// not taken yet: a new deployment's first job is on the way, and one
    /// waiting its turn behind others is not queued twice. A job lost on the
    /// way (a flushed Redis) is replaced after `requeue_after`. Marking and
    /// selecting are one transaction, so two reconcilers never both queue
    /// the same deployment.
    pub fn take_due_deployments(
        &self,
        requeue_after: chrono::TimeDelta,
    ) -> Result<Vec<Deployment>, StoreError> {
        let now = now();
        let open = open_statuses();
        let requeue_before = now - requeue_after;
        self.write(|conn| {
            let queueable = deployments::queued_at
                .is_null()
                .or(deployments::queued_at.lt(requeue_before));
            let unleased = deployments::lease_expires_at
                .lt(now)
                .or(deployments::lease_expires_at.is_null());
            let candidates = deployments::table
                .filter(deployments::status.eq_any(open))
                .filter(unleased)
                .filter(queueable)
                .order(deployments::seq)
                .select(DeploymentRow::as_select())
                .load(conn)?;
            // Marked one by one, each on the same conditions: of two
            // reconcilers racing, the second finds the mark and skips it.
            let mut due = Vec::new();
            for row in candidates {
                let marked = diesel::update(
                    deployments::table
                        .find(&row.id)
                        .filter(queueable)
                        .filter(unleased),
                )
                .set(deployments::queued_at.eq(Some(now)))
                .execute(conn)?;
                if marked == 1 {
                    due.push(row);
                }
            }
            due.into_iter().map(Deployment::try_from).collect()
        })
    }

    /// Deployments still `pending`: enqueued, not yet picked up.
    pub fn count_pending_deployments(&self) -> Result<i64, StoreError> {
        self.read(|conn| {
            Ok(deployments::table
                .filter(deployments::status.eq(DeploymentStatus::Pending.as_str()))
                .count()
                .get_result(conn)?)
        })
    }
}
