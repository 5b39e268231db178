//! The HTTP API's contract: every request body, query string and response
//! body, one file per resource, shared by the server (`slipway-api`), the
//! CLI and the console, and described by the OpenAPI document.
//!
//! Requests refuse unknown fields (`deny_unknown_fields`) and are parsed
//! into domain types here (`CreateBuild::parse`), so the server checks them
//! in one place. Responses ignore unknown fields, so an older client keeps
//! reading what a newer server adds; they are built from the store's records
//! with `From`.

pub mod apps;
pub mod builds;
pub mod deployments;
pub mod env;
pub mod errors;
pub mod events;
pub mod health;
pub mod logs;
pub mod paging;
pub mod processes;
pub mod releases;
pub mod time;
pub mod tokens;
pub mod webhooks;

/// The records the API answers with as they are (`Release`, ...): the
/// domain's own types, which the events carry too.
pub use crate::domain::{Build, Deployment, Release, ReleaseStatus};
pub use apps::{App, AppList, CreateApp, UpdateApp};
pub use builds::{BuildCreated, BuildList, CreateBuild};
pub use deployments::{Deploy, Deployed, DeploymentList, PromoteBody, Promoted};
pub use env::{EnvChanged, EnvPromoted, EnvShow, PatchEnv};
pub use errors::{ErrorBody, ErrorDetail};
pub use events::Event;
pub use health::Status;
pub use logs::{LogLine, LogLines, LogsQuery};
pub use paging::PageQuery;
pub use processes::{Process, ProcessList, ProcessStatus};
pub use releases::{
    BuildChange, CreateRelease, DiffQuery, ReleaseCreated, ReleaseDiff, ReleaseList,
};
pub use time::relative;
pub use tokens::{CreateToken, Token, TokenList, TokenWithSecret};
pub use webhooks::{
    CreateWebhook, DeliveriesQuery, Delivery, DeliveryList, Webhook, WebhookList, WebhookWithSecret,
};
#[cfg(test)]
mod tests;
