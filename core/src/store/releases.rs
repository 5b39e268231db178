//! Builds, releases and env changes. Rule 1: a new release takes its build
//! and env from the app's latest *created* release, with the change applied.

use super::apps::{self, lock};
use super::events::record;
use super::records::{now, AppRow, Build, BuildRow, Release, ReleaseRow};
use super::schema::{builds, releases};
use super::{DbConnection, Store, StoreError};
use crate::domain::{
    build_description, env_description, AppName, BuildId, Description, Env, EnvChange, EnvDiff,
    GitInfo, Manifest, ReleaseId,
};
use crate::events::EventKind;
use diesel::prelude::*;
use serde_json::json;

/// A build as CI posts it.
#[derive(Clone, Debug)]
pub struct NewBuild {
    pub manifest: Manifest,
    pub git: Option<GitInfo>,
    pub description: Option<Description>,
}

/// Convox's explicit release form: any part left out comes from the latest release.
#[derive(Clone, Debug, Default)]
pub struct NewRelease {
    pub build: Option<BuildId>,
    pub env: Option<Env>,
    pub description: Option<Description>,
}

impl Store {
    /// Creates the build and the release that pairs it with the latest env.
    pub fn create_build(
        &self,
        app: &AppName,
        new: &NewBuild,
        actor: &str,
    ) -> Result<(Build, Release), StoreError> {
        self.write(|conn| {
            let app_row = lock(conn, app)?;
            let env = latest(conn, app)?.map(|r| r.env()).transpose()?;
            let release_id = ReleaseId::generate();
            let row = BuildRow {
                id: BuildId::generate().to_string(),
                app: app.to_string(),
                seq: app_row.seq,
                release: release_id.to_string(),
                description: build_description(new.description.as_ref(), new.git.as_ref()),
                git_sha: new.git.as_ref().map(|g| g.sha().to_owned()),
                git_message: new.git.as_ref().map(|g| g.subject().to_owned()),
                manifest: new.manifest.to_json().to_string(),
                actor: actor.to_owned(),
                created_at: now(),
            };
            diesel::insert_into(builds::table)
                .values(&row)
                .execute(conn)?;
            let build = Build::try_from(row)?;
            record(
                conn,
                app,
                EventKind::BuildCreated,
                json!({ "build": build }),
                actor,
            )?;
            let release = insert_release(
                conn,
                &app_row,
                release_id,
                Some(&build.id),
                &env.unwrap_or_else(Env::empty),
                build.description.clone(),
                actor,
            )?;
            Ok((build, release))
        })
    }

    /// Applies an env change; `None` when it changes nothing (no release).
    pub fn change_env(
        &self,
        app: &AppName,
        change: &EnvChange,
        description: Option<&Description>,
        actor: &str,
    ) -> Result<Option<Release>, StoreError> {
        self.write(|conn| {
            let app_row = lock(conn, app)?;
            let base = latest(conn, app)?;
            let old = base
                .as_ref()
                .map(|r| r.env())
                .transpose()?
                .unwrap_or_else(Env::empty);
            let new = old.apply(change)?;
            let diff = EnvDiff::between(&old, &new);
            if diff.is_empty() {
                return Ok(None);
            }
            let build = base
                .and_then(|r| r.build)
                .map(|b| parse_build(&b))
                .transpose()?;
            let description = env_description(description, &diff);
            let release = insert_release(
                conn,
                &app_row,
                ReleaseId::generate(),
                build.as_ref(),
                &new,
                description,
                actor,
            )?;
            record(
                conn,
                app,
                EventKind::EnvChanged,
                json!({ "release": release.id, "changes": diff }),
                actor,
            )?;
            Ok(Some(release))
        })
    }

    /// Creates a release from an explicit build and/or env (Convox's
    /// `releases create`); what is left out comes from the latest release.
    pub fn create_release(
        &self,
        app: &AppName,
        new: &NewRelease,
        actor: &str,
    ) -> Result<Release, StoreError> {
        self.write(|conn| {
            let app_row = lock(conn, app)?;
            let base = latest(conn, app)?;
            let old = base
                .as_ref()
                .map(|r| r.env())
                .transpose()?
                .unwrap_or_else(Env::empty);
            let build = match &new.build {
                Some(id) => Some(parse_build(&find_build(conn, app, id)?.id)?),
                None => base
                    .and_then(|r| r.build)
                    .map(|b| parse_build(&b))
                    .transpose()?,
            };
            let env = new.env.clone().unwrap_or(old.clone());
            let description = match &new.description {
                Some(explicit) => explicit.as_str().to_owned(),
                None => env_description(None, &EnvDiff::between(&old, &env)),
            };
            let id = ReleaseId::generate();
            insert_release(conn, &app_row, id, build.as_ref(), &env, description, actor)
        })
    }

