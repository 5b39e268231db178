//! The consuming side of the job queue: [`consume`] runs jobs from Redis
//! (apalis) or from the in-process channel until its shutdown future resolves.
//!
//! Both backends keep one handler contract, the rules of `attempts.rs`, and:
//! - at most `concurrency` handlers run at once (a rollout runs for minutes);
//! - a handler still running at shutdown gets `shutdown_grace` to finish.
//!
//! Delivery is at least once (a job runs again after a crash), so handlers are
//! idempotent. On Redis a job a worker was running when it died stays in that
//! worker's in-flight set until another worker sees `missed_heartbeats` missed
//! heartbeats, then goes back to the queue.

use std::future::Future;

use slipway_core::domain::RolloutJob;

use crate::attempts::JobFailed;
use crate::config::ConsumerConfig;
use crate::error::QueueError;
use crate::job::Job;
use crate::producer::{InProcessJobs, JobQueue, RedisQueue};

mod fetch;
mod in_process;
mod redis;
mod wake;

/// Where a consumer takes `J`s (rollouts unless named otherwise) from.
#[derive(Debug)]
pub enum JobSource<J: Job = RolloutJob> {
    /// The Redis queue of a [`JobQueue::redis`] (separate API and worker processes).
    Redis(RedisQueue),
    /// The receiving end of a [`JobQueue::in_process`] (`slipway dev`).
    InProcess(InProcessJobs<J>),
}

impl<J: Job> JobSource<J> {
    /// The Redis queue behind `queue`; `None` for an in-process queue, whose
    /// jobs come from the [`InProcessJobs`] returned with it.
    pub fn from_queue(queue: &JobQueue<J>) -> Option<Self> {
        queue.as_redis().cloned().map(Self::Redis)
    }
}

impl<J: Job> From<InProcessJobs<J>> for JobSource<J> {
    fn from(jobs: InProcessJobs<J>) -> Self {
        Self::InProcess(jobs)
    }
}

/// Runs `handler` on every job from `source` until `shutdown` resolves, then
/// waits up to `shutdown_grace` for running handlers.
///
/// On Redis a worker that stops on its own (Redis unreachable) is restarted
/// under a new name after a backoff; this returns `Err` only for a bad config.
pub async fn consume<J, F, Fut>(
    source: JobSource<J>,
    config: ConsumerConfig,
    handler: F,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<(), QueueError>
where
    J: Job,
    F: Fn(J) -> Fut + Clone + Send + Sync + 'static,
    Fut: Future<Output = Result<(), JobFailed>> + Send + 'static,
{
    config.validate()?;
    match source {
        JobSource::Redis(queue) => redis::consume(queue, config, handler, shutdown).await,
        JobSource::InProcess(jobs) => in_process::consume(jobs, config, handler, shutdown).await,
    }
}
