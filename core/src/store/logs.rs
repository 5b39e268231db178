//! Instance output: the newest lines of each app, as the supervising worker
//! ships them from the instances' log files, read back by the API.

use super::rows::apps;
use super::rows::logs::{LogLine, LogRow, NewLogRow, OffsetRow};
use super::rows::{now, ROWS_PER_INSERT};
use super::schema::{log_counts, log_lines, log_offsets};
use super::{DbConnection, Store, StoreError};
use crate::domain::{AppName, ServiceName};
use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel::upsert::excluded;

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

/// One app's output to ship: its new lines, in order, and how far each
/// instance's output is shipped with them.
#[derive(Clone, Debug)]
pub struct AppLogs {
    pub app: AppName,
    pub lines: Vec<NewLogLine>,
    pub offsets: Vec<LogOffset>,
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
        self.append_logs_of(&[AppLogs {
            app: app.clone(),
            lines: lines.to_vec(),
            offsets: offsets.to_vec(),
        }])
    }

    /// [`Store::append_logs`] for many apps in one transaction, as a
    /// supervisor's pass ships them: the forgotten offsets in one statement,
    /// the others in one, the lines in one, the apps' counts of lines in one,
    /// then the oldest lines of each app beyond the cap dropped.
    pub fn append_logs_of(&self, shipped: &[AppLogs]) -> Result<(), StoreError> {
        let gone: Vec<&str> = shipped
            .iter()
            .flat_map(|s| &s.offsets)
            .filter(|o| o.next.is_none())
            .map(|o| o.instance.as_str())
            .collect();
        let writing: Vec<&str> = shipped
            .iter()
            .filter(|s| !s.lines.is_empty() || s.offsets.iter().any(|o| o.next.is_some()))
            .map(|s| s.app.as_str())
            .collect();
        if gone.is_empty() && writing.is_empty() {
            return Ok(());
        }
        let at = now();
        self.write(|conn| {
            if !gone.is_empty() {
                diesel::delete(log_offsets::table.filter(log_offsets::instance.eq_any(&gone)))
                    .execute(conn)?;
            }
            if writing.is_empty() {
                return Ok(());
            }
            let live = apps::live_of(conn, &writing)?;
            let of_live = || shipped.iter().filter(|s| live.contains(s.app.as_str()));
            let offsets: Vec<OffsetRow> = of_live()
                .flat_map(|s| s.offsets.iter().map(move |o| (s.app.as_str(), o)))
                .filter_map(|(app, o)| {
                    Some(OffsetRow {
                        instance: &o.instance,
                        app,
                        next: i64::try_from(o.next?).unwrap_or(i64::MAX),
                    })
                })
                .collect();
            let lines: Vec<NewLogRow> = of_live()
                .flat_map(|s| s.lines.iter().map(move |l| (s.app.as_str(), l)))
                .map(|(app, new)| NewLogRow {
                    app,
                    service: new.service.as_str(),
                    instance: &new.instance,
                    at,
                    line: clip(&new.line),
                })
                .collect();
            write_rows(conn, &offsets, &lines)?;
            let added: Vec<(&str, i64)> = of_live()
                .filter(|s| !s.lines.is_empty())
                .map(|s| (s.app.as_str(), s.lines.len() as i64))
                .collect();
            for (app, kept) in count(conn, &added)? {
                if kept > LOG_LINES_KEPT {
                    trim(conn, &app, kept - LOG_LINES_KEPT)?;
                }
            }
            Ok(())
        })
    }

    /// How far each of the app's instances' output has been shipped.
    pub fn list_log_offsets(&self, app: &AppName) -> Result<Vec<(String, u64)>, StoreError> {
        self.list_log_offsets_of(std::slice::from_ref(app))
    }

    /// [`Store::list_log_offsets`] of many apps in one query.
    pub fn list_log_offsets_of(&self, apps: &[AppName]) -> Result<Vec<(String, u64)>, StoreError> {
        let names: Vec<&str> = apps.iter().map(AppName::as_str).collect();
        self.read(|conn| {
            let rows: Vec<(String, i64)> = log_offsets::table
                .filter(log_offsets::app.eq_any(&names))
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

/// The offsets (replacing those of the same instances) and the lines, in
/// batches of [`ROWS_PER_INSERT`]. (Per backend: diesel's multi-backend
/// connection has neither batch inserts nor upserts, and SQLite has no
/// batch upsert.)
fn write_rows(
    conn: &mut DbConnection,
    offsets: &[OffsetRow<'_>],
    lines: &[NewLogRow<'_>],
) -> Result<(), StoreError> {
    macro_rules! upsert {
        ($rows:expr) => {
            diesel::insert_into(log_offsets::table)
                .values($rows)
                .on_conflict(log_offsets::instance)
                .do_update()
                .set(log_offsets::next.eq(excluded(log_offsets::next)))
        };
    }
    let insert = |rows| diesel::insert_into(log_lines::table).values(rows);
    match conn {
        DbConnection::Postgresql(pg) => {
            for rows in offsets.chunks(ROWS_PER_INSERT) {
                upsert!(rows).execute(pg)?;
            }
            for rows in lines.chunks(ROWS_PER_INSERT) {
                insert(rows).execute(pg)?;
            }
        }
        DbConnection::Sqlite(lite) => {
            for row in offsets {
                upsert!(row).execute(lite)?;
            }
            for rows in lines.chunks(ROWS_PER_INSERT) {
                insert(rows).execute(lite)?;
            }
        }
    }
    Ok(())
}

/// Adds the lines each app of `added` got to its count; how many lines
/// each keeps now.
fn count(conn: &mut DbConnection, added: &[(&str, i64)]) -> Result<Vec<(String, i64)>, StoreError> {
    macro_rules! add {
        ($rows:expr) => {
            diesel::insert_into(log_counts::table)
                .values($rows)
                .on_conflict(log_counts::app)
                .do_update()
                .set(log_counts::lines.eq(log_counts::lines + excluded(log_counts::lines)))
                .returning((log_counts::app, log_counts::lines))
        };
    }
    let rows: Vec<_> = added
        .iter()
        .map(|(app, lines)| (log_counts::app.eq(*app), log_counts::lines.eq(*lines)))
        .collect();
    let mut kept = Vec::with_capacity(rows.len());
    match conn {
        DbConnection::Postgresql(pg) => {
            for rows in rows.chunks(ROWS_PER_INSERT) {
                kept.extend(add!(rows).get_results::<(String, i64)>(pg)?);
            }
        }
        DbConnection::Sqlite(lite) => {
            for row in &rows {
                kept.push(add!(row).get_result::<(String, i64)>(lite)?);
            }
        }
    }
    Ok(kept)
}

/// Drops the `excess` oldest lines of `app`, and counts them out.
fn trim(conn: &mut DbConnection, app: &str, excess: i64) -> Result<(), StoreError> {
    let newest_dropped: Option<i64> = log_lines::table
        .filter(log_lines::app.eq(app))
        .order(log_lines::seq)
        .offset(excess - 1)
        .select(log_lines::seq)
        .first(conn)
        .optional()?;
    let Some(newest_dropped) = newest_dropped else {
        return Ok(());
    };
    let dropped = diesel::delete(
        log_lines::table
            .filter(log_lines::app.eq(app))
            .filter(log_lines::seq.le(newest_dropped)),
    )
    .execute(conn)?;
    diesel::update(log_counts::table.find(app))
        .set(log_counts::lines.eq(log_counts::lines - dropped as i64))
        .execute(conn)?;
    Ok(())
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
