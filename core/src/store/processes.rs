//! Processes and their supervision: which worker keeps each app's instances running between
//! deployments (a lease per app in `supervisors`), what it last saw running
//! (`processes`, for the API), and the crashes it reports (`app.crashed`).

use super::event_log::record;
use super::rows::apps as app_rows;
use super::rows::deployments::open_statuses;
use super::rows::processes::{Process, ProcessRow};
use super::rows::{now, ROWS_PER_INSERT};
use super::schema::{apps, deployments, processes, supervisors};
use super::{DbConnection, Store, StoreError};
use crate::domain::{AppName, ReleaseId};
use crate::events::{AppCrashed, EventPayload};
use chrono::TimeDelta;
use diesel::prelude::*;

/// The actor of what workers do on their own (restarts, crash reports).
pub const WORKER_ACTOR: &str = "slipway";

/// An app a worker supervises, as of this pass.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Supervised {
    pub app: AppName,
    pub active_release: Option<ReleaseId>,
    /// No deployment is under way: the supervisor may start and stop
    /// instances. While one is, it only reports what runs.
    pub idle: bool,
}

impl Store {
    /// Whether `owner` may start instances of `release` for `app` right now:
    /// it supervises the app, no deployment is under way, and `release` is
    /// still the active one. Asked just before acting, as a look taken at
    /// the start of a pass may be old by then (a process paused or starved).
    pub fn may_restore(
        &self,
        owner: &str,
        app: &AppName,
        release: &ReleaseId,
    ) -> Result<bool, StoreError> {
        let now = now();
        self.read(|conn| {
            let held = supervisors::table
                .find(app.as_str())
                .filter(supervisors::owner.eq(owner))
                .filter(supervisors::expires_at.gt(now))
                .count()
                .get_result::<i64>(conn)?;
            let active = apps::table
                .find(app.as_str())
                .filter(apps::deleted_at.is_null())
                .filter(apps::active_release.eq(release.as_str()))
                .count()
                .get_result::<i64>(conn)?;
            let busy = deployments::table
                .filter(deployments::app.eq(app.as_str()))
                .filter(deployments::status.eq_any(open_statuses()))
                .count()
                .get_result::<i64>(conn)?;
            Ok(held == 1 && active == 1 && busy == 0)
        })
    }

    /// The apps `owner` supervises, as they are now, without renewing.
    pub fn list_supervised(&self, owner: &str) -> Result<Vec<Supervised>, StoreError> {
        self.read(|conn| held_by(conn, owner))
    }

    /// Takes or renews the supervision of every app nobody else supervises
    /// (or whose supervisor's lease lapsed) for `owner`, for `ttl`; returns
    /// the apps `owner` supervises now. One transaction for all the apps: a
    /// renewal of `owner`'s leases and a take-over of lapsed ones in one
    /// `UPDATE`, a lease for each app without one in one `INSERT`.
    pub fn supervise(&self, owner: &str, ttl: TimeDelta) -> Result<Vec<Supervised>, StoreError> {
        let now = now();
        let until = now + ttl;
        // A deleted app is the teardown's, not the supervisor's.
        let live = || apps::table.filter(apps::deleted_at.is_null());
        self.write(|conn| {
            diesel::update(
                supervisors::table
                    .filter(supervisors::app.eq_any(live().select(apps::name)))
                    .filter(
                        supervisors::owner
                            .eq(owner)
                            .or(supervisors::expires_at.lt(now)),
                    ),
            )
            .set((
                supervisors::owner.eq(owner),
                supervisors::expires_at.eq(until),
            ))
            .execute(conn)?;
            // Another worker inserting the same app at once keeps its lease.
            // (`ON CONFLICT` is written per backend: diesel's multi-backend
            // connection has no upsert.)
            let lease_the_rest = || {
                let without_lease = live()
                    .filter(diesel::dsl::not(diesel::dsl::exists(
                        supervisors::table.filter(supervisors::app.eq(apps::name)),
                    )))
                    .select((
                        apps::name,
                        owner.into_sql::<diesel::sql_types::Text>(),
                        until.into_sql::<diesel::sql_types::Timestamp>(),
                    ));
                diesel::insert_into(supervisors::table)
                    .values(without_lease)
                    .into_columns((
                        supervisors::app,
                        supervisors::owner,
                        supervisors::expires_at,
                    ))
                    .on_conflict_do_nothing()
            };
            match conn {
                DbConnection::Postgresql(pg) => lease_the_rest().execute(pg)?,
                DbConnection::Sqlite(lite) => lease_the_rest().execute(lite)?,
            };
            held_by(conn, owner)
        })
    }

