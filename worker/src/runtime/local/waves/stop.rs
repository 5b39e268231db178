//! Stopping instances: the router sends them nothing new and lets what is
//! in flight finish, then the runtime stops them, unless the drive may no
//! longer act.

use super::LocalRuntime;
use crate::runtime::{Instance, Limits, Runtime, RuntimeError, StepOf, Stop, TornDown};
use futures_util::future::join_all;
use slipway_core::domain::Manifest;
use slipway_core::domain::{AppName, DeploymentId, ReleaseId};
use std::time::Duration;
use tracing::Instrument;

/// How long requests in flight may take once an instance is to stop, when
/// the release being stopped is not at hand (its service's `drain` otherwise).
const DEFAULT_DRAIN: Duration = Duration::from_secs(30);

impl LocalRuntime {
    /// Stops instances at once, gracefully, unless the drive may no longer
    /// act (its lease is in doubt, or the worker is stopping). First the
    /// router sends them nothing new and lets what is in flight finish (up
    /// to the service's `drain` in `manifest`, or the default). A failure to
    /// stop is logged and the instance looked at again on the next pass.
    pub(in crate::runtime::local) async fn stop_gracefully(
        &self,
        of: StepOf<'_>,
        instances: &[Instance],
        manifest: Option<&Manifest>,
        limits: &Limits<'_>,
    ) -> Result<(), Stop> {
        if instances.is_empty() {
            return Ok(());
        }
        limits.fence()?;
        let span = step_span!("stop instances", of, instances = instances.len());
        let stopped = async {
            join_all(instances.iter().map(|i| drain(limits, i, manifest))).await;
            // A drain can be long: the lease is confirmed again before acting.
            limits.fence()?;
            let grace = limits.pace.stop_grace;
            let results = join_all(instances.iter().map(|i| self.stop(i, grace))).await;
            for (instance, result) in instances.iter().zip(results) {
                if let Err(err) = result {
                    tracing::warn!(instance = %instance.id, error = %err, "cannot stop instance");
                }
            }
            Ok(())
        };
        stopped.instrument(span).await
    }

    /// Stops what runs of `release` (a failed first release).
    pub(in crate::runtime::local) async fn retire_release(
        &self,
        app: &AppName,
        release: &ReleaseId,
        deployment: &DeploymentId,
        limits: &Limits<'_>,
    ) -> Result<(), Stop> {
        let doomed: Vec<Instance> = match Runtime::instances(self, app).await {
            Ok(instances) => instances
                .into_iter()
                .filter(|i| &i.release == release)
                .collect(),
            Err(err) => {
                tracing::warn!(error = %err, "cannot list instances to stop");
                return Ok(());
            }
        };
        let of = StepOf {
            app,
            release,
            deployment: Some(deployment),
            service: None,
        };
        self.stop_gracefully(of, &doomed, None, limits).await
    }

    /// Stops every instance of a deleted app; says how many are left.
    pub(in crate::runtime::local) async fn stop_app(
        &self,
        app: &AppName,
        grace: Duration,
    ) -> Result<TornDown, RuntimeError> {
        let instances = Runtime::instances(self, app).await?;
        let stops = instances.iter().map(|instance| async move {
            match self.stop(instance, grace).await {
                Ok(()) => true,
                Err(err) => {
                    tracing::warn!(instance = %instance.id, error = %err,
                        "could not stop an instance of a deleted app");
                    false
                }
            }
        });
        let stopped = futures_util::future::join_all(stops)
            .await
            .into_iter()
            .filter(|stopped| *stopped)
            .count();
        let left = Runtime::instances(self, app).await?.len();
        Ok(TornDown { stopped, left })
    }
}

/// Lets what the instance has in flight finish, up to its service's `drain`.
async fn drain(limits: &Limits<'_>, instance: &Instance, manifest: Option<&Manifest>) {
    let timeout = manifest
        .and_then(|m| m.services().get(&instance.service))
        .map_or(DEFAULT_DRAIN, |s| Duration::from_secs(s.drain().into()));
    let left = limits.traffic.drain(instance, timeout).await;
    if left > 0 {
        tracing::warn!(instance = %instance.id, requests = left, ?timeout,
            "requests still in flight at the end of the drain");
    }
}
