//! The rollout engine: drives one deployment through its state machine
//! (`pending → running → succeeded | rolling_back → rolled_back | failed`)
//! above a `Runtime`. It owns the deadline, fail-fast rules and rollback;
//! every transition goes through `Store::transition`.

mod converge;
pub mod plan;
mod progress;
mod watch;

use crate::queue::trace;
use crate::runtime::Runtime;
use chrono::{TimeDelta, Utc};
use progress::Progress;
use serde_json::json;
use slipway_core::domain::{
    AppName, DeploymentId, DeploymentStatus, Env, Manifest, ReleaseId, Service, Strategy,
};
use slipway_core::jobs::RolloutJob;
use slipway_core::metrics::Metrics;
use slipway_core::store::{Deployment, Store, StoreError};
use std::sync::Arc;
use std::time::Duration;
use tracing::Instrument;
use watch::{Limits, Stop, Watch};

/// How the engine paces itself. `new` gives production defaults.
#[derive(Clone, Debug)]
pub struct EngineConfig {
    /// This worker's name in deployment leases: unique per process.
    pub owner: String,
    /// A lease not renewed for this long lets another worker take over.
    pub lease_ttl: Duration,
    /// How often a rollout looks at its instances.
    pub tick: Duration,
    /// How often the lease is checked and a cancel request looked for.
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

/// What a rollout makes run: a release's manifest and env.
pub(crate) struct Target {
    app: AppName,
    release: ReleaseId,
    /// The deployment it runs for (step spans name it); `None` for a restore.
    deployment: Option<DeploymentId>,
    manifest: Manifest,
    env: Env,
    minimum: Option<u8>,
    maximum: Option<u16>,
}

impl Target {
    /// The service's strategy with this promotion's overrides applied.
    fn strategy(&self, service: &Service) -> Result<Strategy, Stop> {
        let base = service.strategy();
        Strategy::new(
            self.minimum.unwrap_or(base.minimum()),
            self.maximum.unwrap_or(base.maximum()),
        )
        .map_err(|e| Stop::Failed(format!("invalid strategy: {e}")))
    }
}

/// Drives deployments; one per worker process, shared by its jobs.
pub struct Engine<R> {
    store: Store,
    runtime: Arc<R>,
    config: EngineConfig,
    metrics: Metrics,
}

impl<R: Runtime> Engine<R> {
    pub fn new(store: Store, runtime: Arc<R>, config: EngineConfig) -> Engine<R> {
        Engine {
            metrics: Metrics::new(),
            store,
            runtime,
            config,
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

    /// Drives the deployment to a final state, unless it is final already
    /// or another worker holds it. Safe to call again and again: a resumed
    /// rollout looks at what runs and continues from there.
    pub async fn drive(&self, id: &DeploymentId) -> Result<(), EngineError> {
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
    pub async fn drive_job(&self, job: &RolloutJob) -> Result<(), EngineError> {
        self.drive_traced(&job.deployment, job.traceparent.as_deref())
            .await
    }

    async fn drive_traced(
        &self,
        id: &DeploymentId,
        traceparent: Option<&str>,
    ) -> Result<(), EngineError> {
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

    async fn drive_in_span(&self, id: &DeploymentId) -> Result<(), EngineError> {
        let (owner, ttl) = (self.config.owner.clone(), self.config.lease_ttl);
        let lease = TimeDelta::from_std(ttl).unwrap_or(TimeDelta::seconds(15));
        let claim_id = id.clone();
        let claimed = self
            .db(move |s| s.claim_deployment(&claim_id, &owner, lease))
            .await?;
        let Some(deployment) = claimed else {
            tracing::debug!("not claimed: final, or driven by another worker");
            return Ok(());
        };
        let watch = Watch::start(
            self.store.clone(),
            id.clone(),
            self.config.owner.clone(),
            ttl,
            self.config.poll,
        );
        let progress = Progress::start(self.store.clone(), deployment.clone());
        match self.run(deployment, &watch, &progress).await {
            Err(EngineError::Store(StoreError::LeaseLost(_))) => {
                tracing::warn!("lease lost; another worker continues");
                Ok(())
            }
            other => other,
        }
    }

    async fn run(
        &self,
        deployment: Deployment,
        watch: &Watch,
        progress: &Progress,
    ) -> Result<(), EngineError> {
        let d = &deployment;
        let span = tracing::Span::current();
        span.record("slipway.app", tracing::field::display(&d.app));
        span.record("slipway.release", tracing::field::display(&d.release));
        tracing::info!(app = %d.app, release = %d.release, status = %d.status, "driving deployment");
        let mut status = d.status;
        if status == DeploymentStatus::Pending {
            status = self
                .transition(d, DeploymentStatus::Running, None)
                .await?
                .status;
        }
        if status == DeploymentStatus::Running {
            let limits = Limits {
                deadline: d.deadline_at,
                deadline_text: format!(
                    "did not finish before its deadline ({} s)",
                    (d.deadline_at - d.created_at).num_seconds()
                ),
                watch: Some(watch),
                honour_cancel: true,
                progress: Some(progress),
            };
            let outcome = match self.target(&d.app, &d.release, d).await? {
                Ok(target) => match limits.check() {
                    Ok(()) => self.converge(&target, &limits).await,
                    Err(stop) => Err(stop),
                },
                Err(reason) => Err(Stop::Failed(reason)),
            };
            // The steps recorded so far come before the final event.
            progress.flush().await;
            let reason = match outcome {
                Ok(()) => {
                    self.transition(d, DeploymentStatus::Succeeded, None)
                        .await?;
                    return Ok(());
                }
                Err(Stop::LeaseLost) => return Err(StoreError::LeaseLost(d.id.to_string()).into()),
                Err(Stop::Failed(reason)) => reason,
            };
            tracing::warn!(%reason, "rollout failed");
            trace::fail(&span, &reason);
            if d.previous_release.is_none() {
                self.stop_release(d).await;
                let reason = format!("{reason}; no previous release to roll back to");
                self.transition(d, DeploymentStatus::Failed, Some(&reason))
                    .await?;
                return Ok(());
            }
            self.transition(d, DeploymentStatus::RollingBack, Some(&reason))
                .await?;
        }
        if let Some(previous) = &d.previous_release {
            progress.record(json!({ "step": "rollback", "to": previous }));
        }
        self.roll_back(d, watch, progress).await
    }

    /// Makes sure the previous release runs at full count and healthy.
    #[tracing::instrument(name = "rollback", skip_all, fields(
        slipway.app = %d.app,
        slipway.deployment = %d.id,
        slipway.release = d.previous_release.as_ref().map(|r| r.to_string()).unwrap_or_default(),
    ))]
    async fn roll_back(
        &self,
        d: &Deployment,
        watch: &Watch,
        progress: &Progress,
    ) -> Result<(), EngineError> {
        let Some(previous) = &d.previous_release else {
            let reason = "no previous release to roll back to";
            self.transition(d, DeploymentStatus::Failed, Some(reason))
                .await?;
            return Ok(());
        };
        let timeout = TimeDelta::from_std(self.config.rollback_timeout).unwrap_or(TimeDelta::MAX);
        let limits = Limits {
            deadline: Utc::now() + timeout,
            deadline_text: format!("rollback did not finish within {} s", timeout.num_seconds()),
            watch: Some(watch),
            honour_cancel: false,
            progress: Some(progress),
        };
        let started = std::time::Instant::now();
        let outcome = match self.target(&d.app, previous, d).await? {
            Ok(target) => self.converge(&target, &limits).await,
            Err(reason) => Err(Stop::Failed(reason)),
        };
        progress.flush().await;
        match outcome {
            Ok(()) => {
                self.transition(d, DeploymentStatus::RolledBack, None)
                    .await?;
                self.metrics.rolled_back(started.elapsed());
            }
            Err(Stop::LeaseLost) => return Err(StoreError::LeaseLost(d.id.to_string()).into()),
            Err(Stop::Failed(why)) => {
                let reason = format!("rollback to {previous} failed: {why}");
                trace::fail(&tracing::Span::current(), &reason);
                tracing::error!(%reason, "rollback failed: needs a person");
                self.transition(d, DeploymentStatus::Failed, Some(&reason))
                    .await?;
            }
        }
        Ok(())
    }

    /// Brings an app's active release back up (on start-up of `slipway dev`),
    /// outside any deployment.
    pub async fn restore(&self, app: &AppName, release: &ReleaseId) -> Result<(), String> {
        let target = match self.target_of(app, release, None, None, None).await {
            Ok(Ok(target)) => target,
            Ok(Err(reason)) => return Err(reason),
            Err(err) => return Err(err.to_string()),
        };
        let limits = Limits {
            deadline: Utc::now() + TimeDelta::seconds(600),
            deadline_text: "restore did not finish within 600 s".into(),
            watch: None,
            honour_cancel: false,
            progress: None,
        };
        match self.converge(&target, &limits).await {
            Ok(()) => Ok(()),
            Err(Stop::LeaseLost) => Err("lease lost".into()),
            Err(Stop::Failed(reason)) => Err(reason),
        }
    }

    async fn target(
        &self,
        app: &AppName,
        release: &ReleaseId,
        d: &Deployment,
    ) -> Result<Result<Target, String>, EngineError> {
        self.target_of(app, release, d.minimum, d.maximum, Some(&d.id))
            .await
    }

    /// The release's manifest and env; `Err(reason)` when it cannot run.
    async fn target_of(
        &self,
        app: &AppName,
        release: &ReleaseId,
        minimum: Option<u8>,
        maximum: Option<u16>,
        deployment: Option<&DeploymentId>,
    ) -> Result<Result<Target, String>, EngineError> {
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
            .await?;
        let (release, build) = loaded;
        let Some(build) = build else {
            return Ok(Err(format!(
                "release {} has no build: nothing to run",
                release.id
            )));
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

    /// Stops every instance of the deployment's release.
    async fn stop_release(&self, d: &Deployment) {
        match self.runtime.instances(&d.app).await {
            Ok(instances) => {
                let doomed: Vec<_> = instances
                    .into_iter()
                    .filter(|i| i.release == d.release)
                    .collect();
                let of = converge::StepOf {
                    app: &d.app,
                    release: &d.release,
                    deployment: Some(&d.id),
                    service: None,
                };
                self.stop_all(of, &doomed).await;
            }
            Err(err) => tracing::warn!(error = %err, "cannot list instances to stop"),
        }
    }

    async fn transition(
        &self,
        d: &Deployment,
        to: DeploymentStatus,
        reason: Option<&str>,
    ) -> Result<Deployment, EngineError> {
        let (id, owner) = (d.id.clone(), self.config.owner.clone());
        let reason = reason.map(str::to_owned);
        let moved = self
            .db(move |s| s.transition(&id, &owner, to, reason.as_deref()))
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

    async fn db<T: Send + 'static>(
        &self,
        f: impl FnOnce(&Store) -> Result<T, StoreError> + Send + 'static,
    ) -> Result<T, EngineError> {
        let store = self.store.clone();
        Ok(tokio::task::spawn_blocking(move || f(&store)).await??)
    }
}
