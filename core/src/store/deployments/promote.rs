//! Starting deployments: promote a release, deploy a build, change env and
//! promote, roll back. Each is one transaction, so a request that cannot
//! start its deployment (409) leaves no build or release behind either.

use crate::domain::{
    AppName, Build, Deadline, Deployment, DeploymentId, DeploymentStatus, Description, EnvChange,
    Release, ReleaseId, ReleaseStatus,
};
use crate::events::EventPayload;
use crate::store::event_log::{record_for, record_release};
use crate::store::rows::apps::{lock, parse_app, AppRow};
use crate::store::rows::deployments::{open_for, DeploymentRow};
use crate::store::rows::new_releases::{build_in, change_env_in, rollback_release_in, NewBuild};
use crate::store::rows::now;
use crate::store::rows::releases::find_release;
use crate::store::schema::deployments;
use crate::store::{DbConnection, Store, StoreError};
use crate::trace_context::parse_traceparent;
use chrono::TimeDelta;
use diesel::prelude::*;
use diesel::result::{DatabaseErrorKind, Error as DieselError};

/// How a promotion runs; what is left out comes from the app (deadline)
/// and the manifest (strategy).
#[derive(Clone, Debug, Default)]
pub struct PromoteOptions {
    pub deadline: Option<Deadline>,
    /// Percent of `scale.count` kept healthy during the rollout (0–100).
    pub minimum: Option<u8>,
    /// Percent of `scale.count` that may run during the rollout (100–200).
    pub maximum: Option<u16>,
    /// The W3C trace context the deployment continues; an invalid one is
    /// not stored (the deployment gets no trace id).
    pub traceparent: Option<String>,
}

impl Store {
    /// Promotes an existing release: a `pending` deployment.
    pub fn promote(
        &self,
        app: &AppName,
        release: &ReleaseId,
        options: &PromoteOptions,
        actor: &str,
    ) -> Result<(Release, Deployment), StoreError> {
        self.start(app, |conn, app_row| {
            let row = find_release(conn, app, release)?;
            let deployment = start_in(conn, app_row, release, options, actor)?;
            Ok((
                row.into_release(ReleaseStatus::Promoting, None)?,
                deployment,
            ))
        })
    }

    /// Creates a build and its release, and promotes it (`deploy`).
    pub fn deploy(
        &self,
        app: &AppName,
        build: &NewBuild,
        options: &PromoteOptions,
        actor: &str,
    ) -> Result<(Build, Release, Deployment), StoreError> {
        let keys = self.keyring()?;
        self.start(app, |conn, app_row| {
            let (build, mut release) = build_in(conn, keys, app_row, build, actor)?;
            record_release(conn, &release, Some(&build), None, actor)?;
            let deployment = start_in(conn, app_row, &release.id, options, actor)?;
            release.status = ReleaseStatus::Promoting;
            Ok((build, release, deployment))
        })
    }

    /// Applies an env change and promotes its release; `None` (and no
    /// deployment) when the change changes nothing.
    pub fn change_env_and_promote(
        &self,
        app: &AppName,
        change: &EnvChange,
        description: Option<&Description>,
        options: &PromoteOptions,
        actor: &str,
    ) -> Result<Option<(Release, Deployment)>, StoreError> {
        let keys = self.keyring()?;
        self.start(app, |conn, app_row| {
            let Some((mut release, diff)) =
                change_env_in(conn, keys, app_row, change, description, actor)?
            else {
                return Ok(None);
            };
            record_release(conn, &release, None, Some(&diff), actor)?;
            let deployment = start_in(conn, app_row, &release.id, options, actor)?;
            release.status = ReleaseStatus::Promoting;
            Ok(Some((release, deployment)))
        })
    }

    /// Convox's rollback: a new release with `to`'s build and env, described
    /// `rollback to R...`, promoted.
    pub fn rollback(
        &self,
        app: &AppName,
        to: &ReleaseId,
        options: &PromoteOptions,
        actor: &str,
    ) -> Result<(Release, Deployment), StoreError> {
        let keys = self.keyring()?;
        self.start(app, |conn, app_row| {
            let mut release = rollback_release_in(conn, keys, app_row, to, actor)?;
            record_release(conn, &release, None, None, actor)?;
            let deployment = start_in(conn, app_row, &release.id, options, actor)?;
            release.status = ReleaseStatus::Promoting;
            Ok((release, deployment))
        })
    }

