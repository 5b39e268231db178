//! Test support (feature `testing`): a Redis namespace of a test's (or a
//! bench's) own, whose keys are deleted when it is dropped, even when the
//! test fails. Redis comes from `SLIPWAY_TEST_REDIS_URL`, default
//! `redis://127.0.0.1:6379`; an unreachable Redis fails the test.

use std::marker::PhantomData;

use slipway_core::domain::RolloutJob;

use crate::producer::{notifications, queue_config};
use crate::{Job, JobQueue, QueueError};

/// Where the tests find Redis unless `SLIPWAY_TEST_REDIS_URL` says otherwise.
pub const DEFAULT_REDIS_URL: &str = "redis://127.0.0.1:6379";

/// A random namespace on the test Redis, for `J`'s queue.
pub struct TestRedis<J: Job = RolloutJob> {
    pub url: String,
    pub namespace: String,
    job: PhantomData<fn() -> J>,
}

impl<J: Job> TestRedis<J> {
    /// A namespace `slipway-test-<random>`.
    pub fn new() -> Self {
        Self::with_prefix("slipway-test")
    }

    /// A namespace `<prefix>-<random>`.
    pub fn with_prefix(prefix: &str) -> Self {
        let url =
            std::env::var("SLIPWAY_TEST_REDIS_URL").unwrap_or_else(|_| DEFAULT_REDIS_URL.into());
        let namespace = format!("{prefix}-{:016x}", rand::random::<u64>());
        Self {
            url,
            namespace,
            job: PhantomData,
        }
    }

    /// A new connection to the namespace's queue, as a separate process
    /// would open; the error says where Redis was expected.
    pub async fn try_queue(&self) -> Result<JobQueue<J>, String> {
        JobQueue::redis(&self.url, &self.namespace)
            .await
            .map_err(|e: QueueError| {
                format!(
                    "Redis is required (SLIPWAY_TEST_REDIS_URL, default {DEFAULT_REDIS_URL}): {e}"
                )
            })
    }

    /// [`TestRedis::try_queue`], panicking without Redis.
    pub async fn queue(&self) -> JobQueue<J> {
        self.try_queue().await.unwrap_or_else(|e| panic!("{e}"))
    }

    /// Members of one of the queue's sets (`done`, `dead`, `scheduled`) or
    /// length of `active`.
    pub fn count(&self, set: &str) -> usize {
        let key = format!("{}:{}:{set}", self.namespace, J::NAME);
        let command = match set {
            "active" => "LLEN",
            "scheduled" => "ZCARD",
            _ => "SCARD",
        };
        redis::cmd(command)
            .arg(&key)
            .query(&mut self.connection().expect("Redis connection for checks"))
            .expect(command)
    }

    /// Connections subscribed to the notifications of jobs pushed to the
    /// queue: one per consumer listening.
    pub fn listeners(&self) -> usize {
        let channel = notifications(&queue_config::<J>(&self.namespace));
        let counts: Vec<(String, usize)> = redis::cmd("PUBSUB")
            .arg("NUMSUB")
            .arg(&channel)
            .query(&mut self.connection().expect("Redis connection for checks"))
            .expect("PUBSUB NUMSUB");
        counts.into_iter().map(|(_, n)| n).sum()
    }

    fn connection(&self) -> redis::RedisResult<redis::Connection> {
        redis::Client::open(self.url.as_str())?.get_connection()
    }

    /// Deletes every key of the namespace, and its entry in apalis's global
    /// list of queues.
    fn clean_up(&self) -> redis::RedisResult<()> {
        let mut redis = self.connection()?;
        let mut cursor = 0u64;
        loop {
            let (next, keys): (u64, Vec<String>) = redis::cmd("SCAN")
                .arg(cursor)
                .arg("MATCH")
                .arg(format!("{}*", self.namespace))
                .arg("COUNT")
                .arg(1000)
                .query(&mut redis)?;
            if !keys.is_empty() {
                redis::cmd("DEL").arg(&keys).query::<()>(&mut redis)?;
            }
            if next == 0 {
                break;
            }
            cursor = next;
        }
        redis::cmd("ZREM")
            .arg("core:apalis:queues:list")
            .arg(format!("{}:{}:workers", self.namespace, J::NAME))
            .query(&mut redis)
    }
}

impl<J: Job> Default for TestRedis<J> {
    fn default() -> Self {
        Self::new()
    }
}

impl<J: Job> Drop for TestRedis<J> {
    fn drop(&mut self) {
        // Best effort: a second panic while a failed test unwinds would abort
        // the whole test binary.
        if let Err(e) = self.clean_up() {
            eprintln!("cannot delete the test keys under {}: {e}", self.namespace);
        }
    }
}
