//! Progress of a running rollout (a wave started, instances healthy, a
//! rollback under way): `deployment.progress` events beside the state
//! changes, so people following a deployment see what it is doing.

use crate::domain::Deployment;
use crate::events::{EventPayload, Progress};
use crate::store::event_log::record_alone;
use crate::store::{Store, StoreError};

impl Store {
    /// Records one step of `deployment`'s rollout: one statement when no
    /// webhook wants it.
    pub fn record_progress(
        &self,
        deployment: &Deployment,
        step: &Progress,
    ) -> Result<(), StoreError> {
        self.read(|conn| {
            record_alone(
                conn,
                &deployment.app,
                Some(&deployment.id),
                EventPayload::DeploymentProgress(step.clone()),
                &deployment.actor,
            )
        })
    }
}
