//! The deployment state machine:
//!
//! ```text
//! pending ─▶ running ─▶ succeeded
//!               ├─▶ rolling_back ─▶ rolled_back
//!               │        └───────▶ failed   (the rollback itself failed)
//!               └─▶ failed                   (nothing to roll back to)
//! ```

use crate::domain::InvalidInput;
use serde::{Deserialize, Serialize};

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DeploymentStatus {
    Pending,
    Running,
    Succeeded,
    RollingBack,
    RolledBack,
    Failed,
}

impl DeploymentStatus {
    pub const ALL: [DeploymentStatus; 6] = [
        DeploymentStatus::Pending,
        DeploymentStatus::Running,
        DeploymentStatus::Succeeded,
        DeploymentStatus::RollingBack,
        DeploymentStatus::RolledBack,
        DeploymentStatus::Failed,
    ];

    /// The statuses of a deployment still under way; at most one per app.
    pub const OPEN: [DeploymentStatus; 3] = [
        DeploymentStatus::Pending,
        DeploymentStatus::Running,
        DeploymentStatus::RollingBack,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            DeploymentStatus::Pending => "pending",
            DeploymentStatus::Running => "running",
            DeploymentStatus::Succeeded => "succeeded",
            DeploymentStatus::RollingBack => "rolling_back",
            DeploymentStatus::RolledBack => "rolled_back",
            DeploymentStatus::Failed => "failed",
        }
    }

    pub fn parse(s: &str) -> Result<DeploymentStatus, InvalidInput> {
        Self::ALL
            .into_iter()
            .find(|status| status.as_str() == s)
            .ok_or_else(|| InvalidInput::new("status", "unknown deployment status"))
    }

    pub fn is_final(self) -> bool {
        !Self::OPEN.contains(&self)
    }

    /// Whether the state machine allows going from `self` to `next`.
    pub fn can_become(self, next: DeploymentStatus) -> bool {
        use DeploymentStatus::*;
        matches!(
            (self, next),
            (Pending, Running)
                | (Running, Succeeded)
                | (Running, RollingBack)
                | (Running, Failed)
                | (RollingBack, RolledBack)
                | (RollingBack, Failed)
        )
    }
}

impl std::fmt::Display for DeploymentStatus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::DeploymentStatus::{self, *};

    #[test]
    fn round_trips_and_finality() {
        for status in DeploymentStatus::ALL {
            assert_eq!(DeploymentStatus::parse(status.as_str()).unwrap(), status);
            let json = serde_json::to_value(status).unwrap();
            assert_eq!(json, status.as_str());
        }
        assert!(DeploymentStatus::parse("done").is_err());
        let finals: Vec<_> = DeploymentStatus::ALL
            .into_iter()
            .filter(|s| s.is_final())
            .collect();
        assert_eq!(finals, [Succeeded, RolledBack, Failed]);
    }

    #[test]
    fn only_the_drawn_transitions_are_allowed() {
        let allowed = [
            (Pending, Running),
            (Running, Succeeded),
            (Running, RollingBack),
            (Running, Failed),
            (RollingBack, RolledBack),
            (RollingBack, Failed),
        ];
        for from in DeploymentStatus::ALL {
            for to in DeploymentStatus::ALL {
                assert_eq!(
                    from.can_become(to),
                    allowed.contains(&(from, to)),
                    "{from} -> {to}"
                );
            }
        }
    }
}
