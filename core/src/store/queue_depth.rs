//! How much rollout work waits for a worker, for the `queue_depth` metric:
//! counted in the database, the source of truth, so the number is right
//! whichever process scrapes it and whatever the queue backend.

use super::schema::deployments;
use super::{Store, StoreError};
use diesel::prelude::*;

impl Store {
    /// Deployments still `pending`: enqueued, not yet picked up.
    pub fn pending_deployments(&self) -> Result<i64, StoreError> {
        self.read(|conn| {
            Ok(deployments::table
                .filter(deployments::status.eq("pending"))
                .count()
                .get_result(conn)?)
        })
    }
}
