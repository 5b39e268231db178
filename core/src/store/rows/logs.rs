//! The `log_lines` table: one line an instance wrote, and its row.

use crate::domain::ServiceName;
use crate::store::error::StoreError;
use crate::store::schema::{log_lines, log_offsets};
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

/// A line to write, of one app.
#[derive(Insertable)]
#[diesel(table_name = log_lines)]
pub(crate) struct NewLogRow<'a> {
    pub(crate) app: &'a str,
    pub(crate) service: &'a str,
    pub(crate) instance: &'a str,
    pub(crate) at: NaiveDateTime,
    pub(crate) line: &'a str,
}

/// How far one instance's output is shipped.
#[derive(Insertable)]
#[diesel(table_name = log_offsets)]
pub(crate) struct OffsetRow<'a> {
    pub(crate) instance: &'a str,
    pub(crate) app: &'a str,
    pub(crate) next: i64,
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
