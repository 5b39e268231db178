//! Deleting an app, in two steps. `delete_app` (the API) turns the app into
//! a tombstone and ends its open deployment, in one transaction: from then
//! on the app is not found, and no worker drives it. A worker then stops
//! the app's instances and, once none is left, `purge_app` removes its rows
//! for good (see the worker's `teardown.rs`). Events stay: they are the
//! audit trail.

use crate::domain::{AppName, Deployment, DeploymentId, DeploymentStatus};
use crate::events::{AppDeleted, EventPayload};
use crate::store::event_log::{record, record_for};
use crate::store::rows::apps::{live, not_found};
use crate::store::rows::deployments::{find, open_for};
use crate::store::rows::now;
use crate::store::schema::{apps, builds, deployments, domains, releases};
use crate::store::{DbConnection, Store, StoreError};
use chrono::{DateTime, Utc};
use diesel::prelude::*;

/// Why a deployment ended when its app was deleted.
pub const APP_DELETED: &str = "app deleted";

/// A deleted app whose rows are still there: a worker has to stop its
/// instances before they can go.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Tombstone {
    pub app: AppName,
    pub deleted_at: DateTime<Utc>,
}

impl Store {
    /// Deletes the app as far as every caller can tell: it is not found from
    /// now on, its open deployment (if any) ends `failed` ("app deleted")
    /// and its worker loses the lease. Its instances keep running until a
    /// worker's teardown stops them; its rows go after that.
    pub fn delete_app(&self, name: &AppName, actor: &str) -> Result<(), StoreError> {
        self.write(|conn| {
            // Taking the row first also waits for a writer of the app that
            // holds its lock, so a deployment it opens is seen below.
            let marked = diesel::update(live(name))
                .set(apps::deleted_at.eq(Some(now())))
                .execute(conn)?;
            if marked == 0 {
                return Err(not_found(name));
            }
            if let Some(open) = open_for(conn, name)? {
                let id = DeploymentId::parse(&open.id).map_err(StoreError::corrupt)?;
                end_deployment(conn, name, &id, actor)?;
            }
            let deleted = AppDeleted { app: name.clone() };
            record(conn, name, EventPayload::AppDeleted(deleted), actor)?;
            Ok(())
        })
    }

    /// Every deleted app whose rows are still there, oldest deletion first.
    pub fn list_tombstones(&self) -> Result<Vec<Tombstone>, StoreError> {
        self.read(|conn| {
            let rows: Vec<(String, Option<chrono::NaiveDateTime>)> = apps::table
                .filter(apps::deleted_at.is_not_null())
                .order((apps::deleted_at, apps::name))
                .select((apps::name, apps::deleted_at))
                .load(conn)?;
            rows.into_iter()
                .map(|(name, deleted_at)| {
                    Ok(Tombstone {
                        app: AppName::parse(&name).map_err(StoreError::corrupt)?,
                        deleted_at: deleted_at
                            .ok_or_else(|| StoreError::corrupt("tombstone without a time"))?
                            .and_utc(),
                    })
                })
                .collect()
        })
    }

    /// Removes a deleted app's deployments, releases, builds, domain
    /// claims and the app row, if it was deleted at or before `deleted_before`; `false` (and no
    /// change) when it was not, is not deleted, or is gone already. Call
    /// only once none of its instances is left. Safe from many workers at
    /// once: one removes, the others find nothing.
    pub fn purge_app(
        &self,
        name: &AppName,
        deleted_before: DateTime<Utc>,
    ) -> Result<bool, StoreError> {
        let cutoff = deleted_before.naive_utc();
        self.write(|conn| {
            // The conditional update takes the row's lock: a second worker
            // waits here, then finds no row.
            let held = diesel::update(
                apps::table
                    .find(name.as_str())
                    .filter(apps::deleted_at.le(cutoff)),
            )
            .set(apps::seq.eq(apps::seq + 1))
            .execute(conn)?;
            if held == 0 {
                return Ok(false);
            }
            // Children before parents: deployments name releases, releases
            // name builds, all three name the app.
            let app = name.as_str();
            diesel::delete(deployments::table.filter(deployments::app.eq(app))).execute(conn)?;
            diesel::delete(releases::table.filter(releases::app.eq(app))).execute(conn)?;
            diesel::delete(builds::table.filter(builds::app.eq(app))).execute(conn)?;
            // Its domains are free for other apps from now on.
            diesel::delete(domains::table.filter(domains::app.eq(app))).execute(conn)?;
            let removed =
                diesel::delete(apps::table.find(app).filter(apps::deleted_at.is_not_null()))
                    .execute(conn)?;
            Ok(removed == 1)
        })
    }
}

/// Ends an open deployment because its app is being deleted: `failed` with
/// [`APP_DELETED`], finished now, its event recorded. This is outside the
/// state machine on purpose (a pending deployment never ran, yet it ends):
/// the app it would roll out no longer exists.
fn end_deployment(
    conn: &mut DbConnection,
    app: &AppName,
    id: &DeploymentId,
    actor: &str,
) -> Result<Deployment, StoreError> {
    diesel::update(deployments::table.find(id.as_str()))
        .set((
            deployments::status.eq(DeploymentStatus::Failed.as_str()),
            deployments::reason.eq(Some(APP_DELETED)),
            deployments::finished_at.eq(Some(now())),
            // Fences the drive: its renewals and transitions need its own
            // lease and claim token.
            deployments::lease_owner.eq(None::<String>),
            deployments::lease_expires_at.eq(None::<chrono::NaiveDateTime>),
            deployments::lease_epoch.eq(deployments::lease_epoch + 1),
        ))
        .execute(conn)?;
    let deployment = Deployment::try_from(
        find(conn, id)?.ok_or_else(|| StoreError::corrupt("deployment vanished"))?,
    )?;
    let payload = EventPayload::deployment(deployment.clone());
    record_for(conn, app, Some(id), payload, actor)?;
    Ok(deployment)
}
