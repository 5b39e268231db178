//! The Redis consumer: apalis workers that deliver each job once to
//! [`run_attempts`], woken by job notifications (`wake.rs`), and the restart
//! of a worker that stopped.

use std::error::Error as StdError;
use std::future::Future;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use apalis::layers::limit::GlobalConcurrencyLimitLayer;
use apalis::layers::tracing::{DefaultOnFailure, TraceLayer};
use apalis_core::backend::ext::BackendExt;
use apalis_core::error::{AbortError, BoxDynError};
use apalis_core::monitor::Monitor;
use apalis_core::worker::builder::WorkerBuilder;
use apalis_core::worker::context::WorkerContext;
use apalis_core::worker::event::Event;
use apalis_core::worker::ext::parallelize::ParallelizeExt;
use apalis_redis::RedisStorage;
use futures_util::FutureExt;
use tokio::sync::Semaphore;
use tokio::task::{AbortHandle, JoinHandle};

use super::fetch::SlotSizedFetch;
use super::wake::{self, PollOnWake, Wake};
use crate::attempts::{run_attempts, GaveUp, JobFailed};
use crate::config::ConsumerConfig;
use crate::error::QueueError;
use crate::job::Job;
use crate::producer::RedisQueue;

/// Restart delays after a Redis worker stopped on its own (Redis unreachable).
const MIN_RESTART_DELAY: Duration = Duration::from_millis(500);
const MAX_RESTART_DELAY: Duration = Duration::from_secs(30);

