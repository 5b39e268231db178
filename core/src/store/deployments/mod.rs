//! Deployments: one attempt each to roll a release out. Starting them
//! (`promote.rs`), the lease a worker drives one under and the one
//! transition function (`lease.rs`, `transition.rs`), rollout progress
//! (`progress.rs`), what waits for a worker (`due.rs`), and reading them
//! back (here).

mod due;
mod lease;
mod progress;
mod promote;
mod transition;

pub use lease::Lease;
pub use promote::PromoteOptions;

use super::rows::apps;
use super::rows::deployments::{find, not_found, page};
use super::schema::deployments;
use super::{Store, StoreError};
use crate::domain::{AppName, Deployment, DeploymentId};
use diesel::prelude::*;
use std::collections::HashMap;

impl Store {
    pub fn get_deployment(
        &self,
        app: &AppName,
        id: &DeploymentId,
    ) -> Result<Deployment, StoreError> {
        self.read(|conn| {
            apps::exists(conn, app)?;
            let row = find(conn, id)?.filter(|row| row.app == app.as_str());
            row.ok_or_else(|| not_found(id, app))?.try_into()
        })
    }

    /// A deployment by id alone (for workers).
    pub fn get_deployment_by_id(&self, id: &DeploymentId) -> Result<Deployment, StoreError> {
        self.read(|conn| {
            let row = find(conn, id)?;
            row.ok_or_else(|| StoreError::NotFound(format!("deployment `{id}` not found")))?
                .try_into()
        })
    }

    /// Whether a cancel was asked for, for each of `ids` that still exists
    /// (a deleted deployment is missing from the answer): what a worker's
    /// drives watch for, in one query for all of them.
    pub fn cancel_requests(
        &self,
        ids: &[DeploymentId],
    ) -> Result<HashMap<DeploymentId, bool>, StoreError> {
        let ids: Vec<&str> = ids.iter().map(DeploymentId::as_str).collect();
        self.read(|conn| {
            let rows: Vec<(String, Option<chrono::NaiveDateTime>)> = deployments::table
                .filter(deployments::id.eq_any(&ids))
                .select((deployments::id, deployments::cancel_requested_at))
                .load(conn)?;
            rows.into_iter()
                .map(|(id, asked)| {
                    let id = DeploymentId::parse(&id).map_err(StoreError::corrupt)?;
                    Ok((id, asked.is_some()))
                })
                .collect()
        })
    }

    /// The app's deployment history, newest first.
    pub fn list_deployments(
        &self,
        app: &AppName,
        limit: u32,
        before: Option<&DeploymentId>,
    ) -> Result<Vec<Deployment>, StoreError> {
        self.read(|conn| {
            apps::exists(conn, app)?;
            let before = match before {
                Some(id) => {
                    let row = find(conn, id)?.filter(|row| row.app == app.as_str());
                    Some(row.ok_or_else(|| not_found(id, app))?.seq)
                }
                None => None,
            };
            page(app.as_str(), before, limit)
                .load(conn)?
                .into_iter()
                .map(Deployment::try_from)
                .collect()
        })
    }
}
