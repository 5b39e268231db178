//! The `data` of each kind of event, as the event log stores it and
//! `GET .../events` and the live stream show it. Env values never appear:
//! env events carry key names only.
//!
//! Every type reads back ignoring fields it does not know, so a newer
//! server's events do not break an older reader.

use super::EventKind;
use crate::domain::{
    App, AppName, Build, Deployment, DeploymentStatus, EnvDiff, Release, ReleaseId, ServiceName,
};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::openapi::schema::AnyOfBuilder;
use utoipa::openapi::{RefOr, Schema};
use utoipa::{PartialSchema, ToSchema};

/// `app.created` and `app.updated`: the app as it is now.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct AppChanged {
    #[schema(inline)]
    pub app: App,
}

/// `app.deleted`: which app.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct AppDeleted {
    pub app: AppName,
}

/// `app.crashed`: an instance of the active release exited on its own, and
/// when the supervisor starts it again.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct AppCrashed {
    pub app: AppName,
    pub service: ServiceName,
    pub release: ReleaseId,
    pub instance: String,
    pub reason: String,
    /// Restarts of this service since it last ran steadily, this one included.
    pub restarts: u32,
    pub restart_in_ms: u64,
}

/// `build.created`: the build (and the id of the release it made).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct BuildCreated {
    pub build: Build,
}

/// `release.created`: the release, without its env.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct ReleaseCreated {
    pub release: Release,
}

/// `env.changed`: the release the change made and the keys it touched.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct EnvChanged {
    pub release: ReleaseId,
    pub changes: EnvDiff,
}

/// `deployment.created` ... `deployment.failed`: the deployment as it is
/// after entering the status the event is named after.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct DeploymentChanged {
    pub deployment: Deployment,
}

/// `deployment.progress`: one step of a running rollout, for people
/// following it (not a state change).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(tag = "step", rename_all = "snake_case")]
pub enum Progress {
    /// Someone asked the drive to stop and roll back.
    Cancel { by: String },
    /// The rollout is returning to the previous release.
    Rollback { to: ReleaseId },
    /// `instances` of `release` became healthy: `healthy` of `count` now.
    Healthy {
        service: ServiceName,
        release: ReleaseId,
        instances: Vec<String>,
        healthy: usize,
        count: usize,
    },
    /// A wave starts `instances` more instances of `release` (of `count`).
    Wave {
        service: ServiceName,
        release: ReleaseId,
        instances: usize,
        count: usize,
    },
}

/// An event's data, one variant per [`EventKind`]. It serializes as the
/// data alone (the kind is stored beside it); [`EventPayload::parse`] reads
/// it back given the kind.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(untagged)]
pub enum EventPayload {
    AppCreated(AppChanged),
    AppUpdated(AppChanged),
    AppDeleted(AppDeleted),
    AppCrashed(AppCrashed),
    BuildCreated(BuildCreated),
    ReleaseCreated(ReleaseCreated),
    EnvChanged(EnvChanged),
    DeploymentCreated(DeploymentChanged),
    DeploymentStarted(DeploymentChanged),
    DeploymentSucceeded(DeploymentChanged),
    DeploymentRollingBack(DeploymentChanged),
    DeploymentRolledBack(DeploymentChanged),
    DeploymentFailed(DeploymentChanged),
    DeploymentProgress(Progress),
}

impl EventPayload {
    /// The event that records `deployment` entering its current status.
    pub fn deployment(deployment: Deployment) -> EventPayload {
        let status = deployment.status;
        let changed = DeploymentChanged { deployment };
        match status {
            DeploymentStatus::Pending => EventPayload::DeploymentCreated(changed),
            DeploymentStatus::Running => EventPayload::DeploymentStarted(changed),
            DeploymentStatus::Succeeded => EventPayload::DeploymentSucceeded(changed),
            DeploymentStatus::RollingBack => EventPayload::DeploymentRollingBack(changed),
            DeploymentStatus::RolledBack => EventPayload::DeploymentRolledBack(changed),
            DeploymentStatus::Failed => EventPayload::DeploymentFailed(changed),
        }
    }

    pub fn kind(&self) -> EventKind {
        match self {
            EventPayload::AppCreated(_) => EventKind::AppCreated,
            EventPayload::AppUpdated(_) => EventKind::AppUpdated,
            EventPayload::AppDeleted(_) => EventKind::AppDeleted,
            EventPayload::AppCrashed(_) => EventKind::AppCrashed,
            EventPayload::BuildCreated(_) => EventKind::BuildCreated,
            EventPayload::ReleaseCreated(_) => EventKind::ReleaseCreated,
            EventPayload::EnvChanged(_) => EventKind::EnvChanged,
            EventPayload::DeploymentCreated(_) => EventKind::DeploymentCreated,
            EventPayload::DeploymentStarted(_) => EventKind::DeploymentStarted,
            EventPayload::DeploymentSucceeded(_) => EventKind::DeploymentSucceeded,
            EventPayload::DeploymentRollingBack(_) => EventKind::DeploymentRollingBack,
            EventPayload::DeploymentRolledBack(_) => EventKind::DeploymentRolledBack,
            EventPayload::DeploymentFailed(_) => EventKind::DeploymentFailed,
            EventPayload::DeploymentProgress(_) => EventKind::DeploymentProgress,
        }
    }

