//! Instance output: the newest lines of each app, as the supervising worker
//! ships them from the instances' log files, read back by the API.

use super::rows::apps;
use super::rows::logs::{LogLine, LogRow};
use super::rows::now;
use super::schema::{log_lines, log_offsets};
use super::{Store, StoreError};
use crate::domain::{AppName, ServiceName};
use chrono::{DateTime, Utc};
use diesel::prelude::*;

/// How many lines of one app are kept; older ones go as new ones come.
pub const LOG_LINES_KEPT: i64 = 10_000;
/// The longest line kept, in bytes; a longer one is cut (at a character).
pub const LOG_LINE_BYTES: usize = 8 * 1024;

/// How far one instance's output has been shipped; `None` once it is gone
/// and its last lines are shipped (the offset is forgotten).
#[derive(Clone, Debug)]
pub struct LogOffset {
    pub instance: String,
    pub next: Option<u64>,
}

/// A line to ship: written by `instance` of `service`.
#[derive(Clone, Debug)]
pub struct NewLogLine {
    pub service: ServiceName,
    pub instance: String,
    pub line: String,
}

/// Which lines to read.
#[derive(Clone, Debug, Default)]
pub struct LogQuery {
    pub service: Option<ServiceName>,
    /// Only lines shipped at or after this.
    pub since: Option<DateTime<Utc>>,
    /// Only lines after this `seq` (following).
    pub after: i64,
    /// The newest `limit` lines that match (oldest first).
    pub limit: i64,
}

impl Store {
    /// Appends `lines` of `app` (in order) and, in the same transaction,
    /// records how far each instance's output is shipped, then drops what is
    /// beyond the newest [`LOG_LINES_KEPT`]. Nothing for an app that is gone.
    pub fn append_logs(
        &self,
        app: &AppName,
        lines: &[NewLogLine],
        offsets: &[LogOffset],
    ) -> Result<(), StoreError> {
        if lines.is_empty() && offsets.is_empty() {
            return Ok(());
        }
        let at = now();
        self.write(|conn| {
            if apps::exists(conn, app).is_err() {
                return Ok(());
            }
            for offset in offsets {
                diesel::delete(log_offsets::table.find(&offset.instance)).execute(conn)?;
                if let Some(next) = offset.next {
                    diesel::insert_into(log_offsets::table)
                        .values((
                            log_offsets::instance.eq(&offset.instance),
                            log_offsets::app.eq(app.as_str()),
                            log_offsets::next.eq(i64::try_from(next).unwrap_or(i64::MAX)),
                        ))
                        .execute(conn)?;
                }
            }
            for new in lines {
                diesel::insert_into(log_lines::table)
                    .values((
                        log_lines::app.eq(app.as_str()),
                        log_lines::service.eq(new.service.as_str()),
                        log_lines::instance.eq(&new.instance),
                        log_lines::at.eq(at),
                        log_lines::line.eq(clip(&new.line)),
                    ))
                    .execute(conn)?;
            }
            let oldest_kept: Option<i64> = log_lines::table
                .filter(log_lines::app.eq(app.as_str()))
                .order(log_lines::seq.desc())
                .offset(LOG_LINES_KEPT - 1)
                .select(log_lines::seq)
                .first(conn)
                .optional()?;
            if let Some(oldest) = oldest_kept {
                diesel::delete(
                    log_lines::table
                        .filter(log_lines::app.eq(app.as_str()))
                        .filter(log_lines::seq.lt(oldest)),
                )
                .execute(conn)?;
            }
            Ok(())
        })
    }

    /// How far each of the app's instances' output has been shipped.
    pub fn list_log_offsets(&self, app: &AppName) -> Result<Vec<(String, u64)>, StoreError> {
        self.read(|conn| {
            let rows: Vec<(String, i64)> = log_offsets::table
                .filter(log_offsets::app.eq(app.as_str()))
                .select((log_offsets::instance, log_offsets::next))
                .load(conn)?;
            Ok(rows
                .into_iter()
                .map(|(instance, next)| (instance, u64::try_from(next).unwrap_or(0)))
                .collect())
        })
    }

    /// The app's lines that match `query`, oldest first; `NotFound` without the app.
    pub fn list_logs(&self, app: &AppName, query: &LogQuery) -> Result<Vec<LogLine>, StoreError> {
        self.read(|conn| {
            apps::exists(conn, app)?;
            let mut select = log_lines::table
                .filter(log_lines::app.eq(app.as_str()))
                .filter(log_lines::seq.gt(query.after))
                .into_boxed();
            if let Some(service) = &query.service {
                select = select.filter(log_lines::service.eq(service.as_str()));
            }
            if let Some(since) = query.since {
                select = select.filter(log_lines::at.ge(since.naive_utc()));
            }
            let mut rows: Vec<LogRow> = select
                .order(log_lines::seq.desc())
                .limit(query.limit)
                .select(LogRow::as_select())
                .load(conn)?;
            rows.reverse();
            rows.into_iter().map(LogLine::try_from).collect()
        })
    }
}

/// At most [`LOG_LINE_BYTES`] of `line`, cut at a character boundary.
fn clip(line: &str) -> &str {
    if line.len() <= LOG_LINE_BYTES {
        return line;
    }
    let mut end = LOG_LINE_BYTES;
    while !line.is_char_boundary(end) {
        end -= 1;
    }
    &line[..end]
}
