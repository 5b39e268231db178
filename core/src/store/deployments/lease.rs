//! The lease that makes exactly one worker drive a deployment: claimed,
//! renewed, handed back. Every write of a drive goes through [`held_by`].

use crate::domain::{Deployment, DeploymentId};
use crate::store::rows::deployments::{open_statuses, DeploymentRow};
use crate::store::rows::now;
use crate::store::schema::deployments;
use crate::store::{DbConnection, Store, StoreError};
use chrono::TimeDelta;
use diesel::prelude::*;

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
        self.write(|conn| claim_in(conn, id, owner, ttl))
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
}

/// The claim itself, inside the caller's transaction; the row comes back as updated.
pub(super) fn claim_in(
    conn: &mut DbConnection,
    id: &DeploymentId,
    owner: &str,
    ttl: TimeDelta,
) -> Result<Option<(Deployment, Lease)>, StoreError> {
    let now = now();
    let claimable = deployments::lease_owner
        .is_null()
        .or(deployments::lease_expires_at.lt(now));
    let claimed = diesel::update(
        deployments::table
            .filter(deployments::id.eq(id.as_str()))
            .filter(deployments::status.eq_any(open_statuses()))
            .filter(claimable),
    )
    .set((
        deployments::lease_owner.eq(owner),
        deployments::lease_expires_at.eq(now + ttl),
        deployments::lease_epoch.eq(deployments::lease_epoch + 1),
        deployments::queued_at.eq(None::<chrono::NaiveDateTime>),
    ))
    .returning(deployments::all_columns)
    .get_result::<DeploymentRow>(conn)
    .optional()?;
    let Some(row) = claimed else {
        return Ok(None);
    };
    let lease = Lease {
        owner: owner.to_owned(),
        epoch: row.lease_epoch,
    };
    Ok(Some((Deployment::try_from(row)?, lease)))
}

/// The deployment while `lease` is still its lease: the filter every write
/// of a drive goes through.
#[diesel::dsl::auto_type(no_type_alias)]
pub(super) fn held_by<'a>(id: &'a str, owner: &'a str, epoch: i64) -> _ {
    deployments::table
        .filter(deployments::id.eq(id))
        .filter(deployments::lease_owner.eq(owner))
        .filter(deployments::lease_epoch.eq(epoch))
}
