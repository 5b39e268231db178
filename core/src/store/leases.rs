//! Driving a deployment: the lease that makes exactly one worker drive it,
//! the one transition function (status, timestamps, event and, on success,
//! the app's active release, in one transaction), and cancellation.

use super::deployments::{find, not_found, open_statuses, Deployment};
use super::events::record_for;
use super::records::now;
use super::schema::{apps, deployments};
use super::{Store, StoreError};
use crate::domain::{AppName, DeploymentId, DeploymentStatus};
use crate::events::EventKind;
use chrono::TimeDelta;
use diesel::prelude::*;
use serde_json::json;

/// The right to drive one deployment, as one claim got it: who holds it, and
/// the claim's fencing token. Every claim bumps the token, so a drive that was
/// cut off (a stalled process, a job handed out twice) can neither renew,
/// transition nor hand over once anyone claimed after it, even within the
/// same process under the same owner name.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Lease {
    pub owner: String,
    pub epoch: i64,
}

impl Store {
    /// Takes the deployment for `owner` for `ttl`, unless it is final or any
    /// drive (this worker's own included) holds a live lease. `None` means:
    /// not yours, leave it. The claim takes the queued job with it.
    pub fn claim_deployment(
        &self,
        id: &DeploymentId,
        owner: &str,
        ttl: TimeDelta,
    ) -> Result<Option<(Deployment, Lease)>, StoreError> {
        let now = now();
        let open = open_statuses();
        self.write(|conn| {
            let claimable = deployments::lease_owner
                .is_null()
                .or(deployments::lease_expires_at.lt(now));
            let claimed = diesel::update(
                deployments::table
                    .filter(deployments::id.eq(id.as_str()))
                    .filter(deployments::status.eq_any(&open))
                    .filter(claimable),
            )
            .set((
                deployments::lease_owner.eq(owner),
                deployments::lease_expires_at.eq(now + ttl),
                deployments::lease_epoch.eq(deployments::lease_epoch + 1),
                deployments::queued_at.eq(None::<chrono::NaiveDateTime>),
            ))
            .execute(conn)?;
            if claimed == 0 {
                return Ok(None);
            }
            let row = find(conn, id)?.ok_or_else(|| StoreError::corrupt("deployment vanished"))?;
            let lease = Lease {
                owner: owner.to_owned(),
                epoch: row.lease_epoch,
            };
            Ok(Some((Deployment::try_from(row)?, lease)))
        })
    }

    /// Extends `lease`; `false` when it was lost (stop driving).
    pub fn renew_lease(
        &self,
        id: &DeploymentId,
        lease: &Lease,
        ttl: TimeDelta,
    ) -> Result<bool, StoreError> {
        let now = now();
        self.write(|conn| {
            let renewed = diesel::update(held_by(id.as_str(), &lease.owner, lease.epoch))
                .set(deployments::lease_expires_at.eq(now + ttl))
                .execute(conn)?;
            Ok(renewed == 1)
        })
    }

    /// Gives the lease up so another worker can take over at once. With
    /// `queued`, the caller is about to put a job for it on the queue (a
    /// worker shutting down hands its rollouts over), so the reconciler
    /// leaves it alone meanwhile. `false` when the lease was no longer held.
    pub fn release_lease(
        &self,
        id: &DeploymentId,
        lease: &Lease,
        queued: bool,
    ) -> Result<bool, StoreError> {
        let queued_at = queued.then(now);
        self.write(|conn| {
            let released = diesel::update(held_by(id.as_str(), &lease.owner, lease.epoch))
                .set((
                    deployments::lease_owner.eq(None::<String>),
                    deployments::lease_expires_at.eq(None::<chrono::NaiveDateTime>),
                    deployments::queued_at.eq(queued_at),
                ))
                .execute(conn)?;
            Ok(released == 1)
        })
    }

    /// Forgets that a job was queued for the deployment (putting it on the
    /// queue failed), so the reconciler queues one soon.
    pub fn unqueue_deployment(&self, id: &DeploymentId) -> Result<(), StoreError> {
        self.write(|conn| {
            diesel::update(deployments::table.find(id.as_str()))
                .set(deployments::queued_at.eq(None::<chrono::NaiveDateTime>))
                .execute(conn)?;
            Ok(())
        })
    }

