//! `?limit=&before=` of the listings of builds, releases and deployments.

use crate::domain::InvalidInput;
use serde::{Deserialize, Serialize};
use utoipa::IntoParams;

/// Newest first, `limit` at a time, `before` an id of the listing's kind.
#[derive(Clone, Debug, Default, Serialize, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct PageQuery {
    /// How many to return, newest first: 1-100 (422 outside; 400 when not an integer).
    #[param(minimum = 1, maximum = 100, default = 20)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub limit: Option<i64>,
    /// Page back: only those created before this one of the app (422 when
    /// malformed, 404 when not one of the app).
    #[param(pattern = "^[A-Z][A-Z]{10}$")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub before: Option<String>,
}

impl PageQuery {
    pub const DEFAULT_LIMIT: u32 = 20;
    pub const MAX_LIMIT: u32 = 100;

    /// The page size asked for, checked.
    pub fn limit(&self) -> Result<u32, InvalidInput> {
        match self.limit {
            None => Ok(Self::DEFAULT_LIMIT),
            Some(n) => u32::try_from(n)
                .ok()
                .filter(|n| (1..=Self::MAX_LIMIT).contains(n))
                .ok_or_else(|| {
                    InvalidInput::new(
                        "limit",
                        format!("must be between 1 and {}", Self::MAX_LIMIT),
                    )
                }),
        }
    }

    /// The id to page back from, parsed with `parse`.
    pub fn before<T>(
        &self,
        parse: impl Fn(&str) -> Result<T, InvalidInput>,
    ) -> Result<Option<T>, InvalidInput> {
        self.before
            .as_deref()
            .map(|raw| parse(raw).map_err(|e| InvalidInput::new("before", e.message)))
            .transpose()
    }
}
