//! The server-sent events of the two streams (a deployment's events, an
//! app's log lines followed), described frame by frame: each frame's
//! `data` is a JSON document of a contract type.

use slipway_core::events::EventKind;
use utoipa::openapi::schema::{ObjectBuilder, Schema, Type};
use utoipa::openapi::Ref;

/// A frame whose `event` is one of `events` and whose `data` is the JSON of
/// the schema `data`.
fn frame(events: Vec<&str>, data: &str, description: &str) -> Schema {
    let text = || ObjectBuilder::new().schema_type(Type::String);
    ObjectBuilder::new()
        .schema_type(Type::Object)
        .description(Some(description))
        .property(
            "id",
            text().description(Some("The `id:` line: resume after it.")),
        )
        .property("event", text().enum_values(Some(events)))
        .property(
            "data",
            text()
                .content_media_type("application/json")
                .content_schema(Some(Ref::from_schema_name(data))),
        )
        .required("data")
        .into()
}

/// The frame schemas, by name, for the document's components.
pub fn components() -> Vec<(&'static str, Schema)> {
    vec![
        (
            "EventStreamFrame",
            frame(
                EventKind::ALL.map(EventKind::as_str).to_vec(),
                "Event",
                "One server-sent event of a deployment's stream: `event` is the event's type.",
            ),
        ),
        (
            "LogStreamFrame",
            frame(
                vec!["log"],
                "LogLine",
                "One server-sent event of a followed log: one line.",
            ),
        ),
    ]
}
