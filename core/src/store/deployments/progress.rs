//! Progress of a running rollout (a wave started, instances healthy, a
//! rollback under way): `deployment.progress` events beside the state
//! changes, so people following a deployment see what it is doing.

use crate::events::EventKind;
use crate::store::event_log::record_for;
use crate::store::rows::deployments::Deployment;
use crate::store::{Store, StoreError};

impl Store {
    /// Records one step of `deployment`'s rollout. `data` says what
    /// happened (`{"step": "wave", ...}`); it never holds env values.
    pub fn record_progress(
        &self,
        deployment: &Deployment,
        data: serde_json::Value,
    ) -> Result<(), StoreError> {
        self.write(|conn| {
            record_for(
                conn,
                &deployment.app,
                Some(&deployment.id),
                EventKind::DeploymentProgress,
                data.clone(),
                &deployment.actor,
            )
            .map(|_| ())
        })
    }
}
