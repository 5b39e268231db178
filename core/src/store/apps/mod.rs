//! Apps: create, list, get, update. Deleting lives in `deletion.rs`: a
//! deleted app keeps a tombstone row until its instances are stopped, and
//! every lookup treats a tombstone as not found (`rows::apps`).

mod deletion;

pub use deletion::{Tombstone, APP_DELETED};

use super::event_log::record;
use super::rows::apps::{find, find_any, live, not_found, AppRow};
use super::rows::now;
use super::schema::apps;
use super::{Store, StoreError};
use crate::domain::{App, AppName, Deadline};
use crate::events::{AppChanged, EventPayload};
use diesel::prelude::*;
use diesel::result::{DatabaseErrorKind, Error as DieselError};

impl Store {
    pub fn create_app(
        &self,
        name: &AppName,
        deadline: Option<Deadline>,
        actor: &str,
    ) -> Result<App, StoreError> {
        let deadline = deadline.unwrap_or(Deadline::DEFAULT);
        let result = self.write(|conn| {
            match find_any(conn, name)? {
                Some(row) if row.deleted_at.is_some() => return Err(being_deleted(name)),
                Some(_) => return Err(already_exists(name)),
                None => {}
            }
            let row = AppRow {
                name: name.to_string(),
                active_release: None,
                deadline_seconds: deadline_column(deadline),
                seq: 0,
                created_at: now(),
                deleted_at: None,
            };
            diesel::insert_into(apps::table)
                .values(&row)
                .execute(conn)?;
            let app = App::try_from(row)?;
            let created = AppChanged { app: app.clone() };
            record(conn, name, EventPayload::AppCreated(created), actor)?;
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
                .filter(apps::deleted_at.is_null())
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
            let updated = diesel::update(live(name))
                .set(apps::deadline_seconds.eq(deadline_column(deadline)))
                .execute(conn)?;
            if updated == 0 {
                return Err(not_found(name));
            }
            let app: App = find(conn, name)?
                .ok_or_else(|| not_found(name))?
                .try_into()?;
            let updated = AppChanged { app: app.clone() };
            record(conn, name, EventPayload::AppUpdated(updated), actor)?;
            Ok(app)
        })
    }
}

fn already_exists(name: &AppName) -> StoreError {
    StoreError::Conflict(format!("app `{name}` already exists"))
}

/// The name stays taken until a worker has stopped the deleted app's
/// instances and removed its rows: a new app must not adopt them.
fn being_deleted(name: &AppName) -> StoreError {
    StoreError::Conflict(format!(
        "app `{name}` is being deleted (its instances are being stopped); \
         try again in a minute"
    ))
}

fn deadline_column(deadline: Deadline) -> i32 {
    // Deadline::MAX fits comfortably in an i32.
    i32::try_from(deadline.seconds()).unwrap_or(i32::MAX)
}
