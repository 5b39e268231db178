//! `/apps/{app}/builds`: a build creates a release; it does not promote.

use crate::domain::{Build, Description, GitInfo, InvalidInput, Manifest, Release};
use crate::store;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// `POST /apps/{app}/builds`: a manifest and the commit it came from.
#[derive(Clone, Debug, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateBuild {
    /// Validated field by field: a bad manifest is 422 naming the field
    /// (`manifest.services.web.port`), not 400.
    #[schema(value_type = Manifest)]
    pub manifest: serde_json::Value,
    /// The commit: 4 to 64 hex digits, either case (stored lower-case).
    #[schema(pattern = "^[0-9A-Fa-f]{4,64}$")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub git_sha: Option<String>,
    /// The commit message, at most 65536 bytes; only its first line (the
    /// subject) is kept. Needs `git_sha`.
    #[schema(max_length = 65536)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub git_message: Option<String>,
    /// An explicit release description: a single line without control
    /// characters, at most 1024 characters.
    #[schema(max_length = 1024)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
}

impl CreateBuild {
    /// The build, checked: the manifest, the commit and the description.
    pub fn parse(&self) -> Result<store::NewBuild, InvalidInput> {
        let git = match (&self.git_sha, &self.git_message) {
            (Some(sha), message) => Some(GitInfo::parse(sha, message.as_deref())?),
            (None, Some(_)) => {
                return Err(InvalidInput::new(
                    "git_message",
                    "is given without `git_sha`",
                ))
            }
            (None, None) => None,
        };
        Ok(store::NewBuild {
            manifest: Manifest::from_json(&self.manifest)?,
            git,
            description: self
                .description
                .as_deref()
                .map(Description::parse)
                .transpose()?,
        })
    }
}

/// `201` to `POST /apps/{app}/builds`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct BuildCreated {
    pub build: Build,
    /// The new release, not promoted.
    pub release: Release,
}

/// `GET /apps/{app}/builds`, newest first.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct BuildList {
    pub builds: Vec<Build>,
}

impl From<Vec<Build>> for BuildList {
    fn from(builds: Vec<Build>) -> BuildList {
        BuildList { builds }
    }
}
