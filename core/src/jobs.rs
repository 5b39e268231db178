//! Queue payloads and the enqueue side of the job queue.
//!
//! The database is the source of truth: a job carries an id and trace context
//! and only wakes a worker. Delivery is at least once; handlers are idempotent
//! (a lease in the deployment row lets one worker drive it) and the reconciler
//! re-enqueues lost work.
//!
//! [`JobQueue`] has two backends:
//! - Redis through apalis-redis, for `slipway server api|worker`: the queue is
//!   named `<namespace>:rollouts` explicitly (apalis would default to the Rust
//!   type name, so renaming the type would move the queue);
//! - in process, a tokio channel, for `slipway dev`.
//!
//! The consuming side lives in `slipway_worker::queue`.

use std::fmt;

use apalis_core::backend::TaskSink;
use apalis_redis::{Client, Config, ConnectionManager, RedisStorage};
use serde::{Deserialize, Serialize};
use tokio::sync::mpsc;

use crate::domain::DeploymentId;

/// The rollout queue's name after the namespace.
const ROLLOUTS: &str = "rollouts";
/// Longest accepted namespace; keys stay short and readable.
const MAX_NAMESPACE_LEN: usize = 64;

/// "Drive deployment `deployment`": the only rollout job there is.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RolloutJob {
    /// The deployment to drive; its row holds everything else.
    pub deployment: DeploymentId,
    /// W3C `traceparent` of the request that enqueued the job, if any.
    #[serde(default)]
    pub traceparent: Option<String>,
    /// Wall-clock enqueue time (µs since the Unix epoch), for pickup latency.
    #[serde(default)]
    pub enqueued_at_micros: i64,
}

impl RolloutJob {
    /// A job for `deployment`, stamped with the current time.
    pub fn new(deployment: DeploymentId, traceparent: Option<String>) -> Self {
        Self {
            deployment,
            traceparent,
            enqueued_at_micros: chrono::Utc::now().timestamp_micros(),
        }
    }
}

/// Why a queue operation failed. Messages never include the Redis URL (it may
/// carry a password), and carry the cause as text so no error chain can either.
#[derive(Debug, thiserror::Error)]
pub enum QueueError {
    /// The key prefix is empty, too long, or has characters Redis keys should not.
    #[error("invalid queue namespace {0:?}: use 1 to 64 characters from A-Z a-z 0-9 _ - . :")]
    InvalidNamespace(String),
    /// The URL did not parse as a Redis URL.
    #[error("invalid Redis URL: {0}")]
    InvalidUrl(String),
    /// Redis did not answer (or refused the credentials) when connecting.
    #[error("cannot connect to Redis: {0}")]
    Connect(String),
    /// A command failed after connecting (Redis down, timeout, script error).
    #[error("Redis queue operation failed: {0}")]
    Redis(String),
    /// The in-process consumer is gone, so nothing would ever run the job.
    #[error("the in-process job queue is closed: its consumer has stopped")]
    Closed,
    /// A consumer was configured with values it cannot run with.
    #[error("invalid job consumer configuration: {0}")]
    InvalidConfig(String),
}

/// The producer side of the job queue; cheap to clone, `Send + Sync`.
#[derive(Clone)]
pub struct JobQueue {
    backend: Backend,
}

#[derive(Clone)]
enum Backend {
    Redis(RedisQueue),
    InProcess(mpsc::UnboundedSender<RolloutJob>, Waiting),
}

impl JobQueue {
    /// An in-process queue and its receiving end, to hand to the worker.
    /// Jobs still in the channel when the process stops are lost; the
    /// reconciler finds their deployments again.
    pub fn in_process() -> (JobQueue, InProcessJobs) {
        let (sender, receiver) = mpsc::unbounded_channel();
        let waiting = Waiting::default();
        let queue = JobQueue {
            backend: Backend::InProcess(sender, waiting.clone()),
        };
        (queue, InProcessJobs { receiver, waiting })
    }

    /// Connects to Redis at `url`; keys start with `namespace` (`slipway` in
    /// production, a random one per test). Fails if Redis is unreachable.
    pub async fn redis(url: &str, namespace: &str) -> Result<JobQueue, QueueError> {
        if !is_valid_namespace(namespace) {
            return Err(QueueError::InvalidNamespace(namespace.to_owned()));
        }
        let client = Client::open(url).map_err(|e| QueueError::InvalidUrl(redact(&e, url)))?;
        // The manager reconnects by itself after Redis restarts; its defaults
        // bound connecting (1 s) and each response (500 ms).
        let connection = client
            .get_connection_manager()
            .await
            .map_err(|e| QueueError::Connect(redact(&e, url)))?;
        let config = Config::default().queue(format!("{namespace}:{ROLLOUTS}"));
        Ok(JobQueue {
            backend: Backend::Redis(RedisQueue { connection, config }),
        })
    }

