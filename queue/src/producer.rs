//! The enqueue side of the job queue: [`JobQueue`], one per job type.
//!
//! Two backends:
//! - Redis through apalis-redis, for `slipway server api|worker`: the queue is
//!   named `<namespace>:<Job::NAME>` explicitly (apalis would default to the
//!   Rust type name, so renaming the type would move the queue);
//! - in process, a tokio channel, for `slipway dev`.
//!
//! The consuming side is [`crate::consume`].

use std::collections::HashSet;
use std::fmt;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use apalis_core::backend::TaskSink;
use apalis_redis::{Client, Config, ConnectionManager, RedisStorage};
use slipway_core::domain::RolloutJob;
use tokio::sync::mpsc;

use crate::error::{redact, QueueError};
use crate::job::Job;

/// Longest accepted namespace; keys stay short and readable.
const MAX_NAMESPACE_LEN: usize = 64;

/// The producer side of the queue of `J`s (rollouts unless named otherwise);
/// cheap to clone, `Send + Sync`.
pub struct JobQueue<J: Job = RolloutJob> {
    backend: Backend<J>,
}

enum Backend<J: Job> {
    Redis(RedisQueue),
    InProcess(mpsc::UnboundedSender<J>, Waiting<J::Key>),
}

// Derived `Clone` would ask for `J: Clone` on the handle itself.
impl<J: Job> Clone for JobQueue<J> {
    fn clone(&self) -> Self {
        let backend = match &self.backend {
            Backend::Redis(queue) => Backend::Redis(queue.clone()),
            Backend::InProcess(sender, waiting) => {
                Backend::InProcess(sender.clone(), waiting.clone())
            }
        };
        Self { backend }
    }
}

impl<J: Job> JobQueue<J> {
    /// An in-process queue and its receiving end, to hand to the worker.
    /// Jobs still in the channel when the process stops are lost; the
    /// reconciler finds their work again.
    pub fn in_process() -> (JobQueue<J>, InProcessJobs<J>) {
        let (sender, receiver) = mpsc::unbounded_channel();
        let waiting = Waiting::default();
        let queue = JobQueue {
            backend: Backend::InProcess(sender, waiting.clone()),
        };
        (queue, InProcessJobs { receiver, waiting })
    }

    /// Connects to Redis at `url`; keys start with `namespace` (`slipway` in
    /// production, a random one per test). Fails if Redis is unreachable.
    pub async fn redis(url: &str, namespace: &str) -> Result<JobQueue<J>, QueueError> {
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
        let config = queue_config::<J>(namespace);
        let queue = RedisQueue {
            connection,
            config,
            client: Arc::new(client),
            url: url.into(),
        };
        Ok(JobQueue {
            backend: Backend::Redis(queue),
        })
    }

    /// Adds `job` to the queue. Returns once Redis has stored it (or the
    /// channel has taken it).
    #[tracing::instrument(skip_all, fields(queue = J::NAME, key = %job.key()))]
    pub async fn enqueue(&self, job: J) -> Result<(), QueueError> {
        match &self.backend {
            Backend::Redis(queue) => {
                // A fresh storage per call: the sink buffers internally, so
                // sharing one would need a lock and could strand a half-sent job.
                let mut storage: RedisStorage<J> =
                    RedisStorage::new(queue.connection()).with_config(queue.config.clone());
                storage
                    .push(job)
                    .await
                    .map_err(|e| QueueError::Redis(e.to_string()))?;
                // apalis-redis stores every push as a job scheduled for the
                // present moment, which its script does not announce: the
                // consumers are told here. A lost message waits for their poll.
                let notified = redis::cmd("PUBLISH")
                    .arg(queue.notifications())
                    .arg(1)
                    .query_async::<()>(&mut queue.connection())
                    .await;
                if let Err(error) = notified {
                    tracing::debug!(error = %queue.redact(&error), "job stored; consumers not told");
                }
            }
            Backend::InProcess(sender, waiting) => {
                let key = job.key();
                if !waiting.insert(&key) {
                    tracing::debug!("job already waiting in the queue");
                    return Ok(());
                }
                if sender.send(job).is_err() {
                    waiting.remove(&key);
                    return Err(QueueError::Closed);
                }
            }
        }
        tracing::debug!("job enqueued");
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

impl<J: Job> fmt::Debug for JobQueue<J> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.backend {
            Backend::Redis(queue) => f.debug_tuple("JobQueue::Redis").field(queue).finish(),
            Backend::InProcess(..) => f.write_str("JobQueue::InProcess"),
        }
    }
}