    /// The deployment snapshot a `deployment.*` state change carries.
    pub fn deployment_snapshot(&self) -> Option<&Deployment> {
        match self {
            EventPayload::DeploymentCreated(changed)
            | EventPayload::DeploymentStarted(changed)
            | EventPayload::DeploymentSucceeded(changed)
            | EventPayload::DeploymentRollingBack(changed)
            | EventPayload::DeploymentRolledBack(changed)
            | EventPayload::DeploymentFailed(changed) => Some(&changed.deployment),
            _ => None,
        }
    }

    /// The schema of an event's `data`: one of the payloads above (which
    /// one the event's `type` says).
    pub fn schema() -> RefOr<Schema> {
        AnyOfBuilder::new()
            .item(AppChanged::schema())
            .item(AppDeleted::schema())
            .item(AppCrashed::schema())
            .item(BuildCreated::schema())
            .item(ReleaseCreated::schema())
            .item(EnvChanged::schema())
            .item(DeploymentChanged::schema())
            .item(Progress::schema())
            .description(Some("Details, by type: the payload of the event's `type`."))
            .into()
    }

    /// Reads the data of an event of `kind` back.
    pub fn parse(kind: EventKind, data: Value) -> Result<EventPayload, serde_json::Error> {
        use serde_json::from_value as read;
        Ok(match kind {
            EventKind::AppCreated => EventPayload::AppCreated(read(data)?),
            EventKind::AppUpdated => EventPayload::AppUpdated(read(data)?),
            EventKind::AppDeleted => EventPayload::AppDeleted(read(data)?),
            EventKind::AppCrashed => EventPayload::AppCrashed(read(data)?),
            EventKind::BuildCreated => EventPayload::BuildCreated(read(data)?),
            EventKind::ReleaseCreated => EventPayload::ReleaseCreated(read(data)?),
            EventKind::EnvChanged => EventPayload::EnvChanged(read(data)?),
            EventKind::DeploymentCreated => EventPayload::DeploymentCreated(read(data)?),
            EventKind::DeploymentStarted => EventPayload::DeploymentStarted(read(data)?),
            EventKind::DeploymentSucceeded => EventPayload::DeploymentSucceeded(read(data)?),
            EventKind::DeploymentRollingBack => EventPayload::DeploymentRollingBack(read(data)?),
            EventKind::DeploymentRolledBack => EventPayload::DeploymentRolledBack(read(data)?),
            EventKind::DeploymentFailed => EventPayload::DeploymentFailed(read(data)?),
            EventKind::DeploymentProgress => EventPayload::DeploymentProgress(read(data)?),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn round_trip(payload: EventPayload) {
        let data = serde_json::to_value(&payload).unwrap();
        let read = EventPayload::parse(payload.kind(), data.clone()).unwrap();
        assert_eq!(read, payload, "{data}");
    }

    #[test]
    fn payloads_read_back_as_written() {
        let release = ReleaseId::parse("RABCDEFGHIJ").unwrap();
        let web = ServiceName::parse("web").unwrap();
        round_trip(EventPayload::AppDeleted(AppDeleted {
            app: AppName::parse("shop").unwrap(),
        }));
        round_trip(EventPayload::AppCrashed(AppCrashed {
            app: AppName::parse("shop").unwrap(),
            service: web.clone(),
            release: release.clone(),
            instance: "web-1".into(),
            reason: "exited with status 1".into(),
            restarts: 2,
            restart_in_ms: 2000,
        }));
        for step in [
            Progress::Cancel { by: "ops".into() },
            Progress::Rollback {
                to: release.clone(),
            },
            Progress::Healthy {
                service: web.clone(),
                release: release.clone(),
                instances: vec!["web-1".into()],
                healthy: 1,
                count: 2,
            },
            Progress::Wave {
                service: web,
                release,
                instances: 1,
                count: 2,
            },
        ] {
            round_trip(EventPayload::DeploymentProgress(step));
        }
    }

    #[test]
    fn progress_is_tagged_by_its_step_and_unknown_fields_are_ignored() {
        let step = Progress::Rollback {
            to: ReleaseId::parse("RABCDEFGHIJ").unwrap(),
        };
        let data = serde_json::to_value(&step).unwrap();
        assert_eq!(data, json!({"step": "rollback", "to": "RABCDEFGHIJ"}));
        let newer = json!({"step": "rollback", "to": "RABCDEFGHIJ", "why": "later"});
        let read = EventPayload::parse(EventKind::DeploymentProgress, newer).unwrap();
        assert_eq!(read, EventPayload::DeploymentProgress(step));
    }
}
