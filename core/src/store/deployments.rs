//! Deployments as the API shows them, their rows, and reading them back.

use super::apps;
use super::records::now;
use super::schema::deployments;
use super::{DbConnection, Store, StoreError};
use crate::domain::{AppName, DeploymentId, DeploymentStatus, ReleaseId};
use chrono::{DateTime, NaiveDateTime, Utc};
use diesel::prelude::*;
use serde::Serialize;

/// One attempt to promote a release.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Deployment {
    pub id: DeploymentId,
    pub app: AppName,
    pub release: ReleaseId,
    /// The release that was active when it started: what a rollback returns to.
    pub previous_release: Option<ReleaseId>,
    pub status: DeploymentStatus,
    pub reason: Option<String>,
    pub deadline_at: DateTime<Utc>,
    /// Strategy overrides of this promotion (percent), else the manifest's.
    pub minimum: Option<u8>,
    pub maximum: Option<u16>,
    pub actor: String,
    pub trace_id: Option<String>,
    #[serde(skip)]
    pub traceparent: Option<String>,
    pub cancel_requested: bool,
    /// How many times a drive has claimed it (the lease's fencing token).
    #[serde(skip)]
    pub lease_epoch: i64,
    pub created_at: DateTime<Utc>,
    pub started_at: Option<DateTime<Utc>>,
    pub finished_at: Option<DateTime<Utc>>,
    /// From start to finish, once finished.
    pub duration_ms: Option<i64>,
}

#[derive(Queryable, Selectable, Insertable, Debug)]
#[diesel(table_name = deployments)]
pub(super) struct DeploymentRow {
    pub id: String,
    pub app: String,
    pub seq: i64,
    pub release: String,
    pub previous_release: Option<String>,
    pub status: String,
    pub reason: Option<String>,
    pub deadline_at: NaiveDateTime,
    pub minimum: Option<i32>,
    pub maximum: Option<i32>,
    pub actor: String,
    pub trace_id: Option<String>,
    pub traceparent: Option<String>,
    pub lease_owner: Option<String>,
    pub lease_expires_at: Option<NaiveDateTime>,
    pub cancel_requested_at: Option<NaiveDateTime>,
    pub created_at: NaiveDateTime,
    pub started_at: Option<NaiveDateTime>,
    pub finished_at: Option<NaiveDateTime>,
    pub lease_epoch: i64,
    pub queued_at: Option<NaiveDateTime>,
}

impl DeploymentRow {
    pub fn status(&self) -> Result<DeploymentStatus, StoreError> {
        DeploymentStatus::parse(&self.status).map_err(StoreError::corrupt)
    }
}

impl TryFrom<DeploymentRow> for Deployment {
    type Error = StoreError;
    fn try_from(row: DeploymentRow) -> Result<Self, StoreError> {
        let corrupt = StoreError::corrupt;
        let duration_ms = match (row.started_at, row.finished_at) {
            (Some(start), Some(end)) => Some((end - start).num_milliseconds()),
            _ => None,
        };
        Ok(Deployment {
            status: row.status()?,
            id: DeploymentId::parse(&row.id).map_err(corrupt)?,
            app: AppName::parse(&row.app).map_err(corrupt)?,
            release: ReleaseId::parse(&row.release).map_err(corrupt)?,
            previous_release: row
                .previous_release
                .map(|r| ReleaseId::parse(&r).map_err(corrupt))
                .transpose()?,
            reason: row.reason,
            deadline_at: row.deadline_at.and_utc(),
            minimum: row.minimum.and_then(|v| u8::try_from(v).ok()),
            maximum: row.maximum.and_then(|v| u16::try_from(v).ok()),
            actor: row.actor,
            trace_id: row.trace_id,
            traceparent: row.traceparent,
            cancel_requested: row.cancel_requested_at.is_some(),
            lease_epoch: row.lease_epoch,
            created_at: row.created_at.and_utc(),
            started_at: row.started_at.map(|t| t.and_utc()),
            finished_at: row.finished_at.map(|t| t.and_utc()),
            duration_ms,
        })
    }
}

impl Store {
    pub fn get_deployment(
        &self,
        app: &AppName,
        id: &DeploymentId,
    ) -> Result<Deployment, StoreError> {
        self.read(|conn| {
            apps::exists(conn, app)?;
            let row = find(conn, id)?.filter(|row| row.app == app.as_str());
            row.ok_or_else(|| not_found(id, app))?.try_into()
        })
    }

