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
use super::{Store, StoreError};
use crate::domain::{AppName, Deployment, DeploymentId};
use diesel::prelude::*;

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
