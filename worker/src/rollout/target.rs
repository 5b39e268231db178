//! What a rollout makes run: a release's manifest and env, read from the
//! store. A release that cannot be read (its env sealed under a key no
//! longer configured, a row that no longer parses, a build that is gone) is
//! a failure naming the release, never a job retried until someone edits the
//! database; only an unreachable database is worth retrying.

use super::{Engine, EngineError};
use crate::runtime::{Failure, Runtime, Target};
use slipway_core::domain::{AppName, DeploymentId, Env, ReleaseId};
use slipway_core::store::{Deployment, StoreError};

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
        let loaded = self
            .db(move |s| {
                let release = s.get_release(&a, &r)?;
                let build = release
                    .build
                    .as_ref()
                    .map(|b| s.get_build(&a, b))
                    .transpose()?;
                Ok((release, build))
            })
            .await;
        let (release, build) = match loaded {
            Ok(loaded) => loaded,
            Err(EngineError::Store(err)) if !is_transient(&err) => {
                let (release, error) = (release.clone(), err.to_string());
                return Ok(Err(Failure::ReleaseUnreadable { release, error }));
            }
            Err(err) => return Err(err),
        };
        let Some(build) = build else {
            return Ok(Err(Failure::NoBuild {
                release: release.id,
            }));
        };
        Ok(Ok(Target {
            app: app.clone(),
            release: release.id,
            deployment: deployment.cloned(),
            manifest: build.manifest,
            env: release.env.unwrap_or_else(Env::empty),
            minimum,
            maximum,
        }))
    }
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