pub(super) async fn consume<J, F, Fut>(
    queue: RedisQueue,
    config: ConsumerConfig,
    handler: F,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<(), QueueError>
where
    J: Job,
    F: Fn(J) -> Fut + Clone + Send + Sync + 'static,
    Fut: Future<Output = Result<(), JobFailed>> + Send + 'static,
{
    let shutdown = shutdown.boxed().shared();
    // Shared across restarts, and held inside the spawned handler tasks, so a
    // restart never runs more than `concurrency` handlers.
    let limit = Arc::new(Semaphore::new(config.concurrency));
    let wake = Arc::new(Wake::default());
    let handlers = Handlers::default();
    let _abort_on_exit = AbortOnDrop(handlers.clone());
    let listener = tokio::spawn(wake::listen(queue.clone(), wake.clone()));
    let _stop_listening = AbortTask(listener.abort_handle());
    let apalis_config = queue
        .config()
        .clone()
        // One job a fetch, unless `SlotSizedFetch` sizes the fetch to the free slots.
        .batch_size(1)
        .heartbeat_interval(config.heartbeat_interval)
        .missed_heartbeats(config.missed_heartbeats);
    let mut restart_delay = MIN_RESTART_DELAY;
    for generation in 0u64.. {
        let name = match generation {
            0 => config.worker_name.clone(),
            n => format!("{}.r{n}", config.worker_name),
        };
        let build = {
            let (queue, apalis_config, config) =
                (queue.clone(), apalis_config.clone(), config.clone());
            let (limit, handlers, handler, name, wake) = (
                limit.clone(),
                handlers.clone(),
                handler.clone(),
                name.clone(),
                wake.clone(),
            );
            move |_restarts: usize| {
                let connection =
                    SlotSizedFetch::new(queue.connection(), limit.clone(), &apalis_config);
                let storage = RedisStorage::<serde_json::Value, _>::new(connection)
                    .with_config(apalis_config.clone())
                    .poll_with_strategy(PollOnWake::new(config.poll_interval, wake.clone()));
                let (handler, config) = (handler.clone(), config.clone());
                // No retry, timeout or panic layers: `run_attempts` applies the
                // rules both backends share, so apalis sees one call per job.
                // Handlers run as their own tasks (parallelize) so a worker restart
                // does not cancel a rollout halfway through a step.
                WorkerBuilder::new(name.as_str())
                    .backend(storage)
                    .parallelize(spawner(handlers.clone()))
                    .layer(GlobalConcurrencyLimitLayer::with_semaphore(limit.clone()))
                    .layer(
                        TraceLayer::new()
                            .on_failure(DefaultOnFailure::new().level(tracing::Level::DEBUG)),
                    )
                    .build(move |payload: serde_json::Value| {
                        let (handler, config) = (handler.clone(), config.clone());
                        async move { run_payload::<J, _, _>(payload, &handler, &config).await }
                    })
            }
        };
        let monitor = Monitor::new().on_event(log_final_failure).register(build);
        let monitor_ctx = monitor.context();
        let mut run = Box::pin(monitor.run());
        let started = Instant::now();
        tokio::select! {
            result = &mut run => {
                if started.elapsed() > MAX_RESTART_DELAY * 2 {
                    restart_delay = MIN_RESTART_DELAY;
                }
                let error = match result {
                    Ok(()) => "stopped".to_owned(),
                    Err(e) => e.to_string(),
                };
                tracing::error!(worker = %name, %error, retry_in = ?restart_delay,
                    "job worker stopped; restarting it under a new name");
                tokio::select! {
                    () = tokio::time::sleep(restart_delay) => {}
                    () = shutdown.clone() => break,
                }
                restart_delay = (restart_delay * 2).min(MAX_RESTART_DELAY);
            }
            () = shutdown.clone() => {
                tracing::info!(worker = %name, "job worker shutting down");
                let _ = monitor_ctx.shutdown();
                if tokio::time::timeout(config.shutdown_grace, &mut run).await.is_err() {
                    // Dropping the worker first sends no result for the abandoned jobs:
                    // they stay in this worker's in-flight set and come back once its
                    // heartbeat is missed.
                    drop(run);
                    tracing::warn!(abandoned = handlers.abort_all(),
                        "shutdown grace elapsed; abandoning running jobs");
                } else if let Err(error) = unregister(&queue, &apalis_config, &name).await {
                    tracing::warn!(worker = %name, %error,
                        "could not unregister the stopped job worker; its heartbeat will lapse");
                }
                break;
            }
        }
    }
    Ok(())
}

/// Takes a cleanly stopped worker out of the workers set and deletes its
/// metadata, as apalis-redis's own close means to (it removes the name of the
/// worker's in-flight set, which is not a member). Only when that in-flight
/// set is empty: a job still in it comes back through the orphan check,
/// which looks for the worker in the set.
async fn unregister(
    queue: &RedisQueue,
    config: &apalis_redis::Config,
    name: &str,
) -> Result<(), redis::RedisError> {
    let script = redis::Script::new(
        r"
        if redis.call('EXISTS', KEYS[2]) == 0 then
            redis.call('ZREM', KEYS[1], ARGV[1])
            redis.call('DEL', KEYS[3])
        end",
    );
    script
        .key(config.workers_set())
        .key(format!("{}:{name}", config.inflight_jobs_set()))
        .key(format!("{}:workers:metadata:{name}", config.queue.as_ref()))
        .arg(name)
        .invoke_async::<()>(&mut queue.connection())
        .await
}

/// Decodes one delivery and runs it; a job given up on is answered with
/// `AbortError`, which the Redis backend files as dead instead of
/// rescheduling it (it would, up to 25 times).
async fn run_payload<J, F, Fut>(
    payload: serde_json::Value,
    handler: &F,
    config: &ConsumerConfig,
) -> Result<(), BoxDynError>
where
    J: Job,
    F: Fn(J) -> Fut,
    Fut: Future<Output = Result<(), JobFailed>>,
{
    // Decoding here rather than in apalis: a payload that does not decode
    // would otherwise stop the worker and come back forever.
    let job: J = match serde_json::from_value(payload) {
        Ok(job) => job,
        Err(e) => {
            tracing::error!(queue = J::NAME, error = %e, "dropping a job that does not decode");
            return Err(AbortError::new(GaveUp::Failed(JobFailed::permanent(e))).into());
        }
    };
    run_attempts(job, handler, config)
        .await
        .map_err(|gave_up| AbortError::new(gave_up).into())
}

/// Monitor event hook: errors nobody logged yet (the backend's own); a job
/// given up on was logged by `run_attempts`.
fn log_final_failure(worker: &WorkerContext, event: &Event) {
    if let Event::Error(error) = event {
        let error: &(dyn StdError + 'static) = error.as_ref().as_ref();
        let logged =
            std::iter::successors(Some(error), |e| (*e).source()).any(|e| e.is::<GaveUp>());
        if !logged {
            tracing::error!(worker = worker.name(), %error, "job worker error");
        }
    }
}

/// Handler tasks spawned for the Redis worker, so the ones still running when
/// the consumer exits can be aborted.
#[derive(Clone, Default)]
struct Handlers(Arc<Mutex<Vec<AbortHandle>>>);

impl Handlers {
    fn spawn<Fut>(&self, future: Fut) -> JoinHandle<Fut::Output>
    where
        Fut: Future + Send + 'static,
        Fut::Output: Send + 'static,
    {
        let handle = tokio::spawn(future);
        let mut running = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        running.retain(|h| !h.is_finished());
        running.push(handle.abort_handle());
        handle
    }

    fn abort_all(&self) -> usize {
        let running = std::mem::take(&mut *self.0.lock().unwrap_or_else(PoisonError::into_inner));
        running
            .iter()
            .filter(|h| !h.is_finished())
            .map(|h| h.abort())
            .count()
    }
}

/// The `parallelize` executor: gives the closure a concrete signature.
fn spawner<Fut>(
    handlers: Handlers,
) -> impl Fn(Fut) -> JoinHandle<Fut::Output> + Clone + Send + Sync + 'static
where
    Fut: Future + Send + 'static,
    Fut::Output: Send + 'static,
{
    move |future| handlers.spawn(future)
}

struct AbortOnDrop(Handlers);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort_all();
    }
}

/// The notification listener goes with its consumer.
struct AbortTask(AbortHandle);

impl Drop for AbortTask {
    fn drop(&mut self) {
        self.0.abort();
    }
}
