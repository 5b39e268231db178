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
use std::time::Duration;

use apalis_core::error::BoxDynError;
use slipway_core::domain::DeploymentId;
use slipway_core::jobs::{InProcessJobs, JobQueue, QueueError, RedisQueue, RolloutJob};

mod in_process;
mod redis;
pub mod trace;

use in_process::consume_in_process;
use redis::consume_redis;

/// Idle Redis consumers look for work this often (one small Lua script per look).
/// 5 ms keeps median pickup under 5 ms (see `benches/queue_pickup.rs`).
pub const DEFAULT_POLL_INTERVAL: Duration = Duration::from_millis(5);
/// Longest wait between retries of a job.
const MAX_RETRY_BACKOFF: Duration = Duration::from_secs(60);

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

fn log_failure(
    deployment: &DeploymentId,
    failed: &JobFailed,
    attempt: usize,
    max_attempts: usize,
    give_up: bool,
) {
    if give_up {
        tracing::error!(%deployment, error = %failed, attempt, max_attempts,
            permanent = failed.is_permanent(), "rollout job failed; giving up");
    } else {
        tracing::warn!(%deployment, error = %failed, attempt, max_attempts,
            "rollout job failed; will retry");
    }
}
