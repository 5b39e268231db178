//! Events: the facts recorded with each state change, in the same
//! transaction as the change, shown by `GET .../events` and the live stream,
//! and delivered to webhooks. This is the contract with receivers: one
//! [`EventKind`] per kind of fact (`domain/event_kind.rs`: webhooks'
//! subscriptions name kinds too), one payload type per kind
//! (`payload.rs`), and the webhook body built from them (`webhook.rs`).

mod payload;
mod webhook;

pub use crate::domain::{EventKind, UnknownEventKind};
pub use payload::{
    AppChanged, AppCrashed, AppDeleted, BuildCreated, DeploymentChanged, EnvChanged, EventPayload,
    Progress, ReleaseCreated,
};
pub use webhook::{BodyData, BodyKind, EventData, ProgressStep, TestData, WebhookBody};
