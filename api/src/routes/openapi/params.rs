//! Parameters routes share: the path segments naming apps and resources,
//! and the `Idempotency-Key`, `traceparent` and `Last-Event-ID` headers.

use utoipa::openapi::path::{Parameter, ParameterBuilder, ParameterIn};
use utoipa::openapi::schema::{ObjectBuilder, Schema, Type};
use utoipa::openapi::{Ref, RefOr, Required};
use utoipa::IntoParams;

fn path(name: &str, schema: &str, description: &str) -> Parameter {
    ParameterBuilder::new()
        .name(name)
        .parameter_in(ParameterIn::Path)
        .required(Required::True)
        .description(Some(description))
        .schema(Some(Ref::from_schema_name(schema)))
        .build()
}

fn header(name: &str, schema: impl Into<RefOr<Schema>>, description: &str) -> Parameter {
    ParameterBuilder::new()
        .name(name)
        .parameter_in(ParameterIn::Header)
        .required(Required::False)
        .description(Some(description))
        .schema(Some(schema))
        .build()
}

fn app() -> Parameter {
    path(
        "app",
        "AppName",
        "The app's name. A value that cannot be an app name is answered 404.",
    )
}

macro_rules! params {
    ($($(#[$doc:meta])* $name:ident => [$($param:expr),*];)*) => {
        $(
            $(#[$doc])*
            pub struct $name;

            impl IntoParams for $name {
                fn into_params(_: impl Fn() -> Option<ParameterIn>) -> Vec<Parameter> {
                    vec![$($param),*]
                }
            }
        )*
    };
}

params! {
    /// `{app}`.
    AppPath => [app()];
    /// `{app}` and a build `{id}`.
    BuildPath => [app(), path(
        "id",
        "BuildId",
        "A build of the app. A value that cannot be a build id, or a build of another \
         app, is answered 404.",
    )];
    /// `{app}` and a release `{id}`.
    ReleasePath => [app(), path(
        "id",
        "ReleaseId",
        "A release of the app. A value that cannot be a release id, or a release of \
         another app, is answered 404.",
    )];
    /// `{app}` and a deployment `{id}`.
    DeploymentPath => [app(), path(
        "id",
        "DeploymentId",
        "A deployment of the app. A value that cannot be a deployment id, or a \
         deployment of another app, is answered 404.",
    )];
    /// A webhook `{id}`.
    WebhookPath => [path("id", "WebhookId", "A webhook id (`W` and 10 upper-case letters).")];
    /// A webhook `{id}` and one of its deliveries.
    DeliveryPath => [
        path("id", "WebhookId", "A webhook id (`W` and 10 upper-case letters)."),
        path("delivery", "DeliveryId", "A delivery id (`V` and 10 upper-case letters).")
    ];
    /// A token `{id}`.
    TokenPath => [path("id", "TokenId", "A token id (not the token).")];
    /// `Idempotency-Key`, on every POST and PATCH.
    IdempotencyKey => [header(
        "Idempotency-Key",
        ObjectBuilder::new()
            .schema_type(Type::String)
            .min_length(Some(1))
            .max_length(Some(crate::idempotency::MAX_KEY_BYTES))
            .pattern(Some("^[\\x20-\\x7E]+$")),
        "Makes the request safe to retry: the first response is kept with the key (per \
         token) for 24 h and replayed to repeats with `Idempotent-Replayed: true`. The \
         same key with a different method, path or body is 422; while the first request \
         is still running, 409. At most 255 printable ASCII characters (else 400).",
    )];
    /// `traceparent`, on the requests that start a deployment.
    Traceparent => [header(
        "traceparent",
        ObjectBuilder::new()
            .schema_type(Type::String)
            .pattern(Some("^[0-9a-f]{2}-[0-9a-f]{32}-[0-9a-f]{16}-[0-9a-f]{2}$")),
        "A W3C trace context; the deployment's rollout continues the trace. A malformed \
         value is ignored.",
    )];
    /// `Last-Event-ID`, resuming a stream.
    LastEventId => [header(
        "Last-Event-ID",
        ObjectBuilder::new().schema_type(Type::String),
        "Resume after this event (its `id:` line); sent by EventSource on reconnect. \
         Missing or not an integer starts from the first event.",
    )];
}
