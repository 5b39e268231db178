//! `/apps/{app}/releases`: a release is a build paired with an env.

use crate::domain::{AppName, BuildId, Description, Env, EnvDiff, InvalidInput, ReleaseId};
use crate::store;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use utoipa::openapi::schema::{ObjectBuilder, Schema, Type};
use utoipa::openapi::RefOr;
use utoipa::{IntoParams, ToSchema};

/// `POST /apps/{app}/releases` (Convox's explicit form): what is left out
/// comes from the latest release.
#[derive(Clone, Debug, Default, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateRelease {
    /// A build of this app (404 if it is not one). Defaults to the latest
    /// release's build.
    #[schema(value_type = Option<BuildId>)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub build: Option<String>,
    /// The whole env of the release (it replaces, it does not merge).
    /// Defaults to the latest release's env.
    #[schema(value_type = Option<Env>)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub env: Option<BTreeMap<String, String>>,
    /// An explicit description: one line, at most 1024 characters.
    #[schema(max_length = 1024)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
}

impl CreateRelease {
    pub fn parse(self) -> Result<store::NewRelease, InvalidInput> {
        let build = self
            .build
            .map(|b| BuildId::parse(&b).map_err(|e| InvalidInput::new("build", e.message)))
            .transpose()?;
        Ok(store::NewRelease {
            build,
            env: self.env.map(Env::parse).transpose()?,
            description: self
                .description
                .as_deref()
                .map(Description::parse)
                .transpose()?,
        })
    }
}

/// A release's standing in its app: `active` for the app's active
/// (promoted) release, `promoting` while a deployment of it is open,
/// `failed` when its last deployment failed or was rolled back, the empty
/// string otherwise.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum ReleaseStatus {
    #[serde(rename = "")]
    Inactive,
    #[serde(rename = "active")]
    Active,
    #[serde(rename = "promoting")]
    Promoting,
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

impl From<store::ReleaseStatus> for ReleaseStatus {
    fn from(status: store::ReleaseStatus) -> ReleaseStatus {
        match status {
            store::ReleaseStatus::Inactive => ReleaseStatus::Inactive,
            store::ReleaseStatus::Active => ReleaseStatus::Active,
            store::ReleaseStatus::Promoting => ReleaseStatus::Promoting,
            store::ReleaseStatus::Failed => ReleaseStatus::Failed,
        }
    }
}

/// A build paired with an env. Releases are immutable; creating one never
/// promotes it. Listings and creations show a release without its env.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, ToSchema)]
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
    /// Only when one release is fetched (`GET /apps/{app}/releases/{id}`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub env: Option<Env>,
}

impl From<store::Release> for Release {
    fn from(release: store::Release) -> Release {
        Release {
            id: release.id,
            app: release.app,
            build: release.build,
            description: release.description,
            status: release.status.into(),
            actor: release.actor,
            created_at: release.created_at,
            env: release.env,
        }
    }
}

/// `201` to `POST /apps/{app}/releases`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct ReleaseCreated {
    /// The new release, not promoted.
    pub release: Release,
}

/// `GET /apps/{app}/releases`, newest first, without env.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct ReleaseList {
    pub releases: Vec<Release>,
}

impl From<Vec<store::Release>> for ReleaseList {
    fn from(releases: Vec<store::Release>) -> ReleaseList {
        ReleaseList {
            releases: releases.into_iter().map(Release::from).collect(),
        }
    }
}

/// `?against=R...` of a diff: the release compared with.
#[derive(Clone, Debug, Default, Serialize, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct DiffQuery {
    /// The release to compare with (required: 422 without it).
    #[param(value_type = String, pattern = "^R[A-Z]{10}$")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub against: Option<String>,
}

/// What changes going from `against` to `release`: the build, and the env
/// keys added, changed and removed. Values are never shown.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct ReleaseDiff {
    /// The newer side.
    pub release: ReleaseId,
    /// The release compared with.
    pub against: ReleaseId,
    pub build: BuildChange,
    /// Keys only, each list sorted.
    pub env: EnvDiff,
}

/// The build on each side of a diff.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct BuildChange {
    #[schema(required = true)]
    pub from: Option<BuildId>,
    #[schema(required = true)]
    pub to: Option<BuildId>,
    pub changed: bool,
}

impl ReleaseDiff {
    /// From release `from` to release `to`.
    pub fn between(from: store::Release, to: store::Release) -> ReleaseDiff {
        let (old, new) = (
            from.env.unwrap_or_else(Env::empty),
            to.env.unwrap_or_else(Env::empty),
        );
        ReleaseDiff {
            release: to.id,
            against: from.id,
            build: BuildChange {
                changed: from.build != to.build,
                from: from.build,
                to: to.build,
            },
            env: EnvDiff::between(&old, &new),
        }
    }
}
