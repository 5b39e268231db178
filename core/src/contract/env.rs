//! `/apps/{app}/env`: the env of the latest release, and changes to it.

use super::{Deployment, PromoteBody, Release};
use crate::domain::{Deadline, Description, Env, EnvChange, EnvKey, InvalidInput, ReleaseId};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use utoipa::ToSchema;

/// `PATCH /apps/{app}/env`: variables to set and unset, in a new release.
#[derive(Clone, Debug, Default, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PatchEnv {
    /// Variables to add or change. Defaults to none.
    #[schema(value_type = Env)]
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub set: BTreeMap<String, String>,
    /// Variables to remove; a key that is not set is ignored. A key may not
    /// be both set and unset (422).
    #[schema(value_type = Vec<EnvKey>)]
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub unset: Vec<String>,
    /// An explicit description: one line, at most 1024 characters.
    #[schema(max_length = 1024)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// Promote the new release at once (202 with the deployment), the
    /// console's "Apply Changes". Without a change nothing is created or promoted.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub promote: bool,
    /// Only with `"promote": true` (else 422).
    #[schema(value_type = Option<Deadline>)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub deadline_seconds: Option<i64>,
    /// Only with `"promote": true` (else 422): percent kept healthy (0-100).
    #[schema(minimum = 0, maximum = 100)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub minimum: Option<i64>,
    /// Only with `"promote": true` (else 422): percent that may run (100-200).
    #[schema(minimum = 100, maximum = 200)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub maximum: Option<i64>,
}

impl PatchEnv {
    /// The change and its description, checked; the promote options stay
    /// for [`PatchEnv::promotion`].
    pub fn parse(&mut self) -> Result<(EnvChange, Option<Description>), InvalidInput> {
        let change = EnvChange::parse(
            std::mem::take(&mut self.set),
            std::mem::take(&mut self.unset),
        )?;
        let description = self
            .description
            .as_deref()
            .map(Description::parse)
            .transpose()?;
        Ok((change, description))
    }

    /// The promote options: `None` without `"promote": true`, where giving
    /// any is an error.
    pub fn promotion(&self) -> Result<Option<PromoteBody>, InvalidInput> {
        let options = PromoteBody {
            deadline_seconds: self.deadline_seconds,
            minimum: self.minimum,
            maximum: self.maximum,
        };
        if self.promote {
            Ok(Some(options))
        } else if options.is_empty() {
            Ok(None)
        } else {
            let message = "only applies with `\"promote\": true`";
            Err(InvalidInput::new("deadline_seconds", message))
        }
    }
}

/// `GET /apps/{app}/env`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct EnvShow {
    pub env: Env,
    /// The latest created release (not necessarily the active one), whose
    /// env this is; null (with an empty env) when the app has no release yet.
    #[schema(required = true)]
    pub release: Option<ReleaseId>,
}

/// An env change without `promote`: `201` with the new release, or `200`
/// with `"release": null` when the change changed nothing.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct EnvChanged {
    #[schema(required = true)]
    pub release: Option<Release>,
}

/// An env change with `"promote": true`: `202` with the new release and the
/// deployment promoting it, or `200` with both null when nothing changed.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct EnvPromoted {
    #[schema(required = true)]
    pub release: Option<Release>,
    #[schema(required = true)]
    pub deployment: Option<Deployment>,
}
