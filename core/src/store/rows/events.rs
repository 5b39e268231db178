//! The `events` table: an event as `GET .../events` and the live stream
//! show it, and its row. Events are written by `event_log` only.

use super::parse;
use crate::domain::EventId;
use crate::store::error::StoreError;
use crate::store::schema::events;
use chrono::{DateTime, NaiveDateTime, Utc};
use diesel::prelude::*;
use serde::Serialize;

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Event {
    /// Orders events; streams resume after it.
    #[serde(skip)]
    pub seq: i64,
    pub id: EventId,
    pub app: String,
    #[serde(rename = "type")]
    pub kind: String,
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
            kind: row.kind,
            data: parse(serde_json::from_str(&row.data))?,
            actor: row.actor,
            created_at: row.created_at.and_utc(),
        })
    }
}