    /// Adds `job` to the queue. Returns once Redis has stored it (or the
    /// channel has taken it).
    #[tracing::instrument(skip_all, fields(deployment = %job.deployment))]
    pub async fn enqueue(&self, job: RolloutJob) -> Result<(), QueueError> {
        match &self.backend {
            Backend::Redis(queue) => {
                // A fresh storage per call: the sink buffers internally, so
                // sharing one would need a lock and could strand a half-sent job.
                let mut storage: RedisStorage<RolloutJob> =
                    RedisStorage::new(queue.connection()).with_config(queue.config.clone());
                storage
                    .push(job)
                    .await
                    .map_err(|e| QueueError::Redis(e.to_string()))?;
            }
            Backend::InProcess(sender, waiting) => {
                if !waiting.insert(&job.deployment) {
                    tracing::debug!("rollout job already waiting in the queue");
                    return Ok(());
                }
                if sender.send(job.clone()).is_err() {
                    waiting.remove(&job.deployment);
                    return Err(QueueError::Closed);
                }
            }
        }
        tracing::debug!("rollout job enqueued");
        Ok(())
    }

    /// The Redis queue behind this handle, for building a consumer over the same
    /// connection and queue; `None` for an in-process queue, whose consumer
    /// takes the [`InProcessJobs`] returned with it.
    pub fn as_redis(&self) -> Option<&RedisQueue> {
        match &self.backend {
            Backend::Redis(queue) => Some(queue),
            Backend::InProcess(..) => None,
        }
    }
}

impl fmt::Debug for JobQueue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.backend {
            Backend::Redis(queue) => f.debug_tuple("JobQueue::Redis").field(queue).finish(),
            Backend::InProcess(..) => f.write_str("JobQueue::InProcess"),
        }
    }
}

/// A Redis connection and the apalis configuration of the rollout queue.
#[derive(Clone)]
pub struct RedisQueue {
    connection: ConnectionManager,
    config: Config,
}

impl RedisQueue {
    /// `<namespace>:rollouts`, the prefix of every key of this queue.
    pub fn name(&self) -> &str {
        self.config.queue.as_ref()
    }

    /// The shared, self-reconnecting connection (a clone is cheap).
    pub fn connection(&self) -> ConnectionManager {
        self.connection.clone()
    }

    /// The queue's apalis configuration; consumers adjust heartbeats and batch size.
    pub fn config(&self) -> &Config {
        &self.config
    }
}

impl fmt::Debug for RedisQueue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RedisQueue")
            .field("name", &self.name())
            .finish_non_exhaustive()
    }
}

/// The receiving end of an in-process queue.
pub struct InProcessJobs {
    receiver: mpsc::UnboundedReceiver<RolloutJob>,
    waiting: Waiting,
}

/// The deployments whose job waits in an in-process queue: a deployment
/// queued again while its job still waits (behind others, for a free slot)
/// is not queued twice.
#[derive(Clone, Default)]
struct Waiting(std::sync::Arc<std::sync::Mutex<std::collections::HashSet<DeploymentId>>>);

impl Waiting {
    fn set(&self) -> std::sync::MutexGuard<'_, std::collections::HashSet<DeploymentId>> {
        // One insert or remove per holder: consistent even after a panic.
        self.0
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// `false` when it was waiting already.
    fn insert(&self, id: &DeploymentId) -> bool {
        self.set().insert(id.clone())
    }

    fn remove(&self, id: &DeploymentId) {
        self.set().remove(id);
    }
}

impl InProcessJobs {
    /// The next job; `None` once every [`JobQueue`] clone is dropped and the
    /// channel is empty.
    pub async fn recv(&mut self) -> Option<RolloutJob> {
        let job = self.receiver.recv().await?;
        self.waiting.remove(&job.deployment);
        Some(job)
    }
}

impl fmt::Debug for InProcessJobs {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("InProcessJobs")
            .field("queued", &self.receiver.len())
            .finish()
    }
}

fn is_valid_namespace(namespace: &str) -> bool {
    !namespace.is_empty()
        && namespace.len() <= MAX_NAMESPACE_LEN
        && namespace
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'.' | b':'))
}

/// `error` as text, with the URL and its password blanked out should the
/// Redis client ever echo them.
fn redact(error: &dyn fmt::Display, url: &str) -> String {
    let mut text = error.to_string();
    if !url.is_empty() {
        text = text.replace(url, "[redis url]");
    }
    if let Some(password) = url_password(url) {
        text = text.replace(password, "[redacted]");
    }
    text
}

