//! [`ConsumerConfig`]: how a consumer runs jobs, on either backend.

use std::time::Duration;

use crate::error::QueueError;

/// Redis consumers look for work when told a job was pushed, and at least
/// this often (one small Lua script per look): the fallback for notifications
/// lost while reconnecting and for retries coming due.
const DEFAULT_POLL_INTERVAL: Duration = Duration::from_millis(100);
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
    /// How often a Redis consumer looks for work without being told of a job.
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

    pub(crate) fn validate(&self) -> Result<(), QueueError> {
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

    /// The wait after failed attempt `failed_attempt` (1-based): doubling
    /// from `retry_backoff`, capped at a minute (or `retry_backoff` if longer).
    pub(crate) fn backoff(&self, failed_attempt: usize) -> Duration {
        let doublings = failed_attempt.saturating_sub(1).min(16) as u32;
        (self.retry_backoff * 2u32.pow(doublings)).min(MAX_RETRY_BACKOFF.max(self.retry_backoff))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_up_to_a_minute() {
        let config = ConsumerConfig::new("test");
        let waits: Vec<_> = [1, 2, 3, 7, 8, 40]
            .map(|n| config.backoff(n).as_secs())
            .into();
        assert_eq!(waits, vec![1, 2, 4, 60, 60, 60]);
    }
}
