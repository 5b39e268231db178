//! Event kinds: what happened, as the `type` of every event and webhook body.

use super::DeploymentStatus;
use serde::{Deserialize, Serialize};

/// What happened. The string form (`release.created`) is the public contract;
/// reading an unknown one is an error.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum EventKind {
    #[serde(rename = "app.created")]
    AppCreated,
    #[serde(rename = "app.updated")]
    AppUpdated,
    #[serde(rename = "app.deleted")]
    AppDeleted,
    /// An instance of the app's active release exited on its own; the
    /// worker restarts it after a backoff that doubles while it keeps crashing.
    #[serde(rename = "app.crashed")]
    AppCrashed,
    #[serde(rename = "build.created")]
    BuildCreated,
    #[serde(rename = "release.created")]
    ReleaseCreated,
    #[serde(rename = "env.changed")]
    EnvChanged,
    #[serde(rename = "deployment.created")]
    DeploymentCreated,
    #[serde(rename = "deployment.started")]
    DeploymentStarted,
    #[serde(rename = "deployment.succeeded")]
    DeploymentSucceeded,
    #[serde(rename = "deployment.rolling_back")]
    DeploymentRollingBack,
    #[serde(rename = "deployment.rolled_back")]
    DeploymentRolledBack,
    #[serde(rename = "deployment.failed")]
    DeploymentFailed,
    /// A step of a running rollout (a wave started, instances healthy, a
    /// rollback under way): for people following it, not a state change.
    #[serde(rename = "deployment.progress")]
    DeploymentProgress,
}

impl EventKind {
    pub const ALL: [EventKind; 14] = [
        EventKind::AppCreated,
        EventKind::AppUpdated,
        EventKind::AppDeleted,
        EventKind::AppCrashed,
        EventKind::BuildCreated,
        EventKind::ReleaseCreated,
        EventKind::EnvChanged,
        EventKind::DeploymentCreated,
        EventKind::DeploymentStarted,
        EventKind::DeploymentSucceeded,
        EventKind::DeploymentRollingBack,
        EventKind::DeploymentRolledBack,
        EventKind::DeploymentFailed,
        EventKind::DeploymentProgress,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            EventKind::AppCreated => "app.created",
            EventKind::AppUpdated => "app.updated",
            EventKind::AppDeleted => "app.deleted",
            EventKind::AppCrashed => "app.crashed",
            EventKind::BuildCreated => "build.created",
            EventKind::ReleaseCreated => "release.created",
            EventKind::EnvChanged => "env.changed",
            EventKind::DeploymentCreated => "deployment.created",
            EventKind::DeploymentStarted => "deployment.started",
            EventKind::DeploymentSucceeded => "deployment.succeeded",
            EventKind::DeploymentRollingBack => "deployment.rolling_back",
            EventKind::DeploymentRolledBack => "deployment.rolled_back",
            EventKind::DeploymentFailed => "deployment.failed",
            EventKind::DeploymentProgress => "deployment.progress",
        }
    }

    /// The kind named `s` (`release.created`).
    pub fn parse(s: &str) -> Result<EventKind, UnknownEventKind> {
        EventKind::ALL
            .into_iter()
            .find(|kind| kind.as_str() == s)
            .ok_or_else(|| UnknownEventKind(s.to_owned()))
    }

    /// The event that records a deployment entering `status`.
    pub fn for_deployment(status: DeploymentStatus) -> EventKind {
        match status {
            DeploymentStatus::Pending => EventKind::DeploymentCreated,
            DeploymentStatus::Running => EventKind::DeploymentStarted,
            DeploymentStatus::Succeeded => EventKind::DeploymentSucceeded,
            DeploymentStatus::RollingBack => EventKind::DeploymentRollingBack,
            DeploymentStatus::RolledBack => EventKind::DeploymentRolledBack,
            DeploymentStatus::Failed => EventKind::DeploymentFailed,
        }
    }
}

impl std::fmt::Display for EventKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl std::str::FromStr for EventKind {
    type Err = UnknownEventKind;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        EventKind::parse(s)
    }
}

/// A `type` this version does not know (a newer server's, or corrupt data).
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("unknown event kind `{0}`")]
pub struct UnknownEventKind(pub String);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn serde_name_matches_as_str() {
        for kind in EventKind::ALL {
            let json = serde_json::to_value(kind).unwrap();
            assert_eq!(json, serde_json::Value::String(kind.as_str().into()));
            assert_eq!(serde_json::from_value::<EventKind>(json).unwrap(), kind);
            assert_eq!(EventKind::parse(kind.as_str()), Ok(kind));
        }
    }

    #[test]
    fn an_unknown_kind_is_an_error() {
        assert!(serde_json::from_str::<EventKind>(r#""app.renamed""#).is_err());
        let err = EventKind::parse("app.renamed").unwrap_err();
        assert_eq!(err.to_string(), "unknown event kind `app.renamed`");
    }
}
