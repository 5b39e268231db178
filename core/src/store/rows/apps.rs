//! The `apps` table: the app as shown, its row, and the lookups every
//! aggregate of an app starts from (a deleted app's tombstone row is not
//! found by any of them), including the per-app write lock.

use super::parse;
use crate::domain::{App, AppName, Deadline, ReleaseId};
use crate::store::connection::DbConnection;
use crate::store::error::StoreError;
use crate::store::schema::apps;
use chrono::NaiveDateTime;
use diesel::prelude::*;
use std::collections::HashSet;

#[derive(Queryable, Selectable, Insertable, Debug)]
#[diesel(table_name = apps)]
pub(crate) struct AppRow {
    pub name: String,
    pub active_release: Option<String>,
    pub deadline_seconds: i32,
    pub seq: i64,
    pub created_at: NaiveDateTime,
    /// Set by `delete_app`: the app is gone for readers, its rows wait for
    /// a worker to stop its instances (see `teardown.rs`).
    pub deleted_at: Option<NaiveDateTime>,
}

impl TryFrom<AppRow> for App {
    type Error = StoreError;
    fn try_from(row: AppRow) -> Result<Self, StoreError> {
        Ok(App {
            name: parse(AppName::parse(&row.name))?,
            active_release: row
                .active_release
                .map(|r| parse(ReleaseId::parse(&r)))
                .transpose()?,
            deadline_seconds: parse(Deadline::parse(row.deadline_seconds.into(), "deadline"))?,
            created_at: row.created_at.and_utc(),
        })
    }
}

/// The app's row unless it is deleted (a tombstone is not found).
pub(crate) fn find(conn: &mut DbConnection, name: &AppName) -> Result<Option<AppRow>, StoreError> {
    Ok(find_any(conn, name)?.filter(|row| row.deleted_at.is_none()))
}

/// Which of `names` are apps not deleted.
pub(crate) fn live_of(
    conn: &mut DbConnection,
    names: &[&str],
) -> Result<HashSet<String>, StoreError> {
    Ok(apps::table
        .filter(apps::name.eq_any(names))
        .filter(apps::deleted_at.is_null())
        .select(apps::name)
        .load::<String>(conn)?
        .into_iter()
        .collect())
}

/// The app's row, tombstone or not.
pub(crate) fn find_any(
    conn: &mut DbConnection,
    name: &AppName,
) -> Result<Option<AppRow>, StoreError> {
    Ok(apps::table
        .find(name.as_str())
        .select(AppRow::as_select())
        .first(conn)
        .optional()?)
}

/// The app's row as a target of `UPDATE`, unless it is deleted.
pub(crate) fn live(
    name: &AppName,
) -> diesel::dsl::Filter<diesel::dsl::Find<apps::table, &str>, diesel::dsl::IsNull<apps::deleted_at>>
{
    apps::table
        .find(name.as_str())
        .filter(apps::deleted_at.is_null())
}

/// Takes the app's write lock (its row) and returns the row with `seq`
/// bumped: the sequence number for what this transaction creates. One
/// statement: the update returns the row.
pub(crate) fn lock(conn: &mut DbConnection, name: &AppName) -> Result<AppRow, StoreError> {
    diesel::update(live(name))
        .set(apps::seq.eq(apps::seq + 1))
        .returning((
            apps::name,
            apps::active_release,
            apps::deadline_seconds,
            apps::seq,
            apps::created_at,
            apps::deleted_at,
        ))
        .get_result::<AppRow>(conn)
        .optional()?
        .ok_or_else(|| not_found(name))
}

pub(crate) fn not_found(name: &AppName) -> StoreError {
    StoreError::NotFound(format!("app `{name}` not found"))
}

/// `NotFound` unless the app exists.
pub(crate) fn exists(conn: &mut DbConnection, name: &AppName) -> Result<(), StoreError> {
    find(conn, name)?.map(drop).ok_or_else(|| not_found(name))
}

/// The app's active release; `NotFound` unless the app exists.
pub(crate) fn active_release(
    conn: &mut DbConnection,
    name: &AppName,
) -> Result<Option<ReleaseId>, StoreError> {
    let row = find(conn, name)?.ok_or_else(|| not_found(name))?;
    row.active_release
        .map(|r| ReleaseId::parse(&r).map_err(StoreError::corrupt))
        .transpose()
}

/// The name of a locked app's row.
pub(crate) fn parse_app(row: &AppRow) -> Result<AppName, StoreError> {
    AppName::parse(&row.name).map_err(StoreError::corrupt)
}
