//! The worker side of a process, as `slipway server worker` and `slipway dev`
//! run it: the rollout consumer (each job drives one deployment through the
//! engine), the reconciler, the supervisor (which keeps active releases
//! running between deployments), the teardown of deleted apps, and, when
//! configured, the webhook deliverer and the router, stopped together.
//!
//! Build, then run, as the API does: [`WorkerApp::build`] from
//! [`WorkerSettings`], then [`WorkerApp::run_until_stopped`]; tests start a
//! worker the same way.

use crate::reconcile::{self, enqueue_or_unmark, ReconcileConfig};
use crate::rollout::{Driven, Engine, EngineConfig, SuperviseConfig};
use crate::router::Router;
use crate::runtime::Runtime;
use crate::webhooks::deliver::ClientError;
use crate::webhooks::{Deliverer, DeliveryConfig};
use slipway_core::domain::RolloutJob;
use slipway_core::metrics::Metrics;
use slipway_core::store::Store;
use slipway_queue::{consume, ConsumerConfig, JobFailed, JobQueue, JobSource};
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::watch;

/// How often deleted apps are looked for, to stop what they left running.
const TEARDOWN_EVERY: Duration = Duration::from_secs(2);
/// Seconds after which a silent worker's deployment is taken over, unless set.
const DEFAULT_LEASE_TTL: Duration = Duration::from_secs(15);

/// Everything a worker runs with. [`WorkerSettings::new`] gives the defaults:
/// a generated worker name, a 15 s lease, a metrics registry of its own, no
/// webhook deliveries, no router, and supervision at its default pace.
pub struct WorkerSettings<R> {
    /// A migrated store, with the keyring that opens its secrets.
    pub store: Store,
    /// Where handed-over and reconciled deployments are queued again.
    pub queue: JobQueue,
    /// Where rollout jobs come from (the same queue, or its in-process end).
    pub source: JobSource,
    pub runtime: Arc<R>,
    /// How jobs are consumed; its worker name is the engine's lease owner.
    pub consumer: ConsumerConfig,
    /// After this long without renewal a deployment's lease may be taken over.
    pub lease_ttl: Duration,
    /// The process's metrics; shared with the API when it runs in the same process.
    pub metrics: Metrics,
    /// Deliver webhooks from this process, so configured.
    pub webhooks: Option<DeliveryConfig>,
    /// Serve this router from this process, from the engine's table.
    pub router: Option<Router>,
    /// How the active releases are looked after between deployments.
    pub supervise: SuperviseConfig,
    /// Finished jobs and old events swept away (see `retention.rs`).
    pub retention: crate::retention::RetentionConfig,
}

impl<R: Runtime> WorkerSettings<R> {
    /// The defaults around what a worker cannot do without.
    pub fn new(store: Store, queue: JobQueue, source: JobSource, runtime: Arc<R>) -> Self {
        Self {
            store,
            queue,
            source,
            runtime,
            consumer: ConsumerConfig::new(ConsumerConfig::unique_worker_name("worker")),
            lease_ttl: DEFAULT_LEASE_TTL,
            metrics: Metrics::new(),
            webhooks: None,
            router: None,
            supervise: SuperviseConfig::default(),
            retention: crate::retention::RetentionConfig::default(),
        }
    }
}

/// A worker built and ready to run.
pub struct WorkerApp<R> {
    engine: Arc<Engine<R>>,
    store: Store,
    queue: JobQueue,
    source: JobSource,
    consumer: ConsumerConfig,
    metrics: Metrics,
    deliverer: Option<Deliverer>,
    router: Option<Router>,
    supervise: SuperviseConfig,
    retention: crate::retention::RetentionConfig,
}

impl<R: Runtime> WorkerApp<R> {
    /// Builds the engine (its lease owner is the consumer's worker name) and
    /// the webhook client; nothing runs yet.
    pub fn build(settings: WorkerSettings<R>) -> Result<WorkerApp<R>, ClientError> {
        let WorkerSettings {
            store,
            queue,
            source,
            runtime,
            consumer,
            lease_ttl,
            metrics,
            webhooks,
            router,
            supervise,
            retention,
        } = settings;
        let owner = consumer.worker_name.clone();
        let deliverer = webhooks
            .map(|config| {
                Deliverer::new(store.clone(), config, owner.clone())
                    .map(|deliverer| deliverer.with_metrics(metrics.clone()))
            })
            .transpose()?;
        let mut config = EngineConfig::new(owner);
        config.lease_ttl = lease_ttl;
        let engine =
            Arc::new(Engine::new(store.clone(), runtime, config).with_metrics(metrics.clone()));
        Ok(WorkerApp {
            engine,
            store,
            queue,
            source,
            consumer,
            metrics,
            deliverer,
            router,
            supervise,
            retention,
        })
    }