/// A Redis connection and the apalis configuration of one job type's queue.
#[derive(Clone)]
pub struct RedisQueue {
    connection: ConnectionManager,
    config: Config,
    /// For the consumer's own connection to job notifications.
    client: Arc<Client>,
    /// Only to blank it out of errors.
    url: Arc<str>,
}

impl RedisQueue {
    /// `<namespace>:<Job::NAME>`, the prefix of every key of this queue.
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

    /// The channel consumers hear of pushed jobs on.
    pub(crate) fn notifications(&self) -> String {
        notifications(&self.config)
    }

    pub(crate) fn client(&self) -> &Client {
        &self.client
    }

    /// `error` as text without the URL or its password.
    pub(crate) fn redact(&self, error: &dyn fmt::Display) -> String {
        redact(error, &self.url)
    }
}

/// The apalis configuration of `J`'s queue under `namespace`.
pub(crate) fn queue_config<J: Job>(namespace: &str) -> Config {
    Config::default().queue(format!("{namespace}:{}", J::NAME))
}

/// The channel pushed jobs of the queue of `config` are announced on: the
/// one apalis-redis means for it, `tasks:<active jobs list>:available`.
pub(crate) fn notifications(config: &Config) -> String {
    format!("tasks:{}:available", config.active_jobs_list())
}

impl fmt::Debug for RedisQueue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RedisQueue")
            .field("name", &self.name())
            .finish_non_exhaustive()
    }
}

/// The receiving end of an in-process queue.
pub struct InProcessJobs<J: Job = RolloutJob> {
    receiver: mpsc::UnboundedReceiver<J>,
    waiting: Waiting<J::Key>,
}

impl<J: Job> InProcessJobs<J> {
    /// The next job; `None` once every [`JobQueue`] clone is dropped and the
    /// channel is empty.
    pub async fn recv(&mut self) -> Option<J> {
        let job = self.receiver.recv().await?;
        self.waiting.remove(&job.key());
        Some(job)
    }
}

impl<J: Job> fmt::Debug for InProcessJobs<J> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("InProcessJobs")
            .field("queued", &self.receiver.len())
            .finish()
    }
}

/// The keys whose job waits in an in-process queue: work queued again while
/// its job still waits (behind others, for a free slot) is not queued twice.
struct Waiting<K>(Arc<Mutex<HashSet<K>>>);

impl<K> Clone for Waiting<K> {
    fn clone(&self) -> Self {
        Self(self.0.clone())
    }
}

impl<K> Default for Waiting<K> {
    fn default() -> Self {
        Self(Arc::default())
    }
}

impl<K: Clone + Eq + std::hash::Hash> Waiting<K> {
    fn set(&self) -> MutexGuard<'_, HashSet<K>> {
        // One insert or remove per holder: consistent even after a panic.
        self.0.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// `false` when it was waiting already.
    fn insert(&self, key: &K) -> bool {
        self.set().insert(key.clone())
    }

    fn remove(&self, key: &K) {
        self.set().remove(key);
    }
}

fn is_valid_namespace(namespace: &str) -> bool {
    !namespace.is_empty()
        && namespace.len() <= MAX_NAMESPACE_LEN
        && namespace
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'.' | b':'))
}

#[cfg(test)]
mod tests {
    use super::*;
    use slipway_core::domain::DeploymentId;

    #[test]
    fn namespaces_are_short_and_plain() {
        assert!(is_valid_namespace("slipway"));
        assert!(is_valid_namespace("slipway-test-abc123:x"));
        for bad in ["", "has space", "brace{tag}", "star*", &"x".repeat(65)] {
            assert!(!is_valid_namespace(bad), "{bad}");
        }
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
        let err = JobQueue::<RolloutJob>::redis("redis://127.0.0.1:6379", "no spaces")
            .await
            .expect_err("bad namespace");
        assert!(matches!(err, QueueError::InvalidNamespace(_)), "{err}");
        let err = JobQueue::<RolloutJob>::redis("http://:hunter2@example.com", "slipway")
            .await
            .expect_err("bad scheme");
        assert!(matches!(err, QueueError::InvalidUrl(_)), "{err}");
        assert!(!err.to_string().contains("hunter2"), "{err}");
    }
}
