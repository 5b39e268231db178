//! The consuming side of the job queue: [`consume_rollouts`] runs
//! [`RolloutJob`]s from Redis (apalis) or from the in-process channel until its
//! shutdown future resolves.
//!
//! Both backends keep one handler contract:
//! - at most `concurrency` handlers run at once (a rollout runs for minutes);
//! - a job's handler is called at most `max_attempts` times, with doubling
//!   backoff between calls; [`JobFailed::permanent`] stops at once;
//! - each call is cut off after `job_timeout`;
//! - a panic is caught, logged and not retried; the consumer carries on;
//! - failures are logged with `tracing`.
//!
//! Delivery is at least once (a job runs again after a crash), so handlers are
//! idempotent. On Redis a job a worker was running when it died stays in that
//! worker's in-flight set until another worker sees `missed_heartbeats` missed
//! heartbeats, then goes back to the queue.

use std::error::Error as StdError;
use std::fmt;
use std::future::Future;
use std::panic::AssertUnwindSafe;
use std::sync::{Arc, Mutex, PoisonError};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use apalis::layers::limit::GlobalConcurrencyLimitLayer;
use apalis::layers::retry::backoff::{ExponentialBackoffMaker, MakeBackoff};
use apalis::layers::retry::{HasherRng, RetryPolicy};
use apalis::layers::tracing::{DefaultOnFailure, TraceLayer};
use apalis::layers::WorkerBuilderExt;
use apalis_core::backend::ext::poll_strategy::{PollSnapshot, PollStrategy};
use apalis_core::backend::ext::BackendExt;
use apalis_core::error::{AbortError, BoxDynError};
use apalis_core::monitor::Monitor;
use apalis_core::task::attempt::Attempt;
use apalis_core::worker::builder::WorkerBuilder;
use apalis_core::worker::context::WorkerContext;
use apalis_core::worker::event::Event;
use apalis_core::worker::ext::parallelize::ParallelizeExt;
use apalis_redis::RedisStorage;
use futures_util::FutureExt;
use slipway_core::jobs::{InProcessJobs, JobQueue, QueueError, RedisQueue, RolloutJob};
use tokio::sync::Semaphore;
use tokio::task::{AbortHandle, JoinHandle, JoinSet};
use tracing::Instrument;

/// Idle Redis consumers look for work this often (one small Lua script per look).
/// 5 ms keeps median pickup under 5 ms (see `benches/queue_pickup.rs`).
pub const DEFAULT_POLL_INTERVAL: Duration = Duration::from_millis(5);
/// Longest wait between retries of a job.
const MAX_RETRY_BACKOFF: Duration = Duration::from_secs(60);
/// Restart delays after a Redis worker stopped on its own (Redis unreachable).
const MIN_RESTART_DELAY: Duration = Duration::from_millis(500);
const MAX_RESTART_DELAY: Duration = Duration::from_secs(30);

/// How a consumer runs jobs. [`ConsumerConfig::new`] gives production defaults.
#[derive(Clone, Debug)]
pub struct ConsumerConfig {
    /// Handlers running at once in this process.
    pub concurrency: usize,
    /// Unique per process instance: Redis refuses a name it saw alive within
    /// the orphan timeout. See [`ConsumerConfig::unique_worker_name`].
    pub worker_name: String,
    /// How often an idle Redis consumer looks for work.
    pub poll_interval: Duration,
    /// Bound on one handler call; a safety net above the rollout's own deadline.
    pub job_timeout: Duration,
    /// Handler calls per job, the first included (the Redis backend itself
    /// would reschedule a failed job up to 25 times).
    pub max_attempts: usize,
    /// Wait before the first retry; doubles each time, up to a minute.
    pub retry_backoff: Duration,
    /// Redis liveness heartbeat, in whole seconds (apalis stores seconds).
    pub heartbeat_interval: Duration,
    /// Heartbeats a Redis worker may miss before its jobs go to other workers.
    pub missed_heartbeats: usize,
    /// How long shutdown waits for running handlers before abandoning them.
    pub shutdown_grace: Duration,
}

impl ConsumerConfig {
    /// Defaults: 4 at once, 3 attempts 1 s apart then 2 s, 30 min timeout,
    /// 1 s heartbeat with 5 misses allowed (orphans back in about 5 s).
    pub fn new(worker_name: impl Into<String>) -> Self {
        Self {
            concurrency: 4,
            worker_name: worker_name.into(),
            poll_interval: DEFAULT_POLL_INTERVAL,
            job_timeout: Duration::from_secs(30 * 60),
            max_attempts: 3,
            retry_backoff: Duration::from_secs(1),
            heartbeat_interval: Duration::from_secs(1),
            missed_heartbeats: 5,
            shutdown_grace: Duration::from_secs(30),
        }
    }

