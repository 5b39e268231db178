//! Where an instance of an app is in its life, as the supervising worker
//! records it and `GET /apps/{app}/processes` shows it.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// Where an instance is in its life.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ProcessStatus {
    /// Running, not yet seen passing its health check.
    Starting,
    /// Running and healthy (or without a health check).
    Running,
    /// Exited on its own; waiting out its backoff before a restart.
    Crashed,
    /// Signalled to stop (a rollout replacing it), not yet gone.
    Stopping,
}

impl ProcessStatus {
    pub const ALL: [ProcessStatus; 4] = [
        ProcessStatus::Starting,
        ProcessStatus::Running,
        ProcessStatus::Crashed,
        ProcessStatus::Stopping,
    ];

    /// The status as it is stored and written by the API.
    pub fn as_str(self) -> &'static str {
        match self {
            ProcessStatus::Starting => "starting",
            ProcessStatus::Running => "running",
            ProcessStatus::Crashed => "crashed",
            ProcessStatus::Stopping => "stopping",
        }
    }

    /// The status written as `s`, if it is one.
    pub fn parse(s: &str) -> Option<ProcessStatus> {
        ProcessStatus::ALL
            .into_iter()
            .find(|status| status.as_str() == s)
    }
}
