//! `/apps/{app}/releases`: a release is a build paired with an env.

use crate::domain::{BuildId, Description, Env, EnvDiff, InvalidInput, Release, ReleaseId};
use crate::store;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
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

impl From<Vec<Release>> for ReleaseList {
    fn from(releases: Vec<Release>) -> ReleaseList {
        ReleaseList { releases }
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
    pub fn between(from: Release, to: Release) -> ReleaseDiff {
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