    /// Runs `f` under the app's lock; a deployment that another writer
    /// opened first is a conflict.
    fn start<T>(
        &self,
        app: &AppName,
        mut f: impl FnMut(&mut DbConnection, &AppRow) -> Result<T, StoreError>,
    ) -> Result<T, StoreError> {
        let result = self.write(|conn| {
            let app_row = lock(conn, app)?;
            f(conn, &app_row)
        });
        match result {
            // The unique index caught a race the lock did not (it cannot on
            // PostgreSQL or SQLite; this is the backstop).
            Err(StoreError::Database(DieselError::DatabaseError(
                DatabaseErrorKind::UniqueViolation,
                _,
            ))) => Err(StoreError::Conflict(format!(
                "another deployment of app `{app}` is under way"
            ))),
            other => other,
        }
    }
}

fn start_in(
    conn: &mut DbConnection,
    app_row: &AppRow,
    release: &ReleaseId,
    options: &PromoteOptions,
    actor: &str,
) -> Result<Deployment, StoreError> {
    let app = parse_app(app_row)?;
    if let Some(open) = open_for(conn, &app)? {
        return Err(StoreError::Conflict(format!(
            "deployment {} of release {} is still {} for app `{app}`; wait for it or cancel it",
            open.id, open.release, open.status
        )));
    }
    let deadline = match options.deadline {
        Some(deadline) => deadline,
        None => Deadline::parse(app_row.deadline_seconds.into(), "deadline_seconds")?,
    };
    let traceparent = options
        .traceparent
        .as_deref()
        .and_then(|tp| Some((tp, trace_id_of(tp)?)));
    let now = now();
    let id = DeploymentId::generate();
    let row = DeploymentRow {
        id: id.to_string(),
        app: app.to_string(),
        seq: app_row.seq,
        release: release.to_string(),
        previous_release: app_row.active_release.clone(),
        status: DeploymentStatus::Pending.as_str().to_owned(),
        reason: None,
        deadline_at: now + TimeDelta::seconds(deadline.seconds().into()),
        minimum: options.minimum.map(i32::from),
        maximum: options.maximum.map(i32::from),
        actor: actor.to_owned(),
        trace_id: traceparent.as_ref().map(|(_, trace_id)| trace_id.clone()),
        traceparent: traceparent.map(|(traceparent, _)| traceparent.to_owned()),
        lease_owner: None,
        lease_expires_at: None,
        cancel_requested_at: None,
        created_at: now,
        started_at: None,
        finished_at: None,
        lease_epoch: 0,
        // The API enqueues its job once this commits.
        queued_at: Some(now),
    };
    diesel::insert_into(deployments::table)
        .values(&row)
        .execute(conn)?;
    // The row as written is the row as stored (`now` keeps the precision
    // both databases keep): no need to read it back.
    let deployment = Deployment::try_from(row)?;
    let payload = EventPayload::deployment(deployment.clone());
    record_for(conn, &app, Some(&id), payload, actor)?;
    Ok(deployment)
}

/// The trace id of a valid W3C `traceparent`; `None` for one the
/// trace-context spec says to ignore.
fn trace_id_of(traceparent: &str) -> Option<String> {
    parse_traceparent(traceparent).map(|context| context.trace_id().to_string())
}

#[cfg(test)]
mod tests {
    use super::PromoteOptions;
    use crate::domain::{AppName, Manifest};
    use crate::store::NewBuild;
    use crate::testing::TestDatabase;

    const TRACE: &str = "4bf92f3577b34da6a3ce929d0e0e4736";

    #[test]
    fn a_deployment_keeps_no_invalid_traceparent() {
        let db = TestDatabase::sqlite();
        let store = db.store();
        let manifest = serde_json::json!({ "services": { "web": { "command": "true" } } });
        let build = NewBuild {
            manifest: Manifest::from_json(&manifest).unwrap(),
            git: None,
            description: None,
        };
        let cases = [
            (format!("00-{TRACE}-00f067aa0ba902b7-01"), Some(TRACE)),
            (format!("00-{}-00f067aa0ba902b7-01", "0".repeat(32)), None),
            (format!("ff-{TRACE}-00f067aa0ba902b7-01"), None),
            (format!("00-{TRACE}-00f067aa0ba902b7"), None),
        ];
        for (n, (traceparent, kept)) in cases.into_iter().enumerate() {
            // An app each: one app has one open deployment at a time.
            let app = AppName::parse(&format!("app{n}")).unwrap();
            store.create_app(&app, None, "ci").unwrap();
            let options = PromoteOptions {
                traceparent: Some(traceparent.clone()),
                ..PromoteOptions::default()
            };
            let (_, _, deployment) = store.deploy(&app, &build, &options, "ci").unwrap();
            assert_eq!(deployment.trace_id.as_deref(), kept, "{traceparent}");
            let stored = kept.map(|_| traceparent.as_str());
            assert_eq!(deployment.traceparent.as_deref(), stored, "{traceparent}");
        }
    }
}
