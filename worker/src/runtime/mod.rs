//! The `Runtime` trait: what the rollout engine asks of a driver. The engine
//! owns timing, deadlines, fail-fast rules and rollback; a driver starts,
//! observes, probes and stops instances.

pub mod kubernetes;
pub mod local;

use chrono::{DateTime, Utc};
use slipway_core::domain::{AppName, Env, Health, ReleaseId, ServiceName};
use std::future::Future;
use std::time::Duration;

/// What to run: one instance of one service of a release.
#[derive(Clone, Debug)]
pub struct InstanceSpec {
    pub app: AppName,
    pub service: ServiceName,
    pub release: ReleaseId,
    /// Run by `sh -c` on the local runtime.
    pub command: Option<String>,
    /// Run on Kubernetes.
    pub image: Option<String>,
    /// The port the manifest declares (the local runtime assigns its own `$PORT`).
    pub port: Option<u16>,
    /// The release's env; its `Debug` shows keys only.
    pub env: Env,
}

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

/// A driver that makes service instances run.
pub trait Runtime: Send + Sync + 'static {
    /// Starts one instance; returns once it is launched, not once healthy.
    fn start(
        &self,
        spec: &InstanceSpec,
    ) -> impl Future<Output = Result<Instance, RuntimeError>> + Send;

    /// Every instance of the app the runtime knows of, whichever release,
    /// including those another worker process started: a resumed rollout
    /// observes before it acts.
    fn instances(
        &self,
        app: &AppName,
    ) -> impl Future<Output = Result<Vec<Instance>, RuntimeError>> + Send;

    /// Every instance of every app, in one look (the supervisor's pass).
    fn every_instance(&self) -> impl Future<Output = Result<Vec<Instance>, RuntimeError>> + Send;

    /// Looks at the instance now: alive at all, and with `health` given,
    /// passing one health check (bounded by `health.timeout`).
    fn probe(
        &self,
        instance: &Instance,
        health: Option<&Health>,
    ) -> impl Future<Output = Probe> + Send;

    /// Stops the instance gracefully: SIGTERM (or the driver's equivalent),
    /// then after `grace` SIGKILL. Ok once it is gone, also when it was gone
    /// already; the runtime forgets it.
    fn stop(
        &self,
        instance: &Instance,
        grace: Duration,
    ) -> impl Future<Output = Result<(), RuntimeError>> + Send;

    /// What the instance wrote since position `from` (0 at first; then the
    /// `next` of the previous chunk). Works for a stopped instance too, as
    /// long as its output is kept.
    fn read_log(
        &self,
        instance: &Instance,
        from: u64,
    ) -> impl Future<Output = Result<LogChunk, RuntimeError>> + Send;

    /// Removes what the runtime keeps of a deleted app once none of its
    /// instances is left (its working directory, its user, its output).
    fn forget_app(&self, app: &AppName) -> impl Future<Output = Result<(), RuntimeError>> + Send;
}
