//! The consumer's Redis connection, which sizes each fetch to the free
//! handler slots.
//!
//! apalis-redis fetches a fixed number of jobs per call (its `Config`'s
//! `batch_size`), and a worker fetches whenever one slot is free. A fixed
//! batch above 1 would park jobs behind this worker's busy slots while
//! another worker idles; a batch of 1 costs two round trips and two
//! wake-ups per job, which under load hands out about 25 jobs a second per
//! worker (the fleet bench). So the connection the consumer gives apalis
//! rewrites the count of the fetch script's call, and only that, to the
//! slots free at that moment: every job fetched has a slot to run in.

use std::sync::Arc;

use apalis_redis::{Config, ConnectionLike, ConnectionManager};
use redis::{Arg, Cmd, RedisFuture, Value};
use tokio::sync::Semaphore;

/// Keys the fetch script (`fetch_next.lua`) is called with; its arguments
/// are the time, the count and the worker's name, in that order.
const FETCH_KEYS: usize = 7;
/// Where the count is: `EVALSHA sha numkeys key… time count worker`.
const COUNT_AT: usize = 3 + FETCH_KEYS + 1;

#[derive(Clone)]
pub(super) struct SlotSizedFetch {
    inner: ConnectionManager,
    /// The consumer's handler slots.
    slots: Arc<Semaphore>,
    /// The fetch script's 2nd and 7th keys, which name its call.
    active: Arc<[u8]>,
    scheduled: Arc<[u8]>,
}

impl SlotSizedFetch {
    pub(super) fn new(inner: ConnectionManager, slots: Arc<Semaphore>, config: &Config) -> Self {
        Self {
            inner,
            slots,
            active: config.active_jobs_list().into_bytes().into(),
            scheduled: config.scheduled_jobs_set().into_bytes().into(),
        }
    }

    /// The fetch script's call with its count set to the free slots; `None`
    /// for every other command. apalis asks for a job only once the
    /// concurrency limit has handed it a permit, which no longer counts as
    /// available: hence the one added.
    fn resized(&self, cmd: &Cmd) -> Option<Cmd> {
        // Every command passes here: most are told apart by their length alone.
        if cmd.args_iter().len() != COUNT_AT + 2 {
            return None;
        }
        let args: Vec<&[u8]> = cmd
            .args_iter()
            .map(|arg| match arg {
                Arg::Simple(bytes) => Some(bytes),
                _ => None,
            })
            .collect::<Option<_>>()?;
        let is_eval = |name: &[u8]| {
            name.eq_ignore_ascii_case(b"EVALSHA") || name.eq_ignore_ascii_case(b"EVAL")
        };
        let is_fetch = is_eval(args[0])
            && args[2] == FETCH_KEYS.to_string().as_bytes()
            && args[4] == &*self.active
            && args[3 + FETCH_KEYS - 1] == &*self.scheduled;
        if !is_fetch {
            return None;
        }
        let count = self.slots.available_permits() + 1;
        let mut resized = Cmd::new();
        for (i, arg) in args.iter().enumerate() {
            if i == COUNT_AT {
                resized.arg(count);
            } else {
                resized.arg(*arg);
            }
        }
        Some(resized)
    }
}

impl ConnectionLike for SlotSizedFetch {
    fn req_packed_command<'a>(&'a mut self, cmd: &'a Cmd) -> RedisFuture<'a, Value> {
        match self.resized(cmd) {
            Some(resized) => Box::pin(async move { self.inner.req_packed_command(&resized).await }),
            None => self.inner.req_packed_command(cmd),
        }
    }

    fn req_packed_commands<'a>(
        &'a mut self,
        pipeline: &'a redis::Pipeline,
        offset: usize,
        count: usize,
    ) -> RedisFuture<'a, Vec<Value>> {
        self.inner.req_packed_commands(pipeline, offset, count)
    }

    fn get_db(&self) -> i64 {
        self.inner.get_db()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::TestRedis;
    use apalis_core::worker::context::WorkerContext;
    use slipway_core::domain::{DeploymentId, RolloutJob};

    /// apalis's own fetch, as its consumer calls it, over a real Redis: one
    /// job with its plain connection, as many as there are free slots with
    /// ours, and every other command passes unchanged.
    #[tokio::test]
    async fn a_fetch_takes_as_many_jobs_as_there_are_free_slots() {
        let redis = TestRedis::<RolloutJob>::new();
        let queue = redis.queue().await;
        for _ in 0..10 {
            queue
                .enqueue(RolloutJob::new(DeploymentId::generate(), None))
                .await
                .unwrap();
        }
        let redis_queue = queue.as_redis().expect("a Redis queue");
        let config = redis_queue.config().clone().batch_size(1);
        let worker = WorkerContext::new("fetch-test");
        // The fetch script refuses a worker that is not registered.
        let mut plain = redis_queue.connection();
        redis::cmd("ZADD")
            .arg(config.workers_set())
            .arg(i64::MAX)
            .arg(worker.name())
            .exec_async(&mut plain)
            .await
            .unwrap();
        async fn fetched(
            mut conn: impl ConnectionLike,
            worker: &WorkerContext,
            config: &Config,
        ) -> usize {
            let tasks = apalis_redis::queries::fetch_next(&mut conn, worker, config);
            tasks.await.unwrap().len()
        }
        assert_eq!(
            fetched(plain.clone(), &worker, &config).await,
            1,
            "the plain connection's fetch"
        );
        // Four permits available and the one apalis holds for the next job: five slots.
        let slots = Arc::new(Semaphore::new(4));
        let sized = SlotSizedFetch::new(plain.clone(), slots.clone(), &config);
        assert_eq!(fetched(sized.clone(), &worker, &config).await, 5);
        let _taken = slots.clone().acquire_many_owned(4).await.unwrap();
        assert_eq!(
            fetched(sized.clone(), &worker, &config).await,
            1,
            "no slot but apalis's own"
        );
        assert_eq!(redis.count("active"), 3, "the rest stay queued");
        // Any other command goes through as it is.
        let mut other = sized;
        let length: usize = redis::cmd("LLEN")
            .arg(config.active_jobs_list())
            .query_async(&mut other)
            .await
            .unwrap();
        assert_eq!(length, 3);
    }
}
