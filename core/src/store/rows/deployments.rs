//! The `deployments` table: a deployment as the API shows it, its row, and
//! the lookups that deployments, deletion, supervision and routing share
//! (by id, the app's open one, which statuses are open).

use crate::domain::{AppName, Deployment, DeploymentId, DeploymentStatus, ReleaseId};
use crate::store::connection::{DbConnection, MultiBackend};
use crate::store::error::StoreError;
use crate::store::schema::deployments;
use chrono::NaiveDateTime;
use diesel::dsl::{AsSelect, SqlTypeOf};
use diesel::prelude::*;
use diesel::sql_types::Text;

/// A query of whole deployment rows.
pub(crate) type Rows<'a> =
    deployments::BoxedQuery<'a, MultiBackend, SqlTypeOf<AsSelect<DeploymentRow, MultiBackend>>>;

#[derive(Queryable, Selectable, Insertable, Debug)]
#[diesel(table_name = deployments)]
pub(crate) struct DeploymentRow {
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

pub(crate) fn find(
    conn: &mut DbConnection,
    id: &DeploymentId,
) -> Result<Option<DeploymentRow>, StoreError> {
    Ok(deployments::table
        .find(id.as_str())
        .select(DeploymentRow::as_select())
        .first(conn)
        .optional()?)
}

/// A page of the app's deployments, newest first: `limit` of those
/// started before the deployment of sequence `before` (all when `None`).
pub(crate) fn page<'a>(app: &'a str, before: Option<i64>, limit: u32) -> Rows<'a> {
    let mut query = deployments::table
        .filter(deployments::app.eq(app))
        .order(deployments::seq.desc())
        .limit(limit.into())
        .select(DeploymentRow::as_select())
        .into_boxed();
    if let Some(seq) = before {
        query = query.filter(deployments::seq.lt(seq));
    }
    query
}

/// The app's deployment that is not final, if any (at most one).
pub(crate) fn open_for(
    conn: &mut DbConnection,
    app: &AppName,
) -> Result<Option<DeploymentRow>, StoreError> {
    Ok(open_query(app.as_str()).first(conn).optional()?)
}

pub(crate) fn open_query(app: &str) -> Rows<'_> {
    deployments::table
        .filter(deployments::app.eq(app))
        .filter(deployments::status.eq_any(open_statuses()))
        .select(DeploymentRow::as_select())
        .into_boxed()
}

/// `(release, status)` of every deployment of the given releases of the
/// app, oldest first: the last one per release is its latest.
pub(crate) fn outcomes<'a>(
    app: &'a str,
    releases: &'a [String],
) -> deployments::BoxedQuery<'a, MultiBackend, (Text, Text)> {
    deployments::table
        .filter(deployments::app.eq(app))
        .filter(deployments::release.eq_any(releases))
        .order(deployments::seq)
        .select((deployments::release, deployments::status))
        .into_boxed()
}

/// The stored form of the statuses of deployments under way.
pub(crate) fn open_statuses() -> [&'static str; 3] {
    DeploymentStatus::OPEN.map(DeploymentStatus::as_str)
}

pub(crate) fn not_found(id: &DeploymentId, app: &AppName) -> StoreError {
    StoreError::NotFound(format!("deployment `{id}` not found in app `{app}`"))
}
