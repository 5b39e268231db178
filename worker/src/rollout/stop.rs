//! Stopping instances: the router sends them nothing new and lets what is
//! in flight finish, then the runtime stops them, unless the drive may no
//! longer act.

use super::step::StepOf;
use super::watch::{Limits, Stop};
use super::Engine;
use crate::runtime::{Instance, Runtime};
use futures_util::future::join_all;
use slipway_core::domain::Manifest;
use std::time::Duration;
use tracing::Instrument;

/// How long requests in flight may take once an instance is to stop, when
/// the release being stopped is not at hand (its service's `drain` otherwise).
const DEFAULT_DRAIN: Duration = Duration::from_secs(30);

impl<R: Runtime> Engine<R> {
    /// Stops instances at once, gracefully, unless the drive may no longer
    /// act (its lease is in doubt, or the worker is stopping). First the
    /// router sends them nothing new and lets what is in flight finish (up
    /// to the service's `drain` in `manifest`, or the default). A failure to
    /// stop is logged and the instance looked at again on the next pass.
    pub(super) async fn stop_all(
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
            join_all(instances.iter().map(|i| self.drain(i, manifest))).await;
            // A drain can be long: the lease is confirmed again before acting.
            limits.fence()?;
            let grace = self.config.stop_grace;
            let results = join_all(instances.iter().map(|i| self.runtime.stop(i, grace))).await;
            for (instance, result) in instances.iter().zip(results) {
                if let Err(err) = result {
                    tracing::warn!(instance = %instance.id, error = %err, "cannot stop instance");
                }
            }
            Ok(())
        };
        stopped.instrument(span).await
    }

    async fn drain(&self, instance: &Instance, manifest: Option<&Manifest>) {
        let timeout = manifest
            .and_then(|m| m.services().get(&instance.service))
            .map_or(DEFAULT_DRAIN, |s| Duration::from_secs(s.drain().into()));
        let left = self.traffic.drain(instance, timeout).await;
        if left > 0 {
            tracing::warn!(instance = %instance.id, requests = left, ?timeout,
                "requests still in flight at the end of the drain");
        }
    }
}