    /// `<prefix>-<pid>-<start time>`: unique per process instance, even for
    /// containers that all run as pid 1.
    pub fn unique_worker_name(prefix: &str) -> String {
        let started = chrono::Utc::now().timestamp_micros();
        format!("{prefix}-{}-{started:x}", std::process::id())
    }

    /// After this long without a heartbeat a Redis worker's jobs are re-queued.
    pub fn orphan_timeout(&self) -> Duration {
        self.heartbeat_interval * self.missed_heartbeats as u32
    }

    fn validate(&self) -> Result<(), QueueError> {
        let problem = if self.concurrency == 0 {
            "concurrency must be at least 1"
        } else if self.max_attempts == 0 {
            "max_attempts must be at least 1"
        } else if self.worker_name.is_empty() || self.worker_name.contains(char::is_whitespace) {
            "worker_name must be non-empty, without spaces"
        } else if self.poll_interval.is_zero()
            || self.job_timeout.is_zero()
            || self.retry_backoff.is_zero()
        {
            "poll_interval, job_timeout and retry_backoff must be positive"
        } else if self.heartbeat_interval < Duration::from_secs(1) || self.missed_heartbeats < 2 {
            "heartbeat_interval must be at least 1 s and missed_heartbeats at least 2"
        } else {
            return Ok(());
        };
        Err(QueueError::InvalidConfig(problem.to_owned()))
    }

    fn backoff(&self, failed_attempt: usize) -> Duration {
        let doublings = failed_attempt.saturating_sub(1).min(16) as u32;
        (self.retry_backoff * 2u32.pow(doublings)).min(self.max_backoff())
    }

    fn max_backoff(&self) -> Duration {
        MAX_RETRY_BACKOFF.max(self.retry_backoff)
    }
}

/// A handler's failure: retried unless [`JobFailed::permanent`].
#[derive(Debug)]
pub struct JobFailed {
    error: BoxDynError,
    permanent: bool,
}

impl JobFailed {
    /// A failure worth another attempt (database down, runtime unreachable).
    pub fn retry(error: impl Into<BoxDynError>) -> Self {
        Self {
            error: error.into(),
            permanent: false,
        }
    }

    /// A failure no retry can fix (the deployment row is gone): stop now.
    pub fn permanent(error: impl Into<BoxDynError>) -> Self {
        Self {
            error: error.into(),
            permanent: true,
        }
    }

    /// Whether retrying is pointless.
    pub fn is_permanent(&self) -> bool {
        self.permanent
    }
}

impl fmt::Display for JobFailed {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.error.fmt(f)
    }
}

impl StdError for JobFailed {
    fn source(&self) -> Option<&(dyn StdError + 'static)> {
        self.error.source()
    }
}

/// Where a consumer takes jobs from.
#[derive(Debug)]
pub enum JobSource {
    /// The Redis queue of a [`JobQueue::redis`] (separate API and worker processes).
    Redis(RedisQueue),
    /// The receiving end of a [`JobQueue::in_process`] (`slipway dev`).
    InProcess(InProcessJobs),
}

impl JobSource {
    /// The Redis queue behind `queue`; `None` for an in-process queue, whose
    /// jobs come from the [`InProcessJobs`] returned with it.
    pub fn from_queue(queue: &JobQueue) -> Option<Self> {
        queue.as_redis().cloned().map(Self::Redis)
    }
}

impl From<InProcessJobs> for JobSource {
    fn from(jobs: InProcessJobs) -> Self {
        Self::InProcess(jobs)
    }
}

