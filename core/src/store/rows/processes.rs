//! The `processes` table: one instance of an app as the supervising worker
//! last saw it, and its row.

use crate::domain::{ProcessStatus, ReleaseId, ServiceName};
use crate::store::error::StoreError;
use crate::store::schema::processes;
use chrono::{DateTime, NaiveDateTime, Utc};
use diesel::prelude::*;
use serde::Serialize;

/// One instance of an app, as `GET /apps/{app}/processes` shows it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Process {
    pub id: String,
    pub service: ServiceName,
    pub release: ReleaseId,
    pub status: ProcessStatus,
    /// How often this service's instances were restarted since they last
    /// ran steadily.
    pub restarts: u32,
    /// The port it listens on (on the worker's machine), if any.
    pub port: Option<u16>,
    pub started_at: DateTime<Utc>,
}

#[derive(Queryable, Selectable, Insertable)]
#[diesel(table_name = processes)]
pub(crate) struct ProcessRow {
    pub(crate) id: String,
    pub(crate) app: String,
    pub(crate) service: String,
    pub(crate) release: String,
    pub(crate) status: String,
    pub(crate) restarts: i32,
    pub(crate) port: Option<i32>,
    pub(crate) started_at: NaiveDateTime,
}

impl TryFrom<ProcessRow> for Process {
    type Error = StoreError;
    fn try_from(row: ProcessRow) -> Result<Self, StoreError> {
        let corrupt = StoreError::corrupt;
        Ok(Process {
            status: ProcessStatus::parse(&row.status).ok_or_else(|| {
                StoreError::corrupt(format!("unknown process status {:?}", row.status))
            })?,
            id: row.id,
            service: ServiceName::parse(&row.service).map_err(corrupt)?,
            release: ReleaseId::parse(&row.release).map_err(corrupt)?,
            restarts: u32::try_from(row.restarts).unwrap_or(0),
            port: row.port.and_then(|p| u16::try_from(p).ok()),
            started_at: row.started_at.and_utc(),
        })
    }
}
