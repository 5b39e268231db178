//! Reading builds, releases and env back: listings newest first, one item,
//! and each release's status (`active`, `promoting`, `failed`).

use crate::domain::{
    AppName, Build, BuildId, DeploymentStatus, Env, Release, ReleaseId, ReleaseStatus,
};
use crate::store::rows::apps;
use crate::store::rows::builds::{self, find_build, parse_build};
use crate::store::rows::deployments::outcomes;
use crate::store::rows::releases::{self, find_release, latest, parse_release};
use crate::store::{DbConnection, Store, StoreError};
use diesel::prelude::*;
use std::collections::HashMap;

impl Store {
    /// The env of the latest release and that release's id.
    pub fn get_env(&self, app: &AppName) -> Result<(Env, Option<ReleaseId>), StoreError> {
        let keys = self.keyring()?;
        self.read(|conn| {
            apps::exists(conn, app)?;
            match latest(conn, app)? {
                Some(row) => Ok((row.env(keys)?, Some(parse_release(&row.id)?))),
                None => Ok((Env::empty(), None)),
            }
        })
    }

    /// Newest first; `before` (a release of this app) pages back in time.
    pub fn list_releases(
        &self,
        app: &AppName,
        limit: u32,
        before: Option<&ReleaseId>,
    ) -> Result<Vec<Release>, StoreError> {
        self.read(|conn| {
            apps::exists(conn, app)?;
            let before = match before {
                Some(id) => Some(find_release(conn, app, id)?.seq),
                None => None,
            };
            let rows = releases::page(app.as_str(), before, limit).load(conn)?;
            let statuses = release_statuses(conn, app, rows.iter().map(|r| r.id.as_str()))?;
            rows.into_iter()
                .map(|row| {
                    let status = statuses
                        .get(&row.id)
                        .copied()
                        .unwrap_or(ReleaseStatus::Inactive);
                    row.into_release(status, None)
                })
                .collect()
        })
    }

    /// One release with its env.
    pub fn get_release(&self, app: &AppName, id: &ReleaseId) -> Result<Release, StoreError> {
        let keys = self.keyring()?;
        self.read(|conn| {
            apps::exists(conn, app)?;
            let row = find_release(conn, app, id)?;
            let statuses = release_statuses(conn, app, [row.id.as_str()])?;
            let status = statuses
                .get(&row.id)
                .copied()
                .unwrap_or(ReleaseStatus::Inactive);
            row.into_release(status, Some(keys))
        })
    }

    /// What runs of release `id`: its env, opened, and its build (`None` for
    /// a release without one). One read, nothing else: no status, and no
    /// look at the app, which callers hold (a drive's lease, supervision)
    /// and its deletion takes from them.
    pub fn release_to_run(
        &self,
        app: &AppName,
        id: &ReleaseId,
    ) -> Result<(Env, Option<Build>), StoreError> {
        let keys = self.keyring()?;
        self.read(|conn| {
            let (row, build) = releases::with_build(conn, app, id)?;
            let env = row.env(keys)?;
            let build = match (&row.build, build) {
                (Some(_), Some(build)) => Some(build.try_into()?),
                (Some(missing), None) => {
                    let missing = parse_build(missing)?;
                    return Err(StoreError::NotFound(format!(
                        "build `{missing}` not found in app `{app}`"
                    )));
                }
                (None, _) => None,
            };
            Ok((env, build))
        })
    }

    /// Newest first; `before` (a build of this app) pages back in time.
    pub fn list_builds(
        &self,
        app: &AppName,
        limit: u32,
        before: Option<&BuildId>,
    ) -> Result<Vec<Build>, StoreError> {
        self.read(|conn| {
            apps::exists(conn, app)?;
            let before = match before {
                Some(id) => Some(find_build(conn, app, id)?.seq),
                None => None,
            };
            let rows = builds::page(app.as_str(), before, limit).load(conn)?;
            rows.into_iter().map(Build::try_from).collect()
        })
    }

    pub fn get_build(&self, app: &AppName, id: &BuildId) -> Result<Build, StoreError> {
        self.read(|conn| {
            apps::exists(conn, app)?;
            find_build(conn, app, id)?.try_into()
        })
    }
}

/// The status of each given release: `active` for the app's active release,
/// `promoting` while its latest deployment is open, `failed` when its latest
/// deployment ended without making it active.
fn release_statuses<'a>(
    conn: &mut DbConnection,
    app: &AppName,
    ids: impl IntoIterator<Item = &'a str>,
) -> Result<HashMap<String, ReleaseStatus>, StoreError> {
    let ids: Vec<String> = ids.into_iter().map(str::to_owned).collect();
    let active = apps::active_release(conn, app)?;
    let latest_outcomes: Vec<(String, String)> = outcomes(app.as_str(), &ids).load(conn)?;
    // Ordered by sequence: the last one seen per release is its latest.
    let mut statuses: HashMap<String, ReleaseStatus> = HashMap::new();
    for (release, status) in latest_outcomes {
        let status = DeploymentStatus::parse(&status).map_err(StoreError::corrupt)?;
        let release_status = if !status.is_final() {
            ReleaseStatus::Promoting
        } else if status == DeploymentStatus::Succeeded {
            ReleaseStatus::Inactive
        } else {
            ReleaseStatus::Failed
        };
        statuses.insert(release, release_status);
    }
    if let Some(active) = active {
        let entry = statuses
            .entry(active.to_string())
            .or_insert(ReleaseStatus::Active);
        if *entry != ReleaseStatus::Promoting {
            *entry = ReleaseStatus::Active;
        }
    }
    Ok(statuses)
}