    /// Gives up every supervision `owner` holds (a worker stopping), so
    /// another worker takes the apps over at its next look.
    pub fn stop_supervising(&self, owner: &str) -> Result<(), StoreError> {
        self.write(|conn| {
            diesel::delete(supervisors::table.filter(supervisors::owner.eq(owner)))
                .execute(conn)?;
            Ok(())
        })
    }

    /// Replaces what is known to run of `app`.
    pub fn report_processes(&self, app: &AppName, seen: &[Process]) -> Result<(), StoreError> {
        self.report_processes_of(&[(app.clone(), seen.to_vec())])
    }

    /// Replaces what is known to run of each app of `reports`, in one
    /// transaction: a supervisor's pass reports every app that changed at
    /// once. An app deleted (or never created) keeps no rows.
    pub fn report_processes_of(
        &self,
        reports: &[(AppName, Vec<Process>)],
    ) -> Result<(), StoreError> {
        if reports.is_empty() {
            return Ok(());
        }
        let names: Vec<&str> = reports.iter().map(|(app, _)| app.as_str()).collect();
        self.write(|conn| {
            diesel::delete(processes::table.filter(processes::app.eq_any(&names))).execute(conn)?;
            let live = app_rows::live_of(conn, &names)?;
            let rows: Vec<ProcessRow> = reports
                .iter()
                .filter(|(app, _)| live.contains(app.as_str()))
                .flat_map(|(app, seen)| seen.iter().map(move |p| (app, p)))
                .map(|(app, p)| ProcessRow {
                    id: p.id.clone(),
                    app: app.to_string(),
                    service: p.service.to_string(),
                    release: p.release.to_string(),
                    status: p.status.as_str().to_owned(),
                    restarts: i32::try_from(p.restarts).unwrap_or(i32::MAX),
                    port: p.port.map(i32::from),
                    started_at: p.started_at.naive_utc(),
                })
                .collect();
            // Per backend: diesel's multi-backend connection has no batch insert.
            for rows in rows.chunks(ROWS_PER_INSERT) {
                let insert = diesel::insert_into(processes::table).values(rows);
                match conn {
                    DbConnection::Postgresql(pg) => insert.execute(pg)?,
                    DbConnection::Sqlite(lite) => insert.execute(lite)?,
                };
            }
            Ok(())
        })
    }

    /// What runs of `app`, by service and age; `NotFound` without the app.
    pub fn list_processes(&self, app: &AppName) -> Result<Vec<Process>, StoreError> {
        self.read(|conn| {
            app_rows::exists(conn, app)?;
            let rows: Vec<ProcessRow> = processes::table
                .filter(processes::app.eq(app.as_str()))
                .order((processes::service, processes::started_at, processes::id))
                .select(ProcessRow::as_select())
                .load(conn)?;
            rows.into_iter().map(Process::try_from).collect()
        })
    }

    /// Records that an instance of `crash.app` crashed (`app.crashed`,
    /// delivered to webhooks like any event): which, and what happens next.
    pub fn record_crash(&self, crash: &AppCrashed) -> Result<(), StoreError> {
        let app = &crash.app;
        self.write(|conn| {
            app_rows::exists(conn, app)?;
            let payload = EventPayload::AppCrashed(crash.clone());
            record(conn, app, payload, WORKER_ACTOR)?;
            Ok(())
        })
    }
}

/// The live apps `owner` holds the supervision of, by name.
fn held_by(conn: &mut DbConnection, owner: &str) -> Result<Vec<Supervised>, StoreError> {
    let held: Vec<(String, Option<String>)> = supervisors::table
        .inner_join(apps::table.on(apps::name.eq(supervisors::app)))
        .filter(supervisors::owner.eq(owner))
        .filter(apps::deleted_at.is_null())
        .select((apps::name, apps::active_release))
        .order(apps::name)
        .load(conn)?;
    let busy = busy_apps(conn)?;
    held.into_iter()
        .map(|(app, active)| supervised(app, active, &busy))
        .collect()
}

/// The apps with a deployment under way.
fn busy_apps(conn: &mut DbConnection) -> Result<Vec<String>, StoreError> {
    Ok(deployments::table
        .filter(deployments::status.eq_any(open_statuses()))
        .select(deployments::app)
        .load(conn)?)
}

fn supervised(
    app: String,
    active_release: Option<String>,
    busy: &[String],
) -> Result<Supervised, StoreError> {
    Ok(Supervised {
        idle: !busy.contains(&app),
        active_release: active_release
            .map(|r| ReleaseId::parse(&r).map_err(StoreError::corrupt))
            .transpose()?,
        app: AppName::parse(&app).map_err(StoreError::corrupt)?,
    })
}
