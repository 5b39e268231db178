//! What the engine hands a runtime with every convergence: the bounds it
//! must stay in (deadline, cancel, lease, shutdown: [`Limits::check`]), how
//! it paces itself, where it tells its progress, and who routes requests in
//! this process. The engine owns all of these; a runtime only asks them.

use super::failure::Failure;
use super::Instance;
use chrono::{DateTime, Utc};
use slipway_core::domain::{AppName, Manifest};
use slipway_core::events::Progress;
use std::future::Future;
use std::pin::Pin;
use std::time::Duration;

/// Why a rollout step stopped short.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Stop {
    /// The lease is gone, or unconfirmed for too long: leave the deployment
    /// to whoever holds it now, touching nothing more.
    LeaseLost,
    /// This worker is shutting down: stop at this safe point and hand the
    /// deployment over.
    ShuttingDown,
    /// The rollout failed: roll back (the reason is recorded and shown).
    Failed(Failure),
}

impl From<Failure> for Stop {
    fn from(failure: Failure) -> Self {
        Stop::Failed(failure)
    }
}

/// The drive's hold on its deployment, as a runtime may ask it.
pub trait Guard: Send + Sync {
    /// The lease is lost, or not confirmed for too long: act no more.
    fn fenced(&self) -> bool;
    /// The worker is stopping: stop at the next safe point.
    fn shutting_down(&self) -> bool;
    /// Someone asked to cancel the deployment.
    fn cancelled(&self) -> bool;
}

/// Where a rollout's steps are told (`deployment.progress` events).
pub trait Steps: Send + Sync {
    /// Queues one step; never waits on the database.
    fn record(&self, step: Progress);
}

/// Who sends requests to instances in this process (the router's table):
/// told when an instance may serve and asked to drain one before it stops.
/// A runtime whose instances are reached another way (a Kubernetes Service)
/// does not call it.
pub trait Traffic: Send + Sync {
    /// The release's host names are routed from its rollout's start.
    fn announce(&self, app: &AppName, manifest: &Manifest);
    /// The instance passed its health check: it may serve.
    fn admit(&self, instance: &Instance);
    /// Sends the instance nothing new and waits until what it has in flight
    /// has finished or `timeout` passed; returns how many were left.
    fn drain<'a>(
        &'a self,
        instance: &'a Instance,
        timeout: Duration,
    ) -> Pin<Box<dyn Future<Output = usize> + Send + 'a>>;
}

/// How a runtime paces a convergence; from the engine's settings.
#[derive(Clone, Copy, Debug)]
pub struct Pace {
    /// How often to look at what runs.
    pub tick: Duration,
    /// From the request to stop (SIGTERM) to the forced end (SIGKILL).
    pub stop_grace: Duration,
    /// An instance not healthy its service's `grace` plus this many
    /// health-check `interval`s after it started has failed.
    pub failure_intervals: u32,
}

/// The bounds of one convergence: a deadline, optionally the drive's guard
/// (whose cancel counts unless this is a rollback) and where its progress
/// is told, the pace, and the traffic of this process.
pub struct Limits<'a> {
    pub deadline: DateTime<Utc>,
    /// What passing the deadline means.
    pub expired: Failure,
    pub guard: Option<&'a dyn Guard>,
    pub honour_cancel: bool,
    pub steps: Option<&'a dyn Steps>,
    pub pace: Pace,
    pub traffic: &'a dyn Traffic,
}

impl Limits<'_> {
    /// Tells people following the deployment about a step.
    pub fn progress(&self, step: impl FnOnce() -> Progress) {
        if let Some(steps) = self.steps {
            steps.record(step());
        }
    }

    /// Whether the drive may still act on the runtime: its lease holds and
    /// the worker is not stopping. Checked before every start and stop.
    pub fn fence(&self) -> Result<(), Stop> {
        if let Some(guard) = self.guard {
            if guard.fenced() {
                return Err(Stop::LeaseLost);
            }
            if guard.shutting_down() {
                return Err(Stop::ShuttingDown);
            }
        }
        Ok(())
    }

    /// [`Limits::fence`], then a cancel request and the deadline.
    pub fn check(&self) -> Result<(), Stop> {
        self.fence()?;
        if let Some(guard) = self.guard {
            if self.honour_cancel && guard.cancelled() {
                return Err(Stop::Failed(Failure::Cancelled));
            }
        }
        if Utc::now() >= self.deadline {
            return Err(Stop::Failed(self.expired.clone()));
        }
        Ok(())
    }
}
