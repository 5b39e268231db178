//! How pages show things: the header every signed-in page has, times
//! (relative, as the CLI prints them, with the exact UTC time beside),
//! durations, and the CSS class of a status.

use chrono::{DateTime, Utc};
use slipway_core::contract::relative;
use slipway_core::domain::{DeploymentStatus, ReleaseStatus};

/// The header of a signed-in page: who is signed in, and the sign-out
/// form's CSRF value.
pub struct Nav {
    pub who: String,
    pub csrf: String,
    /// Whether the token is an admin's: the header then links to the
    /// admin pages (webhooks, tokens).
    pub admin: bool,
}

/// A moment shown two ways: relative (`3 minutes ago`) and exact (UTC).
pub struct When {
    pub ago: String,
    pub utc: String,
}

impl When {
    pub fn of(then: DateTime<Utc>) -> When {
        When {
            ago: relative(then, Utc::now()),
            utc: then.format("%Y-%m-%d %H:%M:%S UTC").to_string(),
        }
    }
}

/// `850ms`, `12.3s`, `4m 5s` from milliseconds.
pub fn duration(ms: i64) -> String {
    match ms {
        ms if ms < 1_000 => format!("{ms}ms"),
        ms if ms < 60_000 => format!("{:.1}s", ms as f64 / 1000.0),
        ms => format!("{}m {}s", ms / 60_000, (ms % 60_000) / 1000),
    }
}

/// The CSS class that marks a release's status.
pub fn release_class(status: ReleaseStatus) -> &'static str {
    match status {
        ReleaseStatus::Active => "status-ok",
        ReleaseStatus::Promoting => "status-busy",
        ReleaseStatus::Failed => "status-bad",
        ReleaseStatus::Inactive => "",
    }
}

/// The CSS class that marks a deployment's status.
pub fn deployment_class(status: DeploymentStatus) -> &'static str {
    match status {
        DeploymentStatus::Succeeded => "status-ok",
        DeploymentStatus::Pending | DeploymentStatus::Running | DeploymentStatus::RollingBack => {
            "status-busy"
        }
        DeploymentStatus::RolledBack | DeploymentStatus::Failed => "status-bad",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeDelta;

    #[test]
    fn times_and_durations_read_like_the_cli() {
        let now = Utc::now();
        assert_eq!(relative(now, now), "just now");
        assert_eq!(
            relative(now - TimeDelta::seconds(120), now),
            "2 minutes ago"
        );
        assert_eq!(relative(now - TimeDelta::hours(1), now), "1 hour ago");
        assert_eq!(duration(850), "850ms");
        assert_eq!(duration(12_345), "12.3s");
        assert_eq!(duration(245_000), "4m 5s");
    }
}
