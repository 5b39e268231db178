//! The one transition function of the deployment state machine (status,
//! reason, timestamps, the event and, on success, the app's active release,
//! in one transaction), the claim that starts a drive with the first move,
//! and cancellation, which asks the drive to stop.

use super::lease::{claim_in, held_by, Lease};
use crate::domain::{AppName, Deployment, DeploymentId, DeploymentStatus};
use crate::events::{EventPayload, Progress};
use crate::store::event_log::record_for;
use crate::store::rows::deployments::{find, not_found, DeploymentRow};
use crate::store::rows::now;
use crate::store::schema::{apps, deployments};
use crate::store::{DbConnection, Store, StoreError};
use chrono::{NaiveDateTime, TimeDelta};
use diesel::prelude::*;

impl Store {
    /// [`Store::claim_deployment`] for a drive about to begin: a pending
    /// deployment moves to `running` in the same transaction (as
    /// [`Store::transition_deployment`] moves it, event included).
    pub fn claim_to_drive(
        &self,
        id: &DeploymentId,
        owner: &str,
        ttl: TimeDelta,
    ) -> Result<Option<(Deployment, Lease)>, StoreError> {
        self.write(|conn| {
            let Some((deployment, lease)) = claim_in(conn, id, owner, ttl)? else {
                return Ok(None);
            };
            if deployment.status != DeploymentStatus::Pending {
                return Ok(Some((deployment, lease)));
            }
            let running = move_in(conn, id, &lease, DeploymentStatus::Running, None)?;
            Ok(Some((running, lease)))
        })
    }

    /// Moves the deployment to `to`, if the state machine allows it and
    /// `lease` is still the deployment's: status, reason, timestamps, the
    /// event and (on success) the app's active release are written together.
    /// The write is one update conditional on the lease and on a status that
    /// may become `to`, so of two writers racing for the same move only one
    /// succeeds; only when it updates nothing is the deployment read, to say why.
    pub fn transition_deployment(
        &self,
        id: &DeploymentId,
        lease: &Lease,
        to: DeploymentStatus,
        reason: Option<&str>,
    ) -> Result<Deployment, StoreError> {
        self.write(|conn| move_in(conn, id, lease, to, reason))
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

/// [`Store::transition_deployment`] inside the caller's transaction.
pub(super) fn move_in(
    conn: &mut DbConnection,
    id: &DeploymentId,
    lease: &Lease,
    to: DeploymentStatus,
    reason: Option<&str>,
) -> Result<Deployment, StoreError> {
    let now = now();
    let finished = to.is_final();
    let change = Move {
        status: to.as_str(),
        reason,
        started_at: (to == DeploymentStatus::Running).then_some(now),
        finished_at: Some(finished.then_some(now)),
        lease_owner: finished.then_some(None),
        lease_expires_at: finished.then_some(None),
    };
    let from = DeploymentStatus::ALL
        .into_iter()
        .filter(|s| s.can_become(to))
        .map(DeploymentStatus::as_str);
    // One statement, conditional on the lease and on a status that
    // may become `to`; the row comes back as updated (its fields are
    // in the table's column order).
    let moved = diesel::update(
        held_by(id.as_str(), &lease.owner, lease.epoch).filter(deployments::status.eq_any(from)),
    )
    .set(&change)
    .returning(deployments::all_columns)
    .get_result::<DeploymentRow>(conn)
    .optional()?;
    let Some(row) = moved else {
        return Err(not_moved(conn, id, lease, to)?);
    };
    if to == DeploymentStatus::Succeeded {
        diesel::update(apps::table.find(&row.app))
            .set(apps::active_release.eq(Some(&row.release)))
            .execute(conn)?;
    }
    let deployment = Deployment::try_from(row)?;
    // The event is named after the status the deployment entered.
    let payload = EventPayload::deployment(deployment.clone());
    record_for(conn, &deployment.app, Some(id), payload, &deployment.actor)?;
    Ok(deployment)
}

/// What a move writes; a field left `None` keeps its column as it is.
#[derive(AsChangeset)]
#[diesel(table_name = deployments)]
struct Move<'a> {
    status: &'a str,
    reason: Option<&'a str>,
    started_at: Option<NaiveDateTime>,
    finished_at: Option<Option<NaiveDateTime>>,
    lease_owner: Option<Option<String>>,
    lease_expires_at: Option<Option<NaiveDateTime>>,
}

/// Why a move to `to` updated nothing: no such deployment, the lease is
/// another's, or its status cannot become `to` (read again, after the fact).
fn not_moved(
    conn: &mut DbConnection,
    id: &DeploymentId,
    lease: &Lease,
    to: DeploymentStatus,
) -> Result<StoreError, StoreError> {
    let row = find(conn, id)?
        .ok_or_else(|| StoreError::NotFound(format!("deployment `{id}` not found")))?;
    if row.lease_owner.as_deref() != Some(lease.owner.as_str()) || row.lease_epoch != lease.epoch {
        return Ok(StoreError::LeaseLost(id.to_string()));
    }
    let from = row.status()?;
    Ok(if from.can_become(to) {
        // Moved by someone else between the update and this read.
        StoreError::LeaseLost(id.to_string())
    } else {
        StoreError::Conflict(format!("deployment {id} cannot go from {from} to {to}"))
    })
}
