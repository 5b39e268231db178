//! What a rollout makes run: a release's manifest and env, read from the
//! store. A release that cannot be read (its env sealed under a key no
//! longer configured, a row that no longer parses, a build that is gone) is
//! a failure naming the release, never a job retried until someone edits the
//! database; only an unreachable database is worth retrying.

use super::{Engine, EngineError};
use crate::runtime::{Failure, Runtime, Target};
use slipway_core::domain::{AppName, DeploymentId, Env, ReleaseId};
use slipway_core::store::{Build, Deployment, StoreError};

/// A release's env and its build as [`slipway_core::store::Store::release_to_run`] reads them.
pub(super) type Loaded = Result<(Env, Option<Build>), StoreError>;

impl<R: Runtime> Engine<R> {
    /// `release` as deployment `d` runs it.
    pub(super) async fn target(
        &self,
        release: &ReleaseId,
        d: &Deployment,
    ) -> Result<Result<Target, Failure>, EngineError> {
        self.target_of(&d.app, release, d.minimum, d.maximum, Some(&d.id))
            .await
    }

    /// The release's manifest and env; `Ok(Err(reason))` when it cannot run,
    /// `Err` only when the database could not be asked.
    pub(super) async fn target_of(
        &self,
        app: &AppName,
        release: &ReleaseId,
        minimum: Option<u8>,
        maximum: Option<u16>,
        deployment: Option<&DeploymentId>,
    ) -> Result<Result<Target, Failure>, EngineError> {
        let (a, r) = (app.clone(), release.clone());
        let loaded = self.db(move |s| Ok(s.release_to_run(&a, &r))).await?;
        target_from(app, release, loaded, minimum, maximum, deployment)
    }
}

/// What `release_to_run` read of deployment `d`'s own release, as its target.
pub(super) fn deployment_target(
    d: &Deployment,
    loaded: Loaded,
) -> Result<Result<Target, Failure>, EngineError> {
    target_from(
        &d.app,
        &d.release,
        loaded,
        d.minimum,
        d.maximum,
        Some(&d.id),
    )
}

/// What `release_to_run` read, as a target; `Ok(Err(reason))` when it cannot run,
/// `Err` only when the database could not be asked.
fn target_from(
    app: &AppName,
    release: &ReleaseId,
    loaded: Loaded,
    minimum: Option<u8>,
    maximum: Option<u16>,
    deployment: Option<&DeploymentId>,
) -> Result<Result<Target, Failure>, EngineError> {
    let (env, build) = match loaded {
        Ok(loaded) => loaded,
        Err(err) if !is_transient(&err) => {
            let (release, error) = (release.clone(), err.to_string());
            return Ok(Err(Failure::ReleaseUnreadable { release, error }));
        }
        Err(err) => return Err(err.into()),
    };
    let Some(build) = build else {
        return Ok(Err(Failure::NoBuild {
            release: release.clone(),
        }));
    };
    Ok(Ok(Target {
        app: app.clone(),
        release: release.clone(),
        deployment: deployment.cloned(),
        manifest: build.manifest,
        env,
        minimum,
        maximum,
    }))
}

/// Errors that may go away by themselves: the database is unreachable or
/// busy. Everything else about a release (no key opens it, it or its build
/// is gone, a row does not parse) stays as it is however often it is read.
fn is_transient(err: &StoreError) -> bool {
    matches!(
        err,
        StoreError::Connect(_) | StoreError::Pool(_) | StoreError::Database(_)
    )
}
