//! The `log_lines` table: one line an instance wrote, and its row.

use crate::domain::ServiceName;
use crate::store::error::StoreError;
use crate::store::schema::log_lines;
use chrono::{DateTime, NaiveDateTime, Utc};
use diesel::prelude::*;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// One line an instance wrote (stdout or stderr).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct LogLine {
    /// Orders lines; a follower resumes after it.
    pub seq: i64,
    pub at: DateTime<Utc>,
    pub service: ServiceName,
    pub instance: String,
    /// One line as the instance wrote it, without its newline.
    pub line: String,
}

#[derive(Queryable, Selectable)]
#[diesel(table_name = log_lines)]
pub(crate) struct LogRow {
    seq: i64,
    service: String,
    instance: String,
    at: NaiveDateTime,
    line: String,
}

impl TryFrom<LogRow> for LogLine {
    type Error = StoreError;
    fn try_from(row: LogRow) -> Result<Self, StoreError> {
        Ok(LogLine {
            seq: row.seq,
            at: row.at.and_utc(),
            service: ServiceName::parse(&row.service).map_err(StoreError::corrupt)?,
            instance: row.instance,
            line: row.line,
        })
    }
}