/// The password in `scheme://user:password@host/...`, if there is one.
fn url_password(url: &str) -> Option<&str> {
    let rest = url.split_once("://")?.1;
    let authority = rest.split(['/', '?', '#']).next()?;
    let userinfo = authority.rsplit_once('@')?.0;
    let password = userinfo.split_once(':')?.1;
    (!password.is_empty()).then_some(password)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_rollout_job_serializes_its_deployment_as_a_plain_string() {
        let job = RolloutJob::new(
            DeploymentId::parse("DABCDEFGHIJ").expect("id"),
            Some("00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01".into()),
        );
        let json = serde_json::to_value(&job).expect("serialize");
        assert_eq!(json["deployment"], "DABCDEFGHIJ");
        assert!(job.enqueued_at_micros > 0);
        let back: RolloutJob = serde_json::from_value(json).expect("deserialize");
        assert_eq!(back, job);
    }

    #[test]
    fn a_rollout_job_rejects_a_malformed_deployment_id() {
        let json = serde_json::json!({ "deployment": "RABCDEFGHIJ", "enqueued_at_micros": 1 });
        assert!(serde_json::from_value::<RolloutJob>(json).is_err());
    }

    #[test]
    fn namespaces_are_short_and_plain() {
        assert!(is_valid_namespace("slipway"));
        assert!(is_valid_namespace("slipway-test-abc123:x"));
        for bad in ["", "has space", "brace{tag}", "star*", &"x".repeat(65)] {
            assert!(!is_valid_namespace(bad), "{bad}");
        }
    }

    #[test]
    fn redaction_removes_the_url_and_its_password() {
        let url = "redis://user:hunter2@redis.internal:6379/0";
        assert_eq!(url_password(url), Some("hunter2"));
        assert_eq!(url_password("redis://:p%40ss@host"), Some("p%40ss"));
        assert_eq!(url_password("redis://host:6379"), None);
        assert_eq!(url_password("redis://user@host"), None);
        let message = format!("failed for {url}; auth hunter2 refused");
        let clean = redact(&message, url);
        assert!(!clean.contains("hunter2"), "{clean}");
        assert_eq!(clean, "failed for [redis url]; auth [redacted] refused");
    }

    #[tokio::test]
    async fn an_in_process_queue_delivers_in_order_and_reports_a_closed_consumer() {
        let (queue, mut jobs) = JobQueue::in_process();
        assert!(queue.as_redis().is_none());
        let first = RolloutJob::new(DeploymentId::generate(), None);
        let second = RolloutJob::new(DeploymentId::generate(), None);
        queue.enqueue(first.clone()).await.expect("enqueue");
        queue.enqueue(second.clone()).await.expect("enqueue");
        assert_eq!(jobs.recv().await, Some(first));
        assert_eq!(jobs.recv().await, Some(second));
        drop(jobs);
        let err = queue
            .enqueue(RolloutJob::new(DeploymentId::generate(), None))
            .await
            .expect_err("closed");
        assert!(matches!(err, QueueError::Closed), "{err}");
    }

    #[tokio::test]
    async fn an_in_process_queue_holds_one_waiting_job_per_deployment() {
        let (queue, mut jobs) = JobQueue::in_process();
        let id = DeploymentId::generate();
        let first = RolloutJob::new(id.clone(), None);
        queue.enqueue(first.clone()).await.expect("enqueue");
        queue
            .enqueue(RolloutJob::new(id.clone(), None))
            .await
            .expect("a second enqueue is a no-op, not an error");
        let other = RolloutJob::new(DeploymentId::generate(), None);
        queue.enqueue(other.clone()).await.expect("enqueue");
        assert_eq!(jobs.recv().await, Some(first));
        assert_eq!(jobs.recv().await, Some(other));
        // Taken: queued again, it waits again.
        let again = RolloutJob::new(id, None);
        queue.enqueue(again.clone()).await.expect("enqueue");
        assert_eq!(jobs.recv().await, Some(again));
        assert!(jobs.receiver.is_empty());
    }

    #[tokio::test]
    async fn a_bad_namespace_or_url_is_rejected_without_echoing_the_url() {
        let err = JobQueue::redis("redis://127.0.0.1:6379", "no spaces")
            .await
            .expect_err("bad namespace");
        assert!(matches!(err, QueueError::InvalidNamespace(_)), "{err}");
        let err = JobQueue::redis("http://:hunter2@example.com", "slipway")
            .await
            .expect_err("bad scheme");
        assert!(matches!(err, QueueError::InvalidUrl(_)), "{err}");
        assert!(!err.to_string().contains("hunter2"), "{err}");
    }
}