/// Runs `handler` on every rollout job from `source` until `shutdown`
/// resolves, then waits up to `shutdown_grace` for running handlers.
///
/// On Redis a worker that stops on its own (Redis unreachable) is restarted
/// under a new name after a backoff; this returns `Err` only for a bad config.
pub async fn consume_rollouts<F, Fut>(
    source: JobSource,
    config: ConsumerConfig,
    handler: F,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<(), QueueError>
where
    F: Fn(RolloutJob) -> Fut + Clone + Send + Sync + 'static,
    Fut: Future<Output = Result<(), JobFailed>> + Send + 'static,
{
    config.validate()?;
    match source {
        JobSource::Redis(queue) => consume_redis(queue, config, handler, shutdown).await,
        JobSource::InProcess(jobs) => consume_in_process(jobs, config, handler, shutdown).await,
    }
}

async fn consume_redis<F, Fut>(
    queue: RedisQueue,
    config: ConsumerConfig,
    handler: F,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<(), QueueError>
where
    F: Fn(RolloutJob) -> Fut + Clone + Send + Sync + 'static,
    Fut: Future<Output = Result<(), JobFailed>> + Send + 'static,
{
    let shutdown = shutdown.boxed().shared();
    // Shared across restarts, and held inside the spawned handler tasks, so a
    // restart never runs more than `concurrency` handlers.
    let limit = Arc::new(Semaphore::new(config.concurrency));
    let handlers = Handlers::default();
    let _abort_on_exit = AbortOnDrop(handlers.clone());
    let runner = Arc::new(Runner {
        handler,
        max_attempts: config.max_attempts,
    });
    let apalis_config = queue
        .config()
        .clone()
        // Claim a job only when a handler slot is free, leaving the rest to idle workers.
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
            let (limit, handlers, runner, name) = (
                limit.clone(),
                handlers.clone(),
                runner.clone(),
                name.clone(),
            );
            move |_restarts: usize| {
                let storage = RedisStorage::<serde_json::Value>::new(queue.connection())
                    .with_config(apalis_config.clone())
                    .poll_with_strategy(PollEvery::new(config.poll_interval));
                let retry = RetryPolicy::retries(config.max_attempts - 1)
                    .with_backoff(
                        ExponentialBackoffMaker::new(
                            config.retry_backoff,
                            config.max_backoff(),
                            0.1,
                            HasherRng::default(),
                        )
                        .expect("validated: 0 < min <= max")
                        .make_backoff(),
                    )
                    .retry_if(should_retry);
                let runner = runner.clone();
                // Layer order as apalis expects: retry, catch_panic, timeout, tracing.
                // Handlers run as their own tasks (parallelize) so a worker restart
                // does not cancel a rollout halfway through a step.
                WorkerBuilder::new(name.as_str())
                    .backend(storage)
                    .parallelize(spawner(handlers.clone()))
                    .layer(GlobalConcurrencyLimitLayer::with_semaphore(limit.clone()))
                    .retry(retry)
                    .catch_panic()
                    .timeout(config.job_timeout)
                    .layer(
                        TraceLayer::new()
                            .on_failure(DefaultOnFailure::new().level(tracing::Level::DEBUG)),
                    )
                    .build(move |payload: serde_json::Value, attempt: Attempt| {
                        let runner = runner.clone();
                        async move { runner.run_payload(payload, attempt.current()).await }
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
                    "rollout job worker stopped; restarting it under a new name");
                tokio::select! {
                    () = tokio::time::sleep(restart_delay) => {}
                    () = shutdown.clone() => break,
                }
                restart_delay = (restart_delay * 2).min(MAX_RESTART_DELAY);
            }
            () = shutdown.clone() => {
                tracing::info!(worker = %name, "rollout job worker shutting down");
                let _ = monitor_ctx.shutdown();
                if tokio::time::timeout(config.shutdown_grace, &mut run).await.is_err() {
                    // Dropping the worker first sends no result for the abandoned jobs:
                    // they stay in this worker's in-flight set and come back once its
                    // heartbeat is missed.
                    drop(run);
                    tracing::warn!(abandoned = handlers.abort_all(),
                        "shutdown grace elapsed; abandoning running rollout jobs");
                }
                break;
            }
        }
    }
    Ok(())
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

/// Calls the handler for one delivery and turns its outcome into what the
/// apalis layers act on: `AbortError` stops retries (and the Redis backend's
/// own rescheduling), any other error is retried.
struct Runner<F> {
    handler: F,
    max_attempts: usize,
}

impl<F, Fut> Runner<F>
where
    F: Fn(RolloutJob) -> Fut,
    Fut: Future<Output = Result<(), JobFailed>>,
{
    async fn run_payload(
        &self,
        payload: serde_json::Value,
        attempt: usize,
    ) -> Result<(), BoxDynError> {
        // Decoding here rather than in apalis: a payload that does not decode
        // would otherwise stop the worker and come back forever.
        let job: RolloutJob = match serde_json::from_value(payload) {
            Ok(job) => job,
            Err(e) => {
                tracing::error!(error = %e, "dropping a rollout job that does not decode");
                return Err(AbortError::new(Reported(JobFailed::permanent(e))).into());
            }
        };
        let span = tracing::info_span!("rollout_job", deployment = %job.deployment, attempt);
        let Err(failed) = (self.handler)(job).instrument(span.clone()).await else {
            return Ok(());
        };
        let give_up = failed.is_permanent() || attempt >= self.max_attempts;
        span.in_scope(|| log_failure(&failed, attempt, self.max_attempts, give_up));
        let reported = Reported(failed);
        Err(if give_up {
            AbortError::new(reported).into()
        } else {
            Box::new(reported)
        })
    }
}

/// A handler failure the runner has already logged.
#[derive(Debug)]
struct Reported(JobFailed);

impl fmt::Display for Reported {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

impl StdError for Reported {
    fn source(&self) -> Option<&(dyn StdError + 'static)> {
        self.0.source()
    }
}

fn is_reported(error: &(dyn StdError + 'static)) -> bool {
    std::iter::successors(Some(error), |e| (*e).source()).any(|e| e.is::<Reported>())
}

/// Retry policy predicate: never after an abort (attempt limit, permanent
/// failure, panic); log failures the handler could not report (timeouts).
fn should_retry(error: &BoxDynError) -> bool {
    if error.is::<AbortError>() {
        return false;
    }
    if !is_reported(error.as_ref()) {
        tracing::warn!(%error, "rollout job attempt failed");
    }
    true
}

/// Monitor event hook: the final failure of a job that the runner did not log
/// (a panic, the last timeout).
fn log_final_failure(worker: &WorkerContext, event: &Event) {
    if let Event::Error(error) = event {
        let error: &(dyn StdError + 'static) = error.as_ref().as_ref();
        if !is_reported(error) {
            tracing::error!(worker = worker.name(), %error, "rollout job failed; not retrying");
        }
    }
}

fn log_failure(failed: &JobFailed, attempt: usize, max_attempts: usize, give_up: bool) {
    if give_up {
        tracing::error!(error = %failed, attempt, max_attempts, permanent = failed.is_permanent(),
            "rollout job failed; giving up");
    } else {
        tracing::warn!(error = %failed, attempt, max_attempts, "rollout job failed; will retry");
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

async fn consume_in_process<F, Fut>(
    mut jobs: InProcessJobs,
    config: ConsumerConfig,
    handler: F,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<(), QueueError>
where
    F: Fn(RolloutJob) -> Fut + Clone + Send + Sync + 'static,
    Fut: Future<Output = Result<(), JobFailed>> + Send + 'static,
{
    let limit = Arc::new(Semaphore::new(config.concurrency));
    // Dropping the set aborts whatever still runs.
    let mut running = JoinSet::new();
    let mut shutdown = std::pin::pin!(shutdown);
    loop {
        while let Some(done) = running.try_join_next() {
            log_join(done);
        }
        let permit = tokio::select! {
            biased;
            () = &mut shutdown => break,
            permit = limit.clone().acquire_owned() => permit.expect("the semaphore is never closed"),
        };
        let job = tokio::select! {
            biased;
            () = &mut shutdown => break,
            job = jobs.recv() => match job {
                Some(job) => job,
                None => {
                    tracing::info!("every in-process job queue handle is gone; consumer stopping");
                    break;
                }
            },
        };
        let (handler, config) = (handler.clone(), config.clone());
        running.spawn(async move {
            let _permit = permit;
            run_in_process(job, &handler, &config).await;
        });
    }
    let drain = async {
        while let Some(done) = running.join_next().await {
            log_join(done);
        }
    };
    if tokio::time::timeout(config.shutdown_grace, drain)
        .await
        .is_err()
    {
        tracing::warn!(
            abandoned = running.len(),
            "shutdown grace elapsed; abandoning running rollout jobs"
        );
        running.abort_all();
    }
    Ok(())
}

/// The in-process twin of the apalis layers: attempts, backoff, timeout, panics.
async fn run_in_process<F, Fut>(job: RolloutJob, handler: &F, config: &ConsumerConfig)
where
    F: Fn(RolloutJob) -> Fut,
    Fut: Future<Output = Result<(), JobFailed>>,
{
    for attempt in 1..=config.max_attempts {
        let span = tracing::info_span!("rollout_job", deployment = %job.deployment, attempt);
        let call = AssertUnwindSafe(tokio::time::timeout(config.job_timeout, async {
            handler(job.clone()).await
        }))
        .catch_unwind();
        let failed = match call.instrument(span.clone()).await {
            Ok(Ok(Ok(()))) => return,
            Ok(Ok(Err(failed))) => failed,
            Ok(Err(_elapsed)) => {
                JobFailed::retry(format!("timed out after {:?}", config.job_timeout))
            }
            Err(panic) => {
                let panic = panic_message(panic.as_ref());
                span.in_scope(
                    || tracing::error!(%panic, "rollout job handler panicked; not retrying"),
                );
                return;
            }
        };
        let give_up = failed.is_permanent() || attempt >= config.max_attempts;
        span.in_scope(|| log_failure(&failed, attempt, config.max_attempts, give_up));
        if give_up {
            return;
        }
        tokio::time::sleep(config.backoff(attempt)).await;
    }
}

fn panic_message(panic: &(dyn std::any::Any + Send)) -> &str {
    panic
        .downcast_ref::<&str>()
        .copied()
        .or_else(|| panic.downcast_ref::<String>().map(String::as_str))
        .unwrap_or("unknown panic")
}

fn log_join(result: Result<(), tokio::task::JoinError>) {
    if let Err(e) = result {
        if !e.is_cancelled() {
            tracing::error!(error = %e, "rollout job task failed");
        }
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