    /// Moves the deployment to `to`, if the state machine allows it and
    /// `lease` is still the deployment's: status, reason, timestamps, the
    /// event and (on success) the app's active release are written together.
    /// The write is one update conditional on the status read and the lease,
    /// so of two writers racing for the same move only one succeeds.
    pub fn transition(
        &self,
        id: &DeploymentId,
        lease: &Lease,
        to: DeploymentStatus,
        reason: Option<&str>,
    ) -> Result<Deployment, StoreError> {
        self.write(|conn| {
            let row = find(conn, id)?
                .ok_or_else(|| StoreError::NotFound(format!("deployment `{id}` not found")))?;
            if row.lease_owner.as_deref() != Some(lease.owner.as_str())
                || row.lease_epoch != lease.epoch
            {
                return Err(StoreError::LeaseLost(id.to_string()));
            }
            let from = row.status()?;
            if !from.can_become(to) {
                return Err(StoreError::Conflict(format!(
                    "deployment {id} cannot go from {from} to {to}"
                )));
            }
            let now = now();
            let finished = to.is_final();
            let started_at = if to == DeploymentStatus::Running {
                Some(now)
            } else {
                row.started_at
            };
            let (lease_owner, lease_expires_at) = if finished {
                (None, None)
            } else {
                (row.lease_owner.clone(), row.lease_expires_at)
            };
            let moved = diesel::update(
                held_by(id.as_str(), &lease.owner, lease.epoch)
                    .filter(deployments::status.eq(from.as_str())),
            )
            .set((
                deployments::status.eq(to.as_str()),
                deployments::reason.eq(reason.map(str::to_owned).or(row.reason.clone())),
                deployments::started_at.eq(started_at),
                deployments::finished_at.eq(finished.then_some(now)),
                deployments::lease_owner.eq(lease_owner),
                deployments::lease_expires_at.eq(lease_expires_at),
            ))
            .execute(conn)?;
            if moved == 0 {
                return Err(StoreError::LeaseLost(id.to_string()));
            }
            if to == DeploymentStatus::Succeeded {
                diesel::update(apps::table.find(&row.app))
                    .set(apps::active_release.eq(Some(&row.release)))
                    .execute(conn)?;
            }
            let deployment = Deployment::try_from(
                find(conn, id)?.ok_or_else(|| StoreError::corrupt("deployment vanished"))?,
            )?;
            let data = json!({ "deployment": deployment });
            let kind = EventKind::for_deployment(to);
            record_for(
                conn,
                &deployment.app,
                Some(id),
                kind,
                data,
                &deployment.actor,
            )?;
            Ok(deployment)
        })
    }

    /// Asks the worker driving the deployment to stop and roll back; the
    /// first request is recorded as a `deployment.progress` event by `actor`.
    pub fn cancel_deployment(
        &self,
        app: &AppName,
        id: &DeploymentId,
        actor: &str,
    ) -> Result<Deployment, StoreError> {
        self.write(|conn| {
            let row = find(conn, id)?
                .filter(|row| row.app == app.as_str())
                .ok_or_else(|| not_found(id, app))?;
            let status = row.status()?;
            if status.is_final() {
                return Err(StoreError::Conflict(format!(
                    "deployment {id} has already finished: {status}"
                )));
            }
            if row.cancel_requested_at.is_none() {
                diesel::update(deployments::table.find(id.as_str()))
                    .set(deployments::cancel_requested_at.eq(Some(now())))
                    .execute(conn)?;
                let data = json!({ "step": "cancel", "by": actor });
                record_for(
                    conn,
                    app,
                    Some(id),
                    EventKind::DeploymentProgress,
                    data,
                    actor,
                )?;
            }
            find(conn, id)?
                .ok_or_else(|| StoreError::corrupt("deployment vanished"))?
                .try_into()
        })
    }
}

/// The deployment while `lease` is still its lease: the filter every write
/// of a drive goes through.
#[diesel::dsl::auto_type(no_type_alias)]
fn held_by<'a>(id: &'a str, owner: &'a str, epoch: i64) -> _ {
    deployments::table
        .filter(deployments::id.eq(id))
        .filter(deployments::lease_owner.eq(owner))
        .filter(deployments::lease_epoch.eq(epoch))
}
