//! Events as the deployment stream (`GET /apps/{app}/deployments/{id}/events`)
//! sends them, in each server-sent event's `data`.

use crate::domain::EventId;
use crate::events::{EventKind, EventPayload};
use crate::store;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::openapi::schema::{ObjectBuilder, Schema, Type};
use utoipa::openapi::RefOr;
use utoipa::ToSchema;

/// Something that happened to an app.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct Event {
    pub id: EventId,
    /// The app's name (kept after the app is deleted).
    pub app: String,
    /// What happened, e.g. `deployment.succeeded`.
    #[serde(rename = "type")]
    #[schema(schema_with = event_type)]
    pub kind: EventKind,
    /// Details, by type.
    #[schema(schema_with = event_data)]
    pub data: serde_json::Value,
    /// Who or what caused it.
    pub actor: String,
    pub created_at: DateTime<Utc>,
}

impl From<store::Event> for Event {
    fn from(event: store::Event) -> Event {
        Event {
            id: event.id,
            app: event.app,
            kind: event.kind,
            data: event.data,
            actor: event.actor,
            created_at: event.created_at,
        }
    }
}

/// The event types there are.
fn event_type() -> ObjectBuilder {
    ObjectBuilder::new()
        .schema_type(Type::String)
        .enum_values(Some(EventKind::ALL.map(EventKind::as_str)))
}

/// The schema of an event's `data`: the payload of its type.
fn event_data() -> RefOr<Schema> {
    EventPayload::schema()
}
