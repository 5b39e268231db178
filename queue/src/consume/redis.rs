//! The Redis consumer: apalis workers that deliver each job once to
//! [`run_attempts`], the always re-armed poll timer, and the restart of a
//! worker that stopped.

use std::error::Error as StdError;
use std::future::Future;
use std::sync::{Arc, Mutex, PoisonError};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use apalis::layers::limit::GlobalConcurrencyLimitLayer;
use apalis::layers::tracing::{DefaultOnFailure, TraceLayer};
use apalis_core::backend::ext::poll_strategy::{PollSnapshot, PollStrategy};
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
    let handlers = Handlers::default();
    let _abort_on_exit = AbortOnDrop(handlers.clone());
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
            let (limit, handlers, handler, name) = (
                limit.clone(),
                handlers.clone(),
                handler.clone(),
                name.clone(),
            );
            move |_restarts: usize| {
                let connection =
                    SlotSizedFetch::new(queue.connection(), limit.clone(), &apalis_config);
                let storage = RedisStorage::<serde_json::Value, _>::new(connection)
                    .with_config(apalis_config.clone())
                    .poll_with_strategy(PollEvery::new(config.poll_interval));
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

/// `poll_with_interval` without its lost wake-up: apalis's `IntervalStrategy`
/// replaces an elapsed timer with one it never polls, so when the fetch that
/// follows comes back empty nothing wakes the worker until its next heartbeat
/// (up to a second; seen under CPU load). This timer is always re-armed.
struct PollEvery(tokio::time::Interval);

impl PollEvery {
    fn new(period: Duration) -> Self {
        let mut interval = tokio::time::interval(period);
        interval.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        Self(interval)
    }
}

impl PollStrategy for PollEvery {
    fn poll_drive(&mut self, cx: &mut Context<'_>, _: &PollSnapshot) -> Poll<Option<()>> {
        let mut ticked = false;
        // Tick until Pending, so the waker is registered for the next tick.
        while self.0.poll_tick(cx).is_ready() {
            ticked = true;
        }
        if ticked {
            Poll::Ready(Some(()))
        } else {
            Poll::Pending
        }
    }
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

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::task::{Wake, Waker};

    struct CountWakes(AtomicUsize);

    impl Wake for CountWakes {
        fn wake(self: Arc<Self>) {
            self.0.fetch_add(1, Ordering::SeqCst);
        }
    }

    /// After a tick the strategy must already be armed for the next one, even
    /// if the worker does not poll it again (it parks once a fetch comes back empty).
    #[tokio::test]
    async fn poll_every_wakes_the_worker_again_after_a_tick() {
        let wakes = Arc::new(CountWakes(AtomicUsize::new(0)));
        let waker = Waker::from(wakes.clone());
        let mut cx = Context::from_waker(&waker);
        let mut strategy = PollEvery::new(Duration::from_millis(5));
        tokio::time::sleep(Duration::from_millis(10)).await;
        assert!(strategy
            .poll_drive(&mut cx, &PollSnapshot::new())
            .is_ready());
        tokio::time::sleep(Duration::from_millis(30)).await;
        assert!(
            wakes.0.load(Ordering::SeqCst) >= 1,
            "no wake-up after the tick"
        );
    }
}
