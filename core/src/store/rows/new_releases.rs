//! Making a release, the one way every new release is made. Rule 1: a new
//! release takes its build and env from the app's latest *created* release,
//! with the change applied. A build claims its manifest's domains.
//!
//! Each `*_in` function works inside a caller's transaction after the app
//! lock was taken, so a build, a release and a deployment can be made in
//! one; the caller records the events (`event_log::record_release`).

use super::apps::{parse_app, AppRow};
use super::builds::{find_build, parse_build, BuildRow};
use super::domains::claim_in;
use super::now;
use super::releases::{find_release, latest, latest_with_env, ReleaseRow};
use crate::domain::{
    build_description, env_description, rollback_description, Build, BuildId, Description, Env,
    EnvChange, EnvDiff, GitInfo, Manifest, Release, ReleaseId, ReleaseStatus,
};
use crate::seal::Keyring;
use crate::store::connection::DbConnection;
use crate::store::error::StoreError;
use crate::store::schema::{builds, releases};
use crate::store::sealed::seal_env;
use diesel::prelude::*;

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

/// A build and the release that pairs it with the latest env.
pub(crate) fn build_in(
    conn: &mut DbConnection,
    keys: &Keyring,
    app_row: &AppRow,
    new: &NewBuild,
    actor: &str,
) -> Result<(Build, Release), StoreError> {
    let app = parse_app(app_row)?;
    claim_in(conn, &app, &new.manifest)?;
    let (_, env) = latest_with_env(conn, keys, &app)?;
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
    let description = build.description.clone();
    let release = insert_release(
        conn,
        app_row,
        release_id,
        Some(&build.id),
        seal_env(keys, &env)?,
        description,
        actor,
    )?;
    Ok((build, release))
}

/// The release an env change makes, and the change; `None` when it
/// changes nothing.
pub(crate) fn change_env_in(
    conn: &mut DbConnection,
    keys: &Keyring,
    app_row: &AppRow,
    change: &EnvChange,
    description: Option<&Description>,
    actor: &str,
) -> Result<Option<(Release, EnvDiff)>, StoreError> {
    let app = parse_app(app_row)?;
    let (base, old) = latest_with_env(conn, keys, &app)?;
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
    let id = ReleaseId::generate();
    let env = seal_env(keys, &new)?;
    let release = insert_release(conn, app_row, id, build.as_ref(), env, description, actor)?;
    Ok(Some((release, diff)))
}

/// A release from an explicit build and/or env; what is left out comes
/// from the latest release.
pub(crate) fn release_in(
    conn: &mut DbConnection,
    keys: &Keyring,
    app_row: &AppRow,
    new: &NewRelease,
    actor: &str,
) -> Result<Release, StoreError> {
    let app = parse_app(app_row)?;
    // An explicit env replaces the latest one whole: the way out when that
    // one cannot be opened any more (`replaced` names it).
    let (base, old, replaced) = match latest_with_env(conn, keys, &app) {
        Ok((base, old)) => (base, old, None),
        Err(StoreError::UnreadableRelease { release, .. }) if new.env.is_some() => {
            (latest(conn, &app)?, Env::empty(), Some(release))
        }
        Err(err) => return Err(err),
    };
    let build = match &new.build {
        Some(id) => Some(parse_build(&find_build(conn, &app, id)?.id)?),
        None => base
            .and_then(|r| r.build)
            .map(|b| parse_build(&b))
            .transpose()?,
    };
    let env = new.env.clone().unwrap_or(old.clone());
    let description = match (&new.description, replaced) {
        (Some(explicit), _) => explicit.as_str().to_owned(),
        (None, Some(unreadable)) => {
            format!("env replaced: release {unreadable}'s env could not be opened")
        }
        (None, None) => env_description(None, &EnvDiff::between(&old, &env)),
    };
    let id = ReleaseId::generate();
    let env = seal_env(keys, &env)?;
    insert_release(conn, app_row, id, build.as_ref(), env, description, actor)
}

/// Convox's rollback: a new release with an older release's build and env.
pub(crate) fn rollback_release_in(
    conn: &mut DbConnection,
    keys: &Keyring,
    app_row: &AppRow,
    to: &ReleaseId,
    actor: &str,
) -> Result<Release, StoreError> {
    let app = parse_app(app_row)?;
    let target = find_release(conn, &app, to)?;
    let build = target.build.as_deref().map(parse_build).transpose()?;
    let env = seal_env(keys, &target.env(keys)?)?;
    let id = ReleaseId::generate();
    insert_release(
        conn,
        app_row,
        id,
        build.as_ref(),
        env,
        rollback_description(to),
        actor,
    )
}

/// Inserts a release whose env was sealed by the caller (`seal_env`).
fn insert_release(
    conn: &mut DbConnection,
    app: &AppRow,
    id: ReleaseId,
    build: Option<&BuildId>,
    sealed_env: String,
    description: String,
    actor: &str,
) -> Result<Release, StoreError> {
    let row = ReleaseRow {
        id: id.to_string(),
        app: app.name.clone(),
        seq: app.seq,
        build: build.map(ToString::to_string),
        env: sealed_env,
        description,
        actor: actor.to_owned(),
        created_at: now(),
    };
    diesel::insert_into(releases::table)
        .values(&row)
        .execute(conn)?;
    // A release that was just created is neither active nor promoting yet.
    row.into_release(ReleaseStatus::Inactive, None)
}
