//! What the store hands out, shaped as the API shows it and as events carry
//! it (the snapshot in `deployment.*`, `app.*`, `build.created` and
//! `release.created`): apps, builds, releases and deployments. The store's
//! rows convert into these; serde reads them back ignoring unknown fields, so
//! a newer server's snapshot does not break an older reader. Their fields
//! are public: each is itself a parsed type, or a fact the store recorded.

use crate::domain::{
    AppName, BuildId, Deadline, DeploymentId, DeploymentStatus, Env, Manifest, ReleaseId,
};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
/// An app as the API shows it and its events carry it.
pub struct App {
    pub name: AppName,
    pub active_release: Option<ReleaseId>,
    pub deadline_seconds: Deadline,
    pub created_at: DateTime<Utc>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
/// A build as the API shows it and its `build.created` event carries it.
pub struct Build {
    pub id: BuildId,
    pub app: AppName,
    /// The release this build created.
    pub release: ReleaseId,
    pub description: String,
    pub git_sha: Option<String>,
    pub git_message: Option<String>,
    pub manifest: Manifest,
    pub actor: String,
    pub created_at: DateTime<Utc>,
}

/// A release's standing in its app, as listings show it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum ReleaseStatus {
    #[serde(rename = "")]
    Inactive,
    #[serde(rename = "active")]
    Active,
    /// Its deployment is under way.
    #[serde(rename = "promoting")]
    Promoting,
    /// Its latest deployment ended without making it active.
    #[serde(rename = "failed")]
    Failed,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
/// A release as the API shows it and its `release.created` event carries it.
pub struct Release {
    pub id: ReleaseId,
    pub app: AppName,
    pub build: Option<BuildId>,
    pub description: String,
    pub status: ReleaseStatus,
    pub actor: String,
    pub created_at: DateTime<Utc>,
    /// Only when one release is fetched: listings leave values out.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub env: Option<Env>,
}

/// One attempt to promote a release.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Deployment {
    pub id: DeploymentId,
    pub app: AppName,
    pub release: ReleaseId,
    /// The release that was active when it started: what a rollback returns to.
    pub previous_release: Option<ReleaseId>,
    pub status: DeploymentStatus,
    pub reason: Option<String>,
    pub deadline_at: DateTime<Utc>,
    /// Strategy overrides of this promotion (percent), else the manifest's.
    pub minimum: Option<u8>,
    pub maximum: Option<u16>,
    pub actor: String,
    pub trace_id: Option<String>,
    #[serde(skip)]
    pub traceparent: Option<String>,
    pub cancel_requested: bool,
    /// How many times a drive has claimed it (the lease's fencing token).
    #[serde(skip)]
    pub lease_epoch: i64,
    pub created_at: DateTime<Utc>,
    pub started_at: Option<DateTime<Utc>>,
    pub finished_at: Option<DateTime<Utc>>,
    /// From start to finish, once finished.
    pub duration_ms: Option<i64>,
}