    /// The env of the latest release and that release's id.
    pub fn env(&self, app: &AppName) -> Result<(Env, Option<ReleaseId>), StoreError> {
        self.read(|conn| {
            apps::exists(conn, app)?;
            match latest(conn, app)? {
                Some(row) => Ok((row.env()?, Some(parse_release(&row.id)?))),
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
            let active = apps::active_release(conn, app)?;
            let mut query = releases::table
                .filter(releases::app.eq(app.as_str().to_owned()))
                .order(releases::seq.desc())
                .limit(limit.into())
                .select(ReleaseRow::as_select())
                .into_boxed();
            if let Some(before) = before {
                let seq = find_release(conn, app, before)?.seq;
                query = query.filter(releases::seq.lt(seq));
            }
            query
                .load(conn)?
                .into_iter()
                .map(|row| row.into_release(active.as_ref(), false))
                .collect()
        })
    }

    /// One release with its env.
    pub fn get_release(&self, app: &AppName, id: &ReleaseId) -> Result<Release, StoreError> {
        self.read(|conn| {
            let active = apps::active_release(conn, app)?;
            find_release(conn, app, id)?.into_release(active.as_ref(), true)
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
            let mut query = builds::table
                .filter(builds::app.eq(app.as_str().to_owned()))
                .order(builds::seq.desc())
                .limit(limit.into())
                .select(BuildRow::as_select())
                .into_boxed();
            if let Some(before) = before {
                let seq = find_build(conn, app, before)?.seq;
                query = query.filter(builds::seq.lt(seq));
            }
            query.load(conn)?.into_iter().map(Build::try_from).collect()
        })
    }

    pub fn get_build(&self, app: &AppName, id: &BuildId) -> Result<Build, StoreError> {
        self.read(|conn| {
            apps::exists(conn, app)?;
            find_build(conn, app, id)?.try_into()
        })
    }
}

fn insert_release(
    conn: &mut DbConnection,
    app: &AppRow,
    id: ReleaseId,
    build: Option<&BuildId>,
    env: &Env,
    description: String,
    actor: &str,
) -> Result<Release, StoreError> {
    let env_json = serde_json::to_string(env.as_map()).map_err(StoreError::corrupt)?;
    let row = ReleaseRow {
        id: id.to_string(),
        app: app.name.clone(),
        seq: app.seq,
        build: build.map(ToString::to_string),
        env: env_json,
        description,
        actor: actor.to_owned(),
        created_at: now(),
    };
    diesel::insert_into(releases::table)
        .values(&row)
        .execute(conn)?;
    let active = app
        .active_release
        .as_deref()
        .map(parse_release)
        .transpose()?;
    let release = row.into_release(active.as_ref(), false)?;
    let app_name = &release.app;
    record(
        conn,
        app_name,
        EventKind::ReleaseCreated,
        json!({ "release": release }),
        actor,
    )?;
    Ok(release)
}

/// The latest created release of the app (highest sequence).
fn latest(conn: &mut DbConnection, app: &AppName) -> Result<Option<ReleaseRow>, StoreError> {
    Ok(releases::table
        .filter(releases::app.eq(app.as_str()))
        .order(releases::seq.desc())
        .select(ReleaseRow::as_select())
        .first(conn)
        .optional()?)
}

fn find_release(
    conn: &mut DbConnection,
    app: &AppName,
    id: &ReleaseId,
) -> Result<ReleaseRow, StoreError> {
    releases::table
        .filter(releases::id.eq(id.as_str()))
        .filter(releases::app.eq(app.as_str()))
        .select(ReleaseRow::as_select())
        .first(conn)
        .optional()?
        .ok_or_else(|| StoreError::NotFound(format!("release `{id}` not found in app `{app}`")))
}

fn find_build(
    conn: &mut DbConnection,
    app: &AppName,
    id: &BuildId,
) -> Result<BuildRow, StoreError> {
    builds::table
        .filter(builds::id.eq(id.as_str()))
        .filter(builds::app.eq(app.as_str()))
        .select(BuildRow::as_select())
        .first(conn)
        .optional()?
        .ok_or_else(|| StoreError::NotFound(format!("build `{id}` not found in app `{app}`")))
}

fn parse_build(id: &str) -> Result<BuildId, StoreError> {
    BuildId::parse(id).map_err(StoreError::corrupt)
}

fn parse_release(id: &str) -> Result<ReleaseId, StoreError> {
    ReleaseId::parse(id).map_err(StoreError::corrupt)
}
