//! Apps: create, list, get, update, delete, and the per-app lock.

use super::events::record;
use super::records::{now, App, AppRow};
use super::schema::apps;
use super::{DbConnection, Store, StoreError};
use crate::domain::{AppName, Deadline, ReleaseId};
use crate::events::EventKind;
use diesel::prelude::*;
use diesel::result::{DatabaseErrorKind, Error as DieselError};
use serde_json::json;

impl Store {
    pub fn create_app(
        &self,
        name: &AppName,
        deadline: Option<Deadline>,
        actor: &str,
    ) -> Result<App, StoreError> {
        let deadline = deadline.unwrap_or(Deadline::DEFAULT);
        let result = self.write(|conn| {
            if find(conn, name)?.is_some() {
                return Err(already_exists(name));
            }
            let row = AppRow {
                name: name.to_string(),
                active_release: None,
                deadline_seconds: deadline_column(deadline),
                seq: 0,
                created_at: now(),
            };
            diesel::insert_into(apps::table)
                .values(&row)
                .execute(conn)?;
            let app = App::try_from(row)?;
            record(
                conn,
                name,
                EventKind::AppCreated,
                json!({ "app": app }),
                actor,
            )?;
            Ok(app)
        });
        match result {
            // Another writer created it between our check and insert.
            Err(StoreError::Database(DieselError::DatabaseError(
                DatabaseErrorKind::UniqueViolation,
                _,
            ))) => Err(already_exists(name)),
            other => other,
        }
    }

    pub fn list_apps(&self) -> Result<Vec<App>, StoreError> {
        self.read(|conn| {
            apps::table
                .order(apps::name)
                .select(AppRow::as_select())
                .load(conn)?
                .into_iter()
                .map(App::try_from)
                .collect()
        })
    }

    pub fn get_app(&self, name: &AppName) -> Result<App, StoreError> {
        self.read(|conn| find(conn, name)?.ok_or_else(|| not_found(name))?.try_into())
    }

    /// Changes the app's settings (for now its rollout deadline).
    pub fn update_app(
        &self,
        name: &AppName,
        deadline: Deadline,
        actor: &str,
    ) -> Result<App, StoreError> {
        self.write(|conn| {
            let updated = diesel::update(apps::table.find(name.as_str()))
                .set(apps::deadline_seconds.eq(deadline_column(deadline)))
                .execute(conn)?;
            if updated == 0 {
                return Err(not_found(name));
            }
            let app: App = find(conn, name)?
                .ok_or_else(|| not_found(name))?
                .try_into()?;
            record(
                conn,
                name,
                EventKind::AppUpdated,
                json!({ "app": app }),
                actor,
            )?;
            Ok(app)
        })
    }

    /// Deletes the app with its builds, releases and deployments; its events stay.
    pub fn delete_app(&self, name: &AppName, actor: &str) -> Result<(), StoreError> {
        self.write(|conn| {
            let deleted = diesel::delete(apps::table.find(name.as_str())).execute(conn)?;
            if deleted == 0 {
                return Err(not_found(name));
            }
            record(
                conn,
                name,
                EventKind::AppDeleted,
                json!({ "app": name }),
                actor,
            )?;
            Ok(())
        })
    }
}

fn find(conn: &mut DbConnection, name: &AppName) -> Result<Option<AppRow>, StoreError> {
    Ok(apps::table
        .find(name.as_str())
        .select(AppRow::as_select())
        .first(conn)
        .optional()?)
}

/// Takes the app's write lock (its row) and returns the row with `seq`
/// bumped: the sequence number for what this transaction creates.
pub(super) fn lock(conn: &mut DbConnection, name: &AppName) -> Result<AppRow, StoreError> {
    let updated = diesel::update(apps::table.find(name.as_str()))
        .set(apps::seq.eq(apps::seq + 1))
        .execute(conn)?;
    if updated == 0 {
        return Err(not_found(name));
    }
    find(conn, name)?.ok_or_else(|| not_found(name))
}

pub(super) fn not_found(name: &AppName) -> StoreError {
    StoreError::NotFound(format!("app `{name}` not found"))
}

fn already_exists(name: &AppName) -> StoreError {
    StoreError::Conflict(format!("app `{name}` already exists"))
}

fn deadline_column(deadline: Deadline) -> i32 {
    // Deadline::MAX fits comfortably in an i32.
    i32::try_from(deadline.seconds()).unwrap_or(i32::MAX)
}

/// `NotFound` unless the app exists.
pub(super) fn exists(conn: &mut DbConnection, name: &AppName) -> Result<(), StoreError> {
    find(conn, name)?.map(drop).ok_or_else(|| not_found(name))
}

/// The app's active release; `NotFound` unless the app exists.
pub(super) fn active_release(
    conn: &mut DbConnection,
    name: &AppName,
) -> Result<Option<ReleaseId>, StoreError> {
    let row = find(conn, name)?.ok_or_else(|| not_found(name))?;
    row.active_release
        .map(|r| ReleaseId::parse(&r).map_err(StoreError::corrupt))
        .transpose()
}
