//! What makes a type a job: the [`Job`] trait, and its implementation for
//! the rollout job `core` defines.

use std::fmt::Display;
use std::hash::Hash;

use serde::de::DeserializeOwned;
use serde::Serialize;
use slipway_core::domain::{DeploymentId, RolloutJob};

/// A background job: a serde payload in a queue of its own.
///
/// A second job type (an app's teardown, say) is a new type with this trait
/// and a handler for [`crate::consume`]; the queue code stays as it is.
pub trait Job: Serialize + DeserializeOwned + Clone + Unpin + Send + Sync + 'static {
    /// The queue's name after the namespace: its Redis keys start with
    /// `<namespace>:<NAME>`. Fixed for good once deployed, or jobs already
    /// queued under the old name are stranded.
    const NAME: &'static str;

    /// What the job works on, for log lines; an in-process queue holds one
    /// waiting job per key.
    type Key: Clone + Eq + Hash + Display + Send + Sync + 'static;

    /// This job's key.
    fn key(&self) -> Self::Key;
}

impl Job for RolloutJob {
    /// `<namespace>:rollouts`, as before the queue had a crate of its own.
    const NAME: &'static str = "rollouts";
    type Key = DeploymentId;

    fn key(&self) -> DeploymentId {
        self.deployment.clone()
    }
}
