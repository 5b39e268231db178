//! `GET /apps/{app}/logs`: what the app's instances wrote.

use crate::domain::ServiceName;
pub use crate::store::LogLine;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

/// `?service=&since=&limit=&follow=`.
#[derive(Clone, Debug, Default, Serialize, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct LogsQuery {
    /// Only this service's lines.
    #[param(value_type = Option<ServiceName>)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub service: Option<String>,
    /// Lines written since then: an RFC 3339 time, or how long ago (`30s`,
    /// `10m`, `2h`, `1d`; at most 30 days). 422 otherwise.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub since: Option<String>,
    /// The newest this many lines: 1-1000 (default 100).
    #[param(minimum = 1, maximum = 1000, default = 100)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub limit: Option<i64>,
    /// Keep the response open and send each new line as a server-sent
    /// event (`text/event-stream`, `event: log`), until the client goes.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub follow: Option<bool>,
}

/// The newest lines, oldest first.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct LogLines {
    pub lines: Vec<LogLine>,
}
