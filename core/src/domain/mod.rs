//! Slipway's domain layer: validated value types (ids, names, env, descriptions,
//! manifests, the router's URL) and the shared [`InvalidInput`] error they reject bad input with.
//!
//! Every type here is "parsed, not validated": fields are private and the only way
//! to build one from outside data is a constructor that checks it.

pub mod deadline;
pub mod deployment;
pub mod description;
pub mod env;
pub mod event_kind;
pub mod ids;
pub mod job;
pub mod manifest;
pub mod names;
pub mod process;
pub mod records;
pub mod routes;
pub mod token;
pub mod webhook;
mod webhook_url;

pub use deadline::Deadline;
pub use deployment::DeploymentStatus;
pub use description::{
    build_description, env_description, rollback_description, Description, GitInfo,
};
pub use env::{Env, EnvChange, EnvDiff, EnvKey, MAX_ENV_BYTES, MAX_KEY_BYTES, MAX_VALUE_BYTES};
pub use event_kind::{EventKind, UnknownEventKind};
pub use ids::{BuildId, DeliveryId, DeploymentId, EventId, ReleaseId, TokenId, WebhookId};
pub use job::RolloutJob;
pub use manifest::{Health, Manifest, Service, Strategy};
pub use names::{AppName, ServiceName, TokenName};
pub use process::ProcessStatus;
pub use records::{App, Build, Deployment, Release, ReleaseStatus};
pub use routes::{service_hosts, service_urls, RouterUrl, ServiceUrls};
pub use token::{Denied, Grant, Scope};
pub use webhook::{DeliveryStatus, EventPattern, WebhookKind};
pub use webhook_url::{refused_class, WebhookUrl, WebhookUrlError};

/// A rejected input value; `field` names where it was found (e.g. `name`, `env.FOO`, `manifest.services.web.port`).
///
/// The message must never echo an env value: values are secrets.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{field}: {message}")]
pub struct InvalidInput {
    /// Where the bad value was found, as a dotted path.
    pub field: String,
    /// What is wrong with it, in words a user can act on.
    pub message: String,
}

impl InvalidInput {
    /// Builds an error for `field`.
    pub fn new(field: impl Into<String>, message: impl Into<String>) -> Self {
        Self {
            field: field.into(),
            message: message.into(),
        }
    }
}

/// Deserializes a string and runs it through a type's `parse`, so bad input fails
/// deserialization instead of producing an unchecked value.
pub(crate) fn deserialize_parsed<'de, D, T>(
    deserializer: D,
    parse: fn(&str) -> Result<T, InvalidInput>,
) -> Result<T, D::Error>
where
    D: serde::Deserializer<'de>,
{
    let raw = <String as serde::Deserialize>::deserialize(deserializer)?;
    parse(&raw).map_err(serde::de::Error::custom)
}

/// Implements `Display`, `FromStr`, `Serialize` (as a plain string) and `Deserialize`
/// (through `parse`) for a newtype over `String` with `parse` and `as_str`.
macro_rules! string_newtype_impls {
    ($name:ident) => {
        impl ::std::fmt::Display for $name {
            fn fmt(&self, f: &mut ::std::fmt::Formatter<'_>) -> ::std::fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl ::std::str::FromStr for $name {
            type Err = $crate::domain::InvalidInput;

            fn from_str(s: &str) -> Result<Self, Self::Err> {
                Self::parse(s)
            }
        }

        impl ::serde::Serialize for $name {
            fn serialize<S: ::serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
                serializer.serialize_str(self.as_str())
            }
        }

        impl<'de> ::serde::Deserialize<'de> for $name {
            fn deserialize<D: ::serde::Deserializer<'de>>(
                deserializer: D,
            ) -> Result<Self, D::Error> {
                $crate::domain::deserialize_parsed(deserializer, Self::parse)
            }
        }
    };
}
pub(crate) use string_newtype_impls;

/// Implements utoipa's `ToSchema` for a string newtype: a named component
/// (`AppName`, `ReleaseId`) with the pattern its `parse` enforces.
macro_rules! string_schema {
    ($name:ident, $pattern:expr, $description:expr) => {
        impl ::utoipa::PartialSchema for $name {
            fn schema() -> ::utoipa::openapi::RefOr<::utoipa::openapi::schema::Schema> {
                ::utoipa::openapi::ObjectBuilder::new()
                    .schema_type(::utoipa::openapi::schema::Type::String)
                    .pattern(Some($pattern))
                    .description(Some($description))
                    .into()
            }
        }

        impl ::utoipa::ToSchema for $name {}
    };
}
pub(crate) use string_schema;
