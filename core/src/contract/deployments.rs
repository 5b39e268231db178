//! Starting deployments (promote, deploy, rollback) and following them.

use super::CreateBuild;
use crate::domain::{Build, Deadline, Deployment, InvalidInput, Manifest, Release, Strategy};
use crate::store;
use serde::{Deserialize, Serialize};
use std::ops::RangeInclusive;
use utoipa::ToSchema;

/// Options of a promotion; every field is optional and `{}` (or no body)
/// uses the app's deadline and the manifest's strategy.
#[derive(Clone, Debug, Default, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = PromoteOptions)]
pub struct PromoteBody {
    #[schema(value_type = Option<Deadline>)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub deadline_seconds: Option<i64>,
    /// Percent of the desired instances kept healthy during the rollout
    /// (0-100); overrides the manifest's strategy for this promotion.
    #[schema(minimum = 0, maximum = 100)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub minimum: Option<i64>,
    /// Percent of the desired instances that may run during the rollout
    /// (100-200); overrides the manifest's strategy for this promotion.
    #[schema(minimum = 100, maximum = 200)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub maximum: Option<i64>,
}

impl PromoteBody {
    /// The options, checked; `traceparent` is the W3C trace context the
    /// deployment continues.
    pub fn parse(
        &self,
        traceparent: Option<String>,
    ) -> Result<store::PromoteOptions, InvalidInput> {
        let deadline = self
            .deadline_seconds
            .map(|s| Deadline::parse(s, "deadline_seconds"))
            .transpose()?;
        let minimum = percent(self.minimum, "minimum", 0..=100)?.map(|v| v as u8);
        let maximum = percent(self.maximum, "maximum", 100..=200)?.map(|v| v as u16);
        if let (Some(min), Some(max)) = (minimum, maximum) {
            Strategy::new(min, max)?;
        }
        Ok(store::PromoteOptions {
            deadline,
            minimum,
            maximum,
            traceparent,
        })
    }

    /// Whether any option is given.
    pub fn is_empty(&self) -> bool {
        self.deadline_seconds.is_none() && self.minimum.is_none() && self.maximum.is_none()
    }
}

fn percent(
    value: Option<i64>,
    field: &str,
    range: RangeInclusive<i64>,
) -> Result<Option<i64>, InvalidInput> {
    value
        .map(|v| {
            range.contains(&v).then_some(v).ok_or_else(|| {
                let (lo, hi) = (range.start(), range.end());
                InvalidInput::new(field, format!("must be a percent from {lo} to {hi}"))
            })
        })
        .transpose()
}

/// `POST /apps/{app}/deploy`: a build's fields and the promote options.
#[derive(Clone, Debug, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Deploy {
    /// Validated field by field: a bad manifest is 422 naming the field.
    #[schema(value_type = Manifest)]
    pub manifest: serde_json::Value,
    /// The commit: 4 to 64 hex digits, either case (stored lower-case).
    #[schema(pattern = "^[0-9A-Fa-f]{4,64}$")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub git_sha: Option<String>,
    /// The commit message; only its first line is kept. Needs `git_sha`.
    #[schema(max_length = 65536)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub git_message: Option<String>,
    /// An explicit description: one line, at most 1024 characters.
    #[schema(max_length = 1024)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    #[schema(value_type = Option<Deadline>)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub deadline_seconds: Option<i64>,
    /// Percent kept healthy during the rollout (0-100).
    #[schema(minimum = 0, maximum = 100)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub minimum: Option<i64>,
    /// Percent that may run during the rollout (100-200).
    #[schema(minimum = 100, maximum = 200)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub maximum: Option<i64>,
}

impl Deploy {
    /// The build to create and how to promote it.
    pub fn split(self) -> (CreateBuild, PromoteBody) {
        let build = CreateBuild {
            manifest: self.manifest,
            git_sha: self.git_sha,
            git_message: self.git_message,
            description: self.description,
        };
        let promote = PromoteBody {
            deadline_seconds: self.deadline_seconds,
            minimum: self.minimum,
            maximum: self.maximum,
        };
        (build, promote)
    }
}

/// `202` to promote and rollback.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct Promoted {
    /// The release being promoted.
    pub release: Release,
    /// The deployment promoting it, pending.
    pub deployment: Deployment,
}

/// `202` to `POST /apps/{app}/deploy`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct Deployed {
    pub build: Build,
    /// The build's new release, being promoted.
    pub release: Release,
    /// The deployment promoting it, pending.
    pub deployment: Deployment,
}

/// `GET /apps/{app}/deployments`, newest first.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct DeploymentList {
    pub deployments: Vec<Deployment>,
}

impl From<Vec<Deployment>> for DeploymentList {
    fn from(deployments: Vec<Deployment>) -> DeploymentList {
        DeploymentList { deployments }
    }
}
