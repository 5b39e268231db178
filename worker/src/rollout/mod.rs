//! The rollout engine: drives one deployment through its state machine
//! (`pending → running → succeeded | rolling_back → rolled_back | failed`)
//! above a `Runtime`. It owns the lease, the deadline, cancels, events and
//! the decision to roll back; the runtime makes a release converge and says
//! why when it cannot. Every transition goes through
//! `Store::transition_deployment`.

mod drive;
mod progress;
mod ship_logs;
mod supervise;
mod target;
mod watch;

use crate::router::Table;
use crate::runtime::{Pace, Runtime, Stop};
use crate::trace;
use chrono::TimeDelta;
use progress::Progress;
use slipway_core::domain::RolloutJob;
use slipway_core::domain::{DeploymentId, DeploymentStatus};
use slipway_core::metrics::Metrics;
use slipway_core::store::{Deployment, Lease, Store, StoreError};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;
pub use supervise::SuperviseConfig;
use tracing::Instrument;
use watch::{Watch, Watches};

/// How the engine paces itself. `new` gives production defaults.
#[derive(Clone, Debug)]
pub struct EngineConfig {
    /// This worker's name in deployment leases: unique per process.
    pub owner: String,
    /// A lease not renewed for this long lets another worker take over.
    pub lease_ttl: Duration,
    /// How often a rollout looks at its instances.
    pub tick: Duration,
    /// How often the drives' cancel requests are looked for (one query for all).
    pub poll: Duration,
    /// SIGTERM to SIGKILL.
    pub stop_grace: Duration,
    /// An instance not healthy `grace` + this many `interval`s after start has failed.
    pub failure_intervals: u32,
    /// How long a rollback may take.
    pub rollback_timeout: Duration,
}

impl EngineConfig {
    pub fn new(owner: impl Into<String>) -> EngineConfig {
        EngineConfig {
            owner: owner.into(),
            lease_ttl: Duration::from_secs(15),
            tick: Duration::from_millis(10),
            poll: Duration::from_millis(250),
            stop_grace: Duration::from_secs(10),
            failure_intervals: 3,
            rollback_timeout: Duration::from_secs(300),
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum EngineError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("a blocking task failed: {0}")]
    Task(#[from] tokio::task::JoinError),
}

/// How a call to drive a deployment ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Driven {
    /// The deployment reached a final state in this drive.
    Finished,
    /// Not driven here: final already, or another drive holds it, or the
    /// lease was lost on the way (whoever holds it now carries on).
    NotDriven,
    /// The worker is shutting down: the drive stopped at a safe point and
    /// gave its lease back; the caller queues a job so another worker
    /// continues at once.
    HandedOver,
}

/// One drive of one deployment: what it claimed and watches over.
struct Drive<'a> {
    d: Deployment,
    lease: Lease,
    watch: &'a Watch,
    progress: &'a Progress,
}

/// Drives deployments; one per worker process, shared by its jobs.
pub struct Engine<R> {
    store: Store,
    runtime: Arc<R>,
    config: EngineConfig,
    metrics: Metrics,
    shutting_down: Arc<AtomicBool>,
    watches: Watches,
    /// Who the router sends requests to: admitted once healthy, drained
    /// before stopped (with no router in this process, nobody reads it).
    traffic: Arc<Table>,
}

impl<R: Runtime> Engine<R> {
    pub fn new(store: Store, runtime: Arc<R>, config: EngineConfig) -> Engine<R> {
        let shutting_down = Arc::<AtomicBool>::default();
        let watches = Watches::new(
            store.clone(),
            config.lease_ttl,
            config.poll,
            shutting_down.clone(),
        );
        Engine {
            metrics: Metrics::new(),
            store,
            runtime,
            config,
            shutting_down,
            watches,
            traffic: Arc::default(),
        }
    }

    /// Records outcomes, durations and rollbacks into `metrics`.
    pub fn with_metrics(mut self, metrics: Metrics) -> Self {
        self.metrics = metrics;
        self
    }

    pub fn runtime(&self) -> &Arc<R> {
        &self.runtime
    }

    /// The table the router of this process serves from.
    pub fn traffic(&self) -> &Arc<Table> {
        &self.traffic
    }

    /// Makes every drive stop at its next safe point and hand its deployment
    /// over; drives started after this hand over at once.
    pub fn shut_down(&self) {
        self.shutting_down.store(true, Ordering::Relaxed);
    }

    /// Drives the deployment to a final state, unless it is final already
    /// or another drive holds it. Safe to call again and again: a resumed
    /// rollout looks at what runs and continues from there.
    pub async fn drive(&self, id: &DeploymentId) -> Result<Driven, EngineError> {
        self.drive_traced(id, None).await
    }