    pub fn engine(&self) -> &Arc<Engine<R>> {
        &self.engine
    }

    /// Runs until `shutdown` resolves, then stops taking jobs (and
    /// deliveries); each running rollout stops at its next safe point (a
    /// wave's starts finish, nothing new begins), gives its lease back and is
    /// queued again for another worker.
    pub async fn run_until_stopped(self, shutdown: impl Future<Output = ()>) {
        let (stop, _) = watch::channel(false);
        let until_stopped = until(&stop);
        let engine = self.engine;
        let runtime = engine.runtime().clone();
        let handler = rollout_handler(&engine, &self.store, &self.queue, &self.metrics);
        let (source, consumer) = (self.source, self.consumer);
        let consumer_shutdown = until_stopped();
        let (store, queue) = (self.store.clone(), self.queue.clone());
        let retention = crate::retention::run(store, queue, self.retention, until_stopped());
        let mut tasks = vec![
            tokio::spawn(async move {
                if let Err(err) = consume(source, consumer, handler, consumer_shutdown).await {
                    tracing::error!(error = %err, "rollout consumer stopped");
                }
            }),
            tokio::spawn(reconcile::run(
                self.store.clone(),
                self.queue,
                ReconcileConfig::default(),
                until_stopped(),
            )),
            tokio::spawn({
                let (engine, stopped, config) = (engine.clone(), until_stopped(), self.supervise);
                async move { engine.supervise(config, stopped).await }
            }),
            tokio::spawn(crate::teardown::run(
                self.store.clone(),
                runtime.clone(),
                TEARDOWN_EVERY,
                until_stopped(),
            )),
        ];
        tasks.push(tokio::spawn(retention));
        if let Some(router) = self.router {
            let table = engine.traffic().clone();
            let run = router.run(table, self.store.clone(), runtime, until_stopped());
            tasks.push(tokio::spawn(run));
        }
        if let Some(deliverer) = self.deliverer {
            tasks.push(tokio::spawn(deliverer.run(until_stopped())));
        }
        shutdown.await;
        engine.shut_down();
        let _ = stop.send(true);
        for task in tasks {
            let _ = task.await;
        }
    }
}

/// The rollout job's handler: drives the deployment through `engine`, and
/// queues a handed-over deployment again at once for another worker.
fn rollout_handler<R: Runtime>(
    engine: &Arc<Engine<R>>,
    store: &Store,
    queue: &JobQueue,
    metrics: &Metrics,
) -> impl Fn(RolloutJob) -> Pin<Box<dyn Future<Output = Result<(), JobFailed>> + Send>>
       + Clone
       + Send
       + Sync
       + 'static {
    let (engine, store, queue) = (engine.clone(), store.clone(), queue.clone());
    let metrics = metrics.clone();
    move |job: RolloutJob| {
        let (engine, store, queue) = (engine.clone(), store.clone(), queue.clone());
        let waited = chrono::Utc::now().timestamp_micros() - job.enqueued_at_micros;
        if job.enqueued_at_micros > 0 && waited >= 0 {
            metrics.picked_up(Duration::from_micros(waited as u64));
        }
        Box::pin(async move {
            match engine.drive_job(&job).await {
                Ok(Driven::HandedOver) => {
                    let again = RolloutJob::new(job.deployment.clone(), job.traceparent);
                    if let Err(error) = enqueue_or_unmark(&store, &queue, again).await {
                        tracing::warn!(deployment = %job.deployment, %error,
                            "cannot queue a handed-over deployment; the reconciler will");
                    }
                    Ok(())
                }
                Ok(Driven::Finished | Driven::NotDriven) => Ok(()),
                Err(err) => Err(JobFailed::retry(err)),
            }
        })
    }
}

/// A maker of futures that resolve once `stop` has sent `true`.
fn until(stop: &watch::Sender<bool>) -> impl Fn() -> Pin<Box<dyn Future<Output = ()> + Send>> {
    let stopped = stop.subscribe();
    move || {
        let mut stopped = stopped.clone();
        Box::pin(async move {
            let _ = stopped.wait_for(|stop| *stop).await;
        })
    }
}
