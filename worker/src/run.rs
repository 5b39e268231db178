//! The worker side of a process, as `slipway server worker` and `slipway dev`
//! run it: the rollout consumer (each job drives one deployment through the
//! engine), the reconciler, the supervisor (which keeps active releases
//! running between deployments), the teardown of deleted apps, the webhook
//! deliverer and the router, stopped together.

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
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::watch;
use tokio::task::JoinHandle;

/// How often deleted apps are looked for, to stop what they left running.
const TEARDOWN_EVERY: Duration = Duration::from_secs(2);

/// Running workers; [`Workers::stop`] ends them.
pub struct Workers<R> {
    engine: Arc<Engine<R>>,
    metrics: Metrics,
    owner: String,
    stop: watch::Sender<bool>,
    tasks: Vec<JoinHandle<()>>,
}

impl<R: Runtime> Workers<R> {
    /// Starts consuming `source` and reconciling through `queue`; the
    /// engine's lease owner is the consumer's worker name.
    pub fn start(
        store: Store,
        queue: JobQueue,
        source: JobSource,
        runtime: Arc<R>,
        consumer: ConsumerConfig,
        lease_ttl: Duration,
    ) -> Workers<R> {
        let metrics = Metrics::new();
        Self::start_with_metrics(store, queue, source, runtime, consumer, lease_ttl, metrics)
    }

    /// [`Workers::start`], recording into the process's `metrics`.
    pub fn start_with_metrics(
        store: Store,
        queue: JobQueue,
        source: JobSource,
        runtime: Arc<R>,
        consumer: ConsumerConfig,
        lease_ttl: Duration,
        metrics: Metrics,
    ) -> Workers<R> {
        let owner = consumer.worker_name.clone();
        let mut config = EngineConfig::new(owner.clone());
        config.lease_ttl = lease_ttl;
        let engine = Arc::new(
            Engine::new(store.clone(), runtime.clone(), config).with_metrics(metrics.clone()),
        );
        let (stop, _) = watch::channel(false);
        let until_stopped = until(&stop);
        let handler_engine = engine.clone();
        let handler_metrics = metrics.clone();
        let (handler_store, handler_queue) = (store.clone(), queue.clone());
        let handler = move |job: RolloutJob| {
            let engine = handler_engine.clone();
            let (store, queue) = (handler_store.clone(), handler_queue.clone());
            let waited = chrono::Utc::now().timestamp_micros() - job.enqueued_at_micros;
            if job.enqueued_at_micros > 0 && waited >= 0 {
                handler_metrics.picked_up(Duration::from_micros(waited as u64));
            }
            async move {
                match engine.drive_job(&job).await {
                    Ok(Driven::HandedOver) => {
                        // Another worker takes it from the queue at once.
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
            }
        };
        let consumer_shutdown = until_stopped();
        let consumer = tokio::spawn(async move {
            if let Err(err) = consume(source, consumer, handler, consumer_shutdown).await {
                tracing::error!(error = %err, "rollout consumer stopped");
            }
        });
        let teardown = tokio::spawn(crate::teardown::run(
            store.clone(),
            runtime,
            TEARDOWN_EVERY,
            until_stopped(),
        ));
        let reconciler = tokio::spawn(reconcile::run(
            store,
            queue,
            ReconcileConfig::default(),
            until_stopped(),
        ));
        let supervised = engine.clone();
        let stopped = until_stopped();
        let supervisor = tokio::spawn(async move {
            supervised
                .supervise(SuperviseConfig::default(), stopped)
                .await
        });
        Workers {
            engine,
            metrics,
            owner,
            stop,
            tasks: vec![consumer, reconciler, supervisor, teardown],
        }
    }

    /// Also delivers webhooks from this process, until [`Workers::stop`].
    pub fn deliver_webhooks(
        &mut self,
        store: Store,
        config: DeliveryConfig,
    ) -> Result<(), ClientError> {
        let deliverer =
            Deliverer::new(store, config, self.owner.clone())?.with_metrics(self.metrics.clone());
        let stopped = until(&self.stop);
        self.tasks.push(tokio::spawn(deliverer.run(stopped())));
        Ok(())
    }

    /// Also serves `router` from this process, from the engine's table,
    /// until [`Workers::stop`].
    pub fn route(&mut self, store: Store, router: Router) {
        let table = self.engine.traffic().clone();
        let runtime = self.engine.runtime().clone();
        let stopped = until(&self.stop);
        self.tasks
            .push(tokio::spawn(router.run(table, store, runtime, stopped())));
    }

    pub fn engine(&self) -> &Arc<Engine<R>> {
        &self.engine
    }

    /// Stops taking jobs (and deliveries); each running rollout stops at its
    /// next safe point (a wave's starts finish, nothing new begins), gives
    /// its lease back and is queued again for another worker.
    pub async fn stop(self) {
        self.engine.shut_down();
        let _ = self.stop.send(true);
        for task in self.tasks {
            let _ = task.await;
        }
    }
}

/// A maker of futures that resolve once `stop` has sent `true`.
fn until(
    stop: &watch::Sender<bool>,
) -> impl Fn() -> std::pin::Pin<Box<dyn std::future::Future<Output = ()> + Send>> {
    let stopped = stop.subscribe();
    move || {
        let mut stopped = stopped.clone();
        Box::pin(async move {
            let _ = stopped.wait_for(|stop| *stop).await;
        })
    }
}