    /// A deployment by id alone (for workers).
    pub fn deployment(&self, id: &DeploymentId) -> Result<Deployment, StoreError> {
        self.read(|conn| {
            let row = find(conn, id)?;
            row.ok_or_else(|| StoreError::NotFound(format!("deployment `{id}` not found")))?
                .try_into()
        })
    }

    /// The app's deployment history, newest first.
    pub fn list_deployments(
        &self,
        app: &AppName,
        limit: u32,
        before: Option<&DeploymentId>,
    ) -> Result<Vec<Deployment>, StoreError> {
        self.read(|conn| {
            apps::exists(conn, app)?;
            let mut query = deployments::table
                .filter(deployments::app.eq(app.as_str().to_owned()))
                .order(deployments::seq.desc())
                .limit(limit.into())
                .select(DeploymentRow::as_select())
                .into_boxed();
            if let Some(before) = before {
                let row = find(conn, before)?.filter(|row| row.app == app.as_str());
                let seq = row.ok_or_else(|| not_found(before, app))?.seq;
                query = query.filter(deployments::seq.lt(seq));
            }
            query
                .load(conn)?
                .into_iter()
                .map(Deployment::try_from)
                .collect()
        })
    }

    /// Deployments that need a worker and have no job coming, marked as
    /// queued now: the caller puts a job for each on the queue. That is an
    /// open deployment nobody holds a live lease on (a worker died, or gave
    /// it back), unless its job was queued less than `requeue_after` ago and
    /// not taken yet: a new deployment's first job is on the way, and one
    /// waiting its turn behind others is not queued twice. A job lost on the
    /// way (a flushed Redis) is replaced after `requeue_after`. Marking and
    /// selecting are one transaction, so two reconcilers never both queue
    /// the same deployment.
    pub fn take_due_deployments(
        &self,
        requeue_after: chrono::TimeDelta,
    ) -> Result<Vec<Deployment>, StoreError> {
        let now = now();
        let open = open_statuses();
        let requeue_before = now - requeue_after;
        self.write(|conn| {
            let queueable = deployments::queued_at
                .is_null()
                .or(deployments::queued_at.lt(requeue_before));
            let unleased = deployments::lease_expires_at
                .lt(now)
                .or(deployments::lease_expires_at.is_null());
            let candidates = deployments::table
                .filter(deployments::status.eq_any(open))
                .filter(unleased)
                .filter(queueable)
                .order(deployments::seq)
                .select(DeploymentRow::as_select())
                .load(conn)?;
            // Marked one by one, each on the same conditions: of two
            // reconcilers racing, the second finds the mark and skips it.
            let mut due = Vec::new();
            for row in candidates {
                let marked = diesel::update(
                    deployments::table
                        .find(&row.id)
                        .filter(queueable)
                        .filter(unleased),
                )
                .set(deployments::queued_at.eq(Some(now)))
                .execute(conn)?;
                if marked == 1 {
                    due.push(row);
                }
            }
            due.into_iter().map(Deployment::try_from).collect()
        })
    }
}

pub(super) fn find(
    conn: &mut DbConnection,
    id: &DeploymentId,
) -> Result<Option<DeploymentRow>, StoreError> {
    Ok(deployments::table
        .find(id.as_str())
        .select(DeploymentRow::as_select())
        .first(conn)
        .optional()?)
}

/// The app's deployment that is not final, if any (at most one).
pub(super) fn open_for(
    conn: &mut DbConnection,
    app: &AppName,
) -> Result<Option<DeploymentRow>, StoreError> {
    let open = open_statuses();
    Ok(deployments::table
        .filter(deployments::app.eq(app.as_str()))
        .filter(deployments::status.eq_any(open))
        .select(DeploymentRow::as_select())
        .first(conn)
        .optional()?)
}

/// The stored form of the statuses of deployments under way.
pub(super) fn open_statuses() -> [&'static str; 3] {
    DeploymentStatus::OPEN.map(DeploymentStatus::as_str)
}

pub(super) fn not_found(id: &DeploymentId, app: &AppName) -> StoreError {
    StoreError::NotFound(format!("deployment `{id}` not found in app `{app}`"))
}
