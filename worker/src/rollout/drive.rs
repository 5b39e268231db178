//! One drive of a deployment through its state machine: roll the release
//! out; on failure roll back to the previous release (or fail when there is
//! none); every move through `Store::transition_deployment` under the drive's lease.

use super::target::{deployment_target, Loaded};
use super::{Drive, Engine, EngineError, Interrupted};
use crate::runtime::{Failure, Limits, Runtime, Steps, Stop};
use crate::trace;
use chrono::{TimeDelta, Utc};
use slipway_core::domain::DeploymentStatus;
use slipway_core::events::Progress;
use slipway_core::store::Deployment;

impl<R: Runtime> Engine<R> {
    /// `d` as claimed: running (a pending one starts with its claim), with
    /// `release` its release as read with the claim, or rolling back, without.
    pub(super) async fn run(
        &self,
        drive: &Drive<'_>,
        release: Option<Loaded>,
    ) -> Result<(), Interrupted> {
        let d = &drive.d;
        let span = tracing::Span::current();
        span.record("slipway.app", tracing::field::display(&d.app));
        span.record("slipway.release", tracing::field::display(&d.release));
        tracing::info!(app = %d.app, release = %d.release, status = %d.status, "driving deployment");
        if let Some(loaded) = release {
            let limits = Limits {
                deadline: d.deadline_at,
                expired: Failure::Deadline {
                    seconds: (d.deadline_at - d.created_at).num_seconds(),
                },
                guard: Some(drive.watch),
                honour_cancel: true,
                steps: Some(drive.progress),
                pace: self.pace(),
                traffic: self.traffic.as_ref(),
            };
            // The deadline and a cancel count before the release is acted on.
            let outcome = match limits.check() {
                Ok(()) => match deployment_target(d, loaded)? {
                    Ok(target) => self.runtime.converge(&target, &limits).await,
                    Err(reason) => Err(Stop::Failed(reason)),
                },
                Err(stop) => Err(stop),
            };
            // The steps recorded so far come before the final event.
            drive.progress.flush().await;
            let failure = match outcome {
                Ok(()) => {
                    self.transition(drive, DeploymentStatus::Succeeded, None)
                        .await?;
                    return Ok(());
                }
                Err(Stop::Failed(failure)) => failure,
                Err(stop) => return Err(Interrupted::from_halt(stop)),
            };
            tracing::warn!(reason = %failure, "rollout failed");
            trace::fail(&span, &failure.to_string());
            if d.previous_release.is_none() {
                self.stop_release(drive, &limits).await?;
                let failure = Failure::NoRollback(Box::new(failure));
                self.transition(drive, DeploymentStatus::Failed, Some(&failure))
                    .await?;
                return Ok(());
            }
            self.transition(drive, DeploymentStatus::RollingBack, Some(&failure))
                .await?;
        }
        if let Some(previous) = &d.previous_release {
            drive.progress.record(Progress::Rollback {
                to: previous.clone(),
            });
        }
        self.roll_back(drive).await
    }

    /// Makes sure the previous release runs at full count and healthy. A
    /// rollback gets `rollback_timeout`, counted from the deployment's own
    /// deadline at the latest, so one resumed again and again still ends.
    #[tracing::instrument(name = "rollback", skip_all, fields(
        slipway.app = %drive.d.app,
        slipway.deployment = %drive.d.id,
        slipway.release = drive.d.previous_release.as_ref().map(|r| r.to_string()).unwrap_or_default(),
    ))]
    async fn roll_back(&self, drive: &Drive<'_>) -> Result<(), Interrupted> {
        let d = &drive.d;
        let Some(previous) = &d.previous_release else {
            let failure = Failure::NothingToRollBackTo;
            self.transition(drive, DeploymentStatus::Failed, Some(&failure))
                .await?;
            return Ok(());
        };
        let timeout = TimeDelta::from_std(self.config.rollback_timeout).unwrap_or(TimeDelta::MAX);
        let limits = Limits {
            deadline: (Utc::now() + timeout).min(d.deadline_at + timeout),
            expired: Failure::RollbackTimeout {
                seconds: timeout.num_seconds(),
            },
            guard: Some(drive.watch),
            honour_cancel: false,
            steps: Some(drive.progress),
            pace: self.pace(),
            traffic: self.traffic.as_ref(),
        };
        let started = std::time::Instant::now();
        let outcome = match limits.check() {
            Ok(()) => match self.target(previous, d).await? {
                Ok(target) => self.runtime.converge(&target, &limits).await,
                Err(reason) => Err(Stop::Failed(reason)),
            },
            Err(stop) => Err(stop),
        };
        drive.progress.flush().await;
        match outcome {
            Ok(()) => {
                self.transition(drive, DeploymentStatus::RolledBack, None)
                    .await?;
                self.metrics.rolled_back(started.elapsed());
            }
            Err(Stop::Failed(cause)) => {
                let failure = Failure::RollbackFailed {
                    to: previous.clone(),
                    cause: Box::new(cause),
                };
                trace::fail(&tracing::Span::current(), &failure.to_string());
                tracing::error!(reason = %failure, "rollback failed: needs a person");
                self.transition(drive, DeploymentStatus::Failed, Some(&failure))
                    .await?;
            }
            Err(stop) => return Err(Interrupted::from_halt(stop)),
        }
        Ok(())
    }

    /// Stops what runs of the deployment's release, unless the drive may
    /// no longer act.
    async fn stop_release(
        &self,
        drive: &Drive<'_>,
        limits: &Limits<'_>,
    ) -> Result<(), Interrupted> {
        let d = &drive.d;
        self.runtime
            .retire(&d.app, &d.release, &d.id, limits)
            .await
            .map_err(Interrupted::from_halt)
    }

    async fn transition(
        &self,
        drive: &Drive<'_>,
        to: DeploymentStatus,
        failure: Option<&Failure>,
    ) -> Result<Deployment, EngineError> {
        let (id, lease) = (drive.d.id.clone(), drive.lease.clone());
        let reason = failure.map(Failure::to_string);
        let moved = self
            .db(move |s| s.transition_deployment(&id, &lease, to, reason.as_deref()))
            .await?;
        tracing::info!(status = %to, reason = moved.reason.as_deref().unwrap_or(""), "deployment {to}");
        if matches!(
            to,
            DeploymentStatus::Succeeded | DeploymentStatus::RolledBack | DeploymentStatus::Failed
        ) {
            let took = (Utc::now() - moved.created_at).to_std().unwrap_or_default();
            self.metrics.deployment_finished(&to.to_string(), took);
        }
        Ok(moved)
    }
}
