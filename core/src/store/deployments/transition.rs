//! The one transition function of the deployment state machine (status,
//! reason, timestamps, the event and, on success, the app's active release,
//! in one transaction), and cancellation, which asks the drive to stop.

use super::lease::{held_by, Lease};
use crate::domain::{AppName, Deployment, DeploymentId, DeploymentStatus};
use crate::events::{EventPayload, Progress};
use crate::store::event_log::record_for;
use crate::store::rows::deployments::{find, not_found, DeploymentRow};
use crate::store::rows::now;
use crate::store::schema::{apps, deployments};
use crate::store::{Store, StoreError};
use diesel::prelude::*;

impl Store {
    /// Moves the deployment to `to`, if the state machine allows it and
    /// `lease` is still the deployment's: status, reason, timestamps, the
    /// event and (on success) the app's active release are written together.
    /// The write is one update conditional on the status read and the lease,
    /// so of two writers racing for the same move only one succeeds.
    pub fn transition_deployment(
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
            // The row as updated, in the same statement (its fields are in the
            // table's column order): a lease lost or a status changed since
            // the read above updates nothing.
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
            .returning(deployments::all_columns)
            .get_result::<DeploymentRow>(conn)
            .optional()?
            .ok_or_else(|| StoreError::LeaseLost(id.to_string()))?;
            if to == DeploymentStatus::Succeeded {
                diesel::update(apps::table.find(&row.app))
                    .set(apps::active_release.eq(Some(&row.release)))
                    .execute(conn)?;
            }
            let deployment = Deployment::try_from(moved)?;
            // The event is named after the status the deployment entered.
            let payload = EventPayload::deployment(deployment.clone());
            record_for(conn, &deployment.app, Some(id), payload, &deployment.actor)?;
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
                let step = Progress::Cancel {
                    by: actor.to_owned(),
                };
                let payload = EventPayload::DeploymentProgress(step);
                record_for(conn, app, Some(id), payload, actor)?;
            }
            find(conn, id)?
                .ok_or_else(|| StoreError::corrupt("deployment vanished"))?
                .try_into()
        })
    }
}
