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
use utoipa::openapi::schema::{ObjectBuilder, Schema, Type};
use utoipa::openapi::RefOr;
use utoipa::ToSchema;

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, ToSchema)]
#[schema(as = AppRecord)]
/// An app as its events carry it (the API's answer adds its services).
pub struct App {
    pub name: AppName,
    pub active_release: Option<ReleaseId>,
    pub deadline_seconds: Deadline,
    pub created_at: DateTime<Utc>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, ToSchema)]
/// A build as the API shows it and its `build.created` event carries it:
/// what CI posted, a manifest and the commit it came from. Every build
/// created exactly one release.
pub struct Build {
    pub id: BuildId,
    pub app: AppName,
    /// The release this build created.
    pub release: ReleaseId,
    /// The description of the release the build created.
    pub description: String,
    /// The commit sha, lower-cased; null when none was given.
    #[schema(required = true)]
    pub git_sha: Option<String>,
    /// The commit's subject: the first line of the given message, trimmed
    /// (empty when `git_sha` came without a message); null when no
    /// `git_sha` was given.
    #[schema(required = true)]
    pub git_message: Option<String>,
    /// The manifest in canonical form: every default filled in.
    pub manifest: Manifest,
    /// The name of the token that created the build.
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

impl ReleaseStatus {
    /// The status as the API writes it (empty for an inactive release).
    pub fn as_str(self) -> &'static str {
        match self {
            ReleaseStatus::Inactive => "",
            ReleaseStatus::Active => "active",
            ReleaseStatus::Promoting => "promoting",
            ReleaseStatus::Failed => "failed",
        }
    }
}

/// By hand: utoipa's derive reads `rename = ""` as no rename.
impl utoipa::PartialSchema for ReleaseStatus {
    fn schema() -> RefOr<Schema> {
        ObjectBuilder::new()
            .schema_type(Type::String)
            .enum_values(Some(["", "active", "promoting", "failed"]))
            .description(Some(
                "`active` for the app's active (promoted) release, `promoting` while a \
                 deployment of it is open, `failed` when its last deployment failed or was \
                 rolled back, the empty string otherwise.",
            ))
            .into()
    }
}

impl ToSchema for ReleaseStatus {}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, ToSchema)]
/// A release as the API shows it and its `release.created` event carries it:
/// a build paired with an env. Releases are immutable; creating one never
/// promotes it. Listings and creations show a release without its env.
pub struct Release {
    pub id: ReleaseId,
    pub app: AppName,
    /// The build the release runs; null for an env-only release made before any build.
    #[schema(required = true)]
    pub build: Option<BuildId>,
    /// An explicit description, or the default: `build <sha10> <subject>`
    /// for a build, `env add:A change:B remove:C` for an env change.
    pub description: String,
    pub status: ReleaseStatus,
    /// The name of the token that created the release.
    pub actor: String,
    pub created_at: DateTime<Utc>,
    /// Only when one release is fetched: listings leave values out.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub env: Option<Env>,
}

/// One attempt to promote a release.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct Deployment {
    pub id: DeploymentId,
    pub app: AppName,
    pub release: ReleaseId,
    /// The release that was active when it started: what a rollback returns
    /// to; null when none was.
    #[schema(required = true)]
    pub previous_release: Option<ReleaseId>,
    pub status: DeploymentStatus,
    /// Why it failed, was rolled back or cancelled; null otherwise.
    #[schema(required = true)]
    pub reason: Option<String>,
    /// When an unfinished rollout is rolled back.
    pub deadline_at: DateTime<Utc>,
    /// The `minimum` override of this promotion (percent), else null (the
    /// manifest's strategy applies).
    #[schema(required = true, maximum = 100)]
    pub minimum: Option<u8>,
    /// The `maximum` override of this promotion (percent), else null.
    #[schema(required = true, minimum = 100, maximum = 200)]
    pub maximum: Option<u16>,
    /// The name of the token that started it.
    pub actor: String,
    /// The W3C trace id the rollout is traced under; null when untraced.
    #[schema(required = true)]
    pub trace_id: Option<String>,
    #[serde(skip)]
    pub traceparent: Option<String>,
    /// Whether a cancel was asked for.
    pub cancel_requested: bool,
    /// How many times a drive has claimed it (the lease's fencing token).
    #[serde(skip)]
    pub lease_epoch: i64,
    pub created_at: DateTime<Utc>,
    /// When a worker started it; null while pending.
    #[schema(required = true)]
    pub started_at: Option<DateTime<Utc>>,
    /// When it reached a final status; null until then.
    #[schema(required = true)]
    pub finished_at: Option<DateTime<Utc>>,
    /// Milliseconds from start to finish, once finished; null before.
    #[schema(required = true)]
    pub duration_ms: Option<i64>,
}
