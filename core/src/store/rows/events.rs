//! The `events` table: an event as `GET .../events` and the live stream
//! show it, and its row. Events are written by `event_log` only.

use super::parse;
use crate::domain::EventId;
use crate::events::{EventKind, EventPayload};
use crate::store::error::StoreError;
use crate::store::schema::events;
use chrono::{DateTime, NaiveDateTime, Utc};
use diesel::prelude::*;
use serde::{Deserialize, Serialize};

/// An event as read back: its `data` exactly as stored, and typed by
/// [`Event::payload`].
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Event {
    /// Orders events; streams resume after it.
    #[serde(skip)]
    pub seq: i64,
    pub id: EventId,
    pub app: String,
    #[serde(rename = "type")]
    pub kind: EventKind,
    pub data: serde_json::Value,
    pub actor: String,
    pub created_at: DateTime<Utc>,
}

#[derive(Queryable, Selectable, Debug)]
#[diesel(table_name = events)]
pub(crate) struct EventRow {
    pub seq: i64,
    pub id: String,
    pub app: String,
    pub kind: String,
    pub data: String,
    pub actor: String,
    pub created_at: NaiveDateTime,
}

impl TryFrom<EventRow> for Event {
    type Error = StoreError;
    fn try_from(row: EventRow) -> Result<Self, StoreError> {
        Ok(Event {
            seq: row.seq,
            id: parse(EventId::parse(&row.id))?,
            app: row.app,
            kind: parse(EventKind::parse(&row.kind))?,
            data: parse(serde_json::from_str(&row.data))?,
            actor: row.actor,
            created_at: row.created_at.and_utc(),
        })
    }
}

impl Event {
    /// The data, typed by the event's kind.
    pub fn payload(&self) -> Result<EventPayload, serde_json::Error> {
        EventPayload::parse(self.kind, self.data.clone())
    }
}