    /// [`Engine::drive`] for a job from the queue: the rollout is a consumer
    /// span whose **parent** is the producer span the job carries.
    ///
    /// The messaging conventions make a link the general case (a consumer
    /// may process a batch of messages from many traces) and allow a parent
    /// when one message is processed on its own, as here: a job is exactly
    /// one deployment, handled alone. A parent keeps the deploy in the CI's
    /// trace (API, producer, rollout, steps, webhooks), which is the point of
    /// tracing it. A job re-enqueued by the reconciler carries the
    /// deployment's stored context, so a resumed rollout joins the same trace.
    pub async fn drive_job(&self, job: &RolloutJob) -> Result<Driven, EngineError> {
        self.drive_traced(&job.deployment, job.traceparent.as_deref())
            .await
    }

    async fn drive_traced(
        &self,
        id: &DeploymentId,
        traceparent: Option<&str>,
    ) -> Result<Driven, EngineError> {
        let span = tracing::info_span!(
            "rollout",
            otel.kind = "consumer",
            messaging.system = "slipway",
            messaging.operation.type = "process",
            messaging.destination.name = "rollouts",
            slipway.deployment = %id,
            slipway.app = tracing::field::Empty,
            slipway.release = tracing::field::Empty,
            deployment = %id,
        );
        trace::continue_from(&span, traceparent);
        self.drive_in_span(id).instrument(span).await
    }

    async fn drive_in_span(&self, id: &DeploymentId) -> Result<Driven, EngineError> {
        if self.shutting_down.load(Ordering::Relaxed) {
            return Ok(Driven::HandedOver);
        }
        let (owner, ttl) = (self.config.owner.clone(), self.config.lease_ttl);
        let lease_for = TimeDelta::from_std(ttl).unwrap_or(TimeDelta::seconds(15));
        let claim_id = id.clone();
        // A pending deployment starts running with its claim, and the
        // release of a running one is read in the same call: one wait on the
        // database before its first instance starts.
        let claimed = self
            .db(move |s| {
                let claimed = s.claim_to_drive(&claim_id, &owner, lease_for)?;
                Ok(claimed.map(|(d, lease)| {
                    let running = d.status == DeploymentStatus::Running;
                    let release = running.then(|| s.release_to_run(&d.app, &d.release));
                    (d, lease, release)
                }))
            })
            .await?;
        let Some((deployment, lease, release)) = claimed else {
            tracing::debug!("not claimed: final, or driven elsewhere");
            return Ok(Driven::NotDriven);
        };
        let watch = self.watches.start(id.clone(), lease.clone());
        let progress = Progress::start(self.store.clone(), deployment.clone());
        let drive = Drive {
            d: deployment,
            lease,
            watch: &watch,
            progress: &progress,
        };
        let outcome = self.run(&drive, release).await;
        progress.flush().await;
        match outcome {
            Ok(()) => Ok(Driven::Finished),
            Err(Interrupted::LeaseLost) => {
                tracing::warn!("lease lost; whoever holds it now continues");
                Ok(Driven::NotDriven)
            }
            Err(Interrupted::ShuttingDown) => {
                let (id, lease) = (id.clone(), drive.lease.clone());
                let released = self.db(move |s| s.release_lease(&id, &lease, true)).await;
                match released {
                    Ok(true) => {
                        tracing::info!("shutting down: deployment handed over");
                        Ok(Driven::HandedOver)
                    }
                    // Lost meanwhile, or the database is away: the lease lapses.
                    Ok(false) | Err(_) => Ok(Driven::NotDriven),
                }
            }
            Err(Interrupted::Error(err)) => {
                // Give the lease back so a retry of the job can claim again at once.
                let (id, lease) = (id.clone(), drive.lease.clone());
                if let Err(release) = self.db(move |s| s.release_lease(&id, &lease, false)).await {
                    tracing::warn!(error = %release, "cannot give the lease back; it lapses");
                }
                Err(err)
            }
        }
    }

    /// How runtimes pace a convergence, from this engine's settings.
    fn pace(&self) -> Pace {
        Pace {
            tick: self.config.tick,
            stop_grace: self.config.stop_grace,
            failure_intervals: self.config.failure_intervals,
        }
    }

    async fn db<T: Send + 'static>(
        &self,
        f: impl FnOnce(&Store) -> Result<T, StoreError> + Send + 'static,
    ) -> Result<T, EngineError> {
        let store = self.store.clone();
        Ok(tokio::task::spawn_blocking(move || f(&store)).await??)
    }
}

/// Why a drive ended before a final state.
enum Interrupted {
    /// The lease is gone (or was not confirmed in time): hands off.
    LeaseLost,
    /// The worker is stopping: hand the deployment over.
    ShuttingDown,
    /// The database could not be asked: the job is retried.
    Error(EngineError),
}

impl Interrupted {
    /// What a step that did not fail stopped for.
    fn from_halt(stop: Stop) -> Self {
        match stop {
            Stop::ShuttingDown => Interrupted::ShuttingDown,
            Stop::LeaseLost | Stop::Failed(_) => Interrupted::LeaseLost,
        }
    }
}

impl From<EngineError> for Interrupted {
    fn from(err: EngineError) -> Self {
        match err {
            EngineError::Store(StoreError::LeaseLost(_)) => Interrupted::LeaseLost,
            err => Interrupted::Error(err),
        }
    }
}
