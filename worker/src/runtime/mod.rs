//! The `Runtime` trait: what the rollout engine asks of a driver, at the
//! level of a release. The engine owns the state machine, the lease, the
//! deadline, cancels, events and the decision to roll back; a runtime makes
//! a release's services converge (reporting progress, failing fast with the
//! reason), keeps the active release running between deployments, shows
//! what runs and what it wrote, and tears a deleted app down.
//!
//! The local runtime is its own controller: it runs the rolling update in
//! waves of child processes (`local::waves`). The Kubernetes runtime hands
//! the rolling update to the cluster's Deployments and watches them.

#[macro_use]
mod step;
mod failure;
pub mod kubernetes;
mod limits;
pub mod local;
mod target;

pub use failure::Failure;
pub use limits::{Guard, Limits, Pace, Steps, Stop, Traffic};
pub use step::{in_step, StepOf};
pub use target::Target;

use chrono::{DateTime, Utc};
use slipway_core::domain::{AppName, DeploymentId, Health, ReleaseId, ServiceName};
use std::future::Future;
use std::time::Duration;

/// One instance as the runtime sees it now.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Instance {
    /// Unique among all instances of the runtime.
    pub id: String,
    pub app: AppName,
    pub service: ServiceName,
    pub release: ReleaseId,
    /// Where it listens, when it has a port (local: the assigned `$PORT`).
    pub port: Option<u16>,
    pub started_at: DateTime<Utc>,
    /// Being stopped right now (signalled, not yet gone).
    pub stopping: bool,
}

/// What one look at an instance found.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Probe {
    /// Alive and, when a health check was asked for, passing it.
    Healthy,
    /// Alive but not (yet) passing its health check; why, for the record.
    Unhealthy(String),
    /// No longer running; why (`exited with status 1`, `killed by signal 9`).
    Gone(String),
}

/// Output of an instance read from where the last read ended.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct LogChunk {
    /// What it wrote (stdout and stderr), as written.
    pub bytes: Vec<u8>,
    /// Where the next read starts.
    pub next: u64,
}

#[derive(Debug, thiserror::Error)]
pub enum RuntimeError {
    /// Worth trying again (with backoff, inside the deadline).
    #[error("{0}")]
    Transient(String),
    /// Will not work however often it is tried (no `command` for the local runtime, ...).
    #[error("{0}")]
    Failed(String),
}

/// What tearing down a deleted app did.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct TornDown {
    /// Instances (or objects) stopped by this call.
    pub stopped: usize,
    /// Instances still there afterwards (being stopped, or failing to).
    pub left: usize,
}

/// A driver that makes releases run. Every method is safe to call again
/// after any interruption (a worker killed, a lease lost): it looks at what
/// runs and continues from there.
pub trait Runtime: Send + Sync + 'static {
    // Rolling out, for the engine's drive.

    /// Makes `target` run: every service of its manifest at its count and
    /// healthy, nothing of the app's other releases left running, services
    /// the manifest no longer has removed. Checks `limits` between steps
    /// (deadline, cancel, lease, shutdown), tells its steps through them,
    /// and fails fast: `Err(Stop::Failed(reason))` as soon as the release is
    /// seen failing. The same call rolls back (to the previous release).
    fn converge(
        &self,
        target: &Target,
        limits: &Limits<'_>,
    ) -> impl Future<Output = Result<(), Stop>> + Send;

    /// Stops what runs of `release` of `app`: a first release that failed,
    /// with nothing to return to.
    fn retire(
        &self,
        app: &AppName,
        release: &ReleaseId,
        deployment: &DeploymentId,
        limits: &Limits<'_>,
    ) -> impl Future<Output = Result<(), Stop>> + Send;

    // Between deployments, for the supervisor.

    /// Brings `missing` more instances of `service` of the active release
    /// `target` up: what crashed and was forgotten, or vanished. A runtime
    /// whose platform keeps the count itself (Kubernetes) applies the
    /// service again instead, bringing back what someone deleted.
    fn restore(
        &self,
        target: &Target,
        service: &ServiceName,
        missing: usize,
        limits: &Limits<'_>,
    ) -> impl Future<Output = Result<(), Stop>> + Send;

    /// Forgets an instance found gone, so that no record of it outlives it.
    fn forget(&self, instance: &Instance) -> impl Future<Output = Result<(), RuntimeError>> + Send;

    // Looking at what runs: the supervisor, the router, `ps` and `logs`.

    /// Every instance of the app the runtime knows of, whichever release,
    /// including those another worker process started.
    fn instances(
        &self,
        app: &AppName,
    ) -> impl Future<Output = Result<Vec<Instance>, RuntimeError>> + Send;

    /// Every instance of every app, in one look (the supervisor's pass).
    fn every_instance(&self) -> impl Future<Output = Result<Vec<Instance>, RuntimeError>> + Send;

    /// Looks at the instance now: alive at all, and with `health` given,
    /// passing one health check (bounded by `health.timeout`; a runtime
    /// whose platform probes instances itself answers from that).
    fn probe(
        &self,
        instance: &Instance,
        health: Option<&Health>,
    ) -> impl Future<Output = Probe> + Send;

    /// What the instance wrote since position `from` (0 at first; then the
    /// `next` of the previous chunk), as long as its output is kept.
    fn read_log(
        &self,
        instance: &Instance,
        from: u64,
    ) -> impl Future<Output = Result<LogChunk, RuntimeError>> + Send;

    /// [`Runtime::read_log`] of many instances at once (a supervisor's pass
    /// reads every instance it ships): each read's result, in order.
    fn read_logs(
        &self,
        reads: &[(&Instance, u64)],
    ) -> impl Future<Output = Vec<Result<LogChunk, RuntimeError>>> + Send {
        async move {
            let mut chunks = Vec::with_capacity(reads.len());
            for (instance, from) in reads {
                chunks.push(self.read_log(instance, *from).await);
            }
            chunks
        }
    }

    // Removing a deleted app.

    /// Stops everything of `app` (each instance with `grace` to finish).
    fn tear_down(
        &self,
        app: &AppName,
        grace: Duration,
    ) -> impl Future<Output = Result<TornDown, RuntimeError>> + Send;

    /// Removes what the runtime keeps of a deleted app once nothing of it
    /// runs (its working directory, its user, its output, its namespace).
    fn forget_app(&self, app: &AppName) -> impl Future<Output = Result<(), RuntimeError>> + Send;
}
