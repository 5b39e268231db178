//! The retention sweep of finished jobs over a real Redis, with consumers
//! running, each test in its own namespace.

use super::*;
use slipway_queue::retention::{sweep_finished, sweep_in_batches, JobRetention};
use tokio::sync::Semaphore;

fn keep_last(n: usize) -> JobRetention {
    JobRetention {
        keep_last: Some(n),
        keep_for: None,
    }
}

/// Raw commands on the test's Redis, to look at and to set up keys.
struct Raw {
    conn: redis::Connection,
    prefix: String,
}

impl Raw {
    fn new(redis: &TestRedis) -> Self {
        let client = redis::Client::open(redis.url.as_str()).expect("Redis URL");
        Self {
            conn: client.get_connection().expect("Redis connection"),
            prefix: format!("{}:rollouts", redis.namespace),
        }
    }

    fn keys(&mut self, pattern: &str) -> Vec<String> {
        redis::cmd("KEYS")
            .arg(format!("{}{pattern}", self.prefix))
            .query(&mut self.conn)
            .expect("KEYS")
    }

    fn data_ids(&mut self) -> Vec<String> {
        let key = format!("{}:data", self.prefix);
        redis::cmd("HKEYS")
            .arg(key)
            .query(&mut self.conn)
            .expect("HKEYS")
    }

    fn members(&mut self, set: &str) -> Vec<String> {
        let key = format!("{}:{set}", self.prefix);
        redis::cmd("SMEMBERS")
            .arg(key)
            .query(&mut self.conn)
            .expect("SMEMBERS")
    }

    /// A job waiting in the scheduled set for its retry, as apalis leaves a
    /// job whose handler failed: status `Failed`, a `done_at`, data kept.
    fn add_retrying(&mut self, id: &str) {
        let payload = serde_json::to_string(&RolloutJob::new(DeploymentId::generate(), None))
            .expect("payload");
        redis::pipe()
            .hset(format!("{}:data", self.prefix), id, payload)
            .hset_multiple(
                format!("{}:meta:{id}", self.prefix),
                &[("status", "Failed"), ("attempts", "1"), ("done_at", "1")],
            )
            .zadd(format!("{}:scheduled", self.prefix), id, 4_000_000_000u64)
            .query::<()>(&mut self.conn)
            .expect("a retrying job");
    }

    /// The ids of the done set, the last to finish last (by `done_at`,
    /// then by id: ids order jobs finished in the same second).
    fn done_in_order(&mut self) -> Vec<String> {
        let mut done: Vec<(u64, String)> = self
            .members("done")
            .into_iter()
            .map(|id| {
                let at: String = redis::cmd("HGET")
                    .arg(format!("{}:meta:{id}", self.prefix))
                    .arg("done_at")
                    .query(&mut self.conn)
                    .expect("HGET");
                (at.parse().expect("done_at"), id)
            })
            .collect();
        done.sort();
        done.into_iter().map(|(_, id)| id).collect()
    }

    /// `n` finished jobs, as apalis leaves them: data, metadata (`Done`,
    /// finished a second apart) and the id in the done set.
    fn add_done(&mut self, n: usize) {
        let payload = serde_json::to_string(&RolloutJob::new(DeploymentId::generate(), None))
            .expect("payload");
        let mut pipe = redis::pipe();
        for i in 0..n {
            let id = format!("job-{i:06}");
            pipe.hset(format!("{}:data", self.prefix), &id, &payload)
                .hset_multiple(
                    format!("{}:meta:{id}", self.prefix),
                    &[("status", "Done"), ("done_at", &(1_000 + i).to_string())],
                )
                .sadd(format!("{}:done", self.prefix), &id)
                .ignore();
        }
        pipe.query::<()>(&mut self.conn).expect("finished jobs");
    }

    /// Bytes `key` takes, and bytes a fresh copy of it takes (`RESTORE`
    /// writes its entries afresh).
    fn memory_against_a_fresh_copy(&mut self, key: &str) -> (u64, u64) {
        let (key, copy) = (
            format!("{}:{key}", self.prefix),
            format!("{}:copy", self.prefix),
        );
        let dump: Vec<u8> = redis::cmd("DUMP")
            .arg(&key)
            .query(&mut self.conn)
            .expect("DUMP");
        redis::cmd("RESTORE")
            .arg(&copy)
            .arg(0)
            .arg(dump)
            .arg("REPLACE")
            .query::<()>(&mut self.conn)
            .expect("RESTORE");
        let mut usage = |key: &str| -> u64 {
            redis::cmd("MEMORY")
                .arg("USAGE")
                .arg(key)
                .arg("SAMPLES")
                .arg(0)
                .query(&mut self.conn)
                .expect("MEMORY USAGE")
        };
        let sizes = (usage(&key), usage(&copy));
        redis::cmd("DEL")
            .arg(&copy)
            .query::<()>(&mut self.conn)
            .expect("DEL");
        sizes
    }

    /// Whether `id` still has its data and its metadata.
    fn has_job(&mut self, id: &str) -> bool {
        let data: bool = redis::cmd("HEXISTS")
            .arg(format!("{}:data", self.prefix))
            .arg(id)
            .query(&mut self.conn)
            .expect("HEXISTS");
        let meta: bool = redis::cmd("EXISTS")
            .arg(format!("{}:meta:{id}", self.prefix))
            .query(&mut self.conn)
            .expect("EXISTS");
        data && meta
    }
}

async fn enqueue(queue: &JobQueue, n: usize) {
    for _ in 0..n {
        queue
            .enqueue(RolloutJob::new(DeploymentId::generate(), None))
            .await
            .expect("enqueue");
    }
}

async fn run_until_done(redis: &TestRedis, queue: &JobQueue, done: usize) {
    let recorder = Recorder::default();
    let consumer = Consumer::start(
        JobSource::from_queue(queue).expect("a Redis queue"),
        config("retention"),
        recorder.handler(Script::default()),
    );
    wait_until("the jobs to finish", Duration::from_secs(20), || {
        redis.count("done") == done
    })
    .await;
    consumer.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sweep_keeps_the_newest_finished_jobs_and_never_touches_pending_ones() {
    let redis = TestRedis::new();
    let queue = redis.queue().await;
    let mut raw = Raw::new(&redis);
    enqueue(&queue, 30).await;
    run_until_done(&redis, &queue, 30).await;
    let finished = raw.done_in_order();
    // Waiting: five pending (no consumer runs) and one retrying.
    enqueue(&queue, 5).await;
    raw.add_retrying("01RETRYING0000000000000000");
    assert_eq!(raw.data_ids().len(), 36);

    let swept = sweep_finished(queue.as_redis().unwrap(), &keep_last(10))
        .await
        .expect("sweep");
    assert_eq!((swept.finished, swept.removed, swept.skipped), (30, 20, 0));
    assert_eq!(swept.batches, 1, "20 jobs fit one round trip");

    // The ten kept are the last to finish.
    let kept = raw.done_in_order();
    assert_eq!(kept, finished[20..]);
    for id in &finished[..20] {
        assert!(!raw.has_job(id), "{id} should be gone with all its keys");
    }
    for id in &kept {
        assert!(raw.has_job(id), "{id} should be kept");
    }
    assert!(raw.has_job("01RETRYING0000000000000000"));
    // apalis-redis files every push in the scheduled set, due at once.
    assert_eq!(
        redis.count("scheduled") + redis.count("active"),
        5 + 1,
        "the pending jobs and the retry still wait"
    );
    assert_eq!(raw.data_ids().len(), 10 + 5 + 1);
    assert_eq!(
        raw.keys(":meta:*").len(),
        10 + 5 + 1,
        "one metadata key each"
    );

    // The pending ones still run, and a second sweep trims back to ten.
    run_until_done(&redis, &queue, 15).await;
    let swept = sweep_finished(queue.as_redis().unwrap(), &keep_last(10))
        .await
        .expect("sweep");
    assert_eq!((swept.finished, swept.removed), (15, 5));
    assert_eq!(redis.count("done"), 10);
    assert_eq!(raw.data_ids().len(), 10 + 1);
    // Keys left: data, done, scheduled, the ten + one metadata hashes, and
    // the consumers' own (workers, their metadata, signal): no per-job leftovers.
    let all = raw.keys("*");
    let per_job = all.iter().filter(|k| k.contains(":meta:")).count();
    assert_eq!(per_job, 11, "{all:?}");
    assert!(all.len() <= per_job + 10, "{all:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_job_running_during_a_sweep_finishes_once_and_is_kept() {
    let redis = TestRedis::new();
    let queue = redis.queue().await;
    let mut raw = Raw::new(&redis);
    enqueue(&queue, 20).await;
    run_until_done(&redis, &queue, 20).await;

    // A handler that holds its job until released.
    let gate = Arc::new(Semaphore::new(0));
    let calls = Arc::new(AtomicUsize::new(0));
    let handler = {
        let (gate, calls) = (gate.clone(), calls.clone());
        move |_job: RolloutJob| {
            let (gate, calls) = (gate.clone(), calls.clone());
            async move {
                calls.fetch_add(1, Ordering::SeqCst);
                let _permit = gate.acquire().await.expect("gate open");
                Ok::<(), JobFailed>(())
            }
        }
    };
    let consumer = Consumer::start(
        JobSource::from_queue(&queue).expect("a Redis queue"),
        config("in-flight"),
        handler,
    );
    enqueue(&queue, 1).await;
    wait_until("the job to start", Duration::from_secs(10), || {
        calls.load(Ordering::SeqCst) == 1
    })
    .await;
    let running: Vec<String> = raw
        .data_ids()
        .into_iter()
        .filter(|id| !raw.members("done").contains(id))
        .collect();
    assert_eq!(running.len(), 1);

    // Keep none: every finished job goes, the running one stays.
    let swept = sweep_in_batches(queue.as_redis().unwrap(), &keep_last(0), 7)
        .await
        .expect("sweep");
    assert_eq!((swept.removed, swept.batches), (20, 3), "7 + 7 + 6");
    assert!(raw.has_job(&running[0]), "the running job keeps its keys");

    gate.add_permits(1);
    wait_until("the job to finish", Duration::from_secs(10), || {
        redis.count("done") == 1
    })
    .await;
    // Longer than the orphan timeout (5 missed heartbeats of 1 s).
    tokio::time::sleep(Duration::from_secs(6)).await;
    assert_eq!(calls.load(Ordering::SeqCst), 1, "run once, never again");
    assert_eq!(raw.members("done"), running);
    let swept = sweep_finished(queue.as_redis().unwrap(), &keep_last(1))
        .await
        .expect("sweep");
    assert_eq!(swept.removed, 0);
    assert!(raw.has_job(&running[0]));
    consumer.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sweeps_running_at_once_remove_each_job_once() {
    let redis = TestRedis::new();
    let queue = redis.queue().await;
    enqueue(&queue, 40).await;
    run_until_done(&redis, &queue, 40).await;
    let target = queue.as_redis().unwrap();
    let retention = keep_last(5);
    let (a, b) = tokio::join!(
        sweep_in_batches(target, &retention, 4),
        sweep_in_batches(target, &retention, 4)
    );
    let (a, b) = (a.expect("sweep"), b.expect("sweep"));
    assert_eq!(a.removed + b.removed, 35);
    assert_eq!(a.removed + a.skipped, 35);
    assert_eq!(redis.count("done"), 5);
    let again = sweep_finished(target, &JobRetention::FOREVER)
        .await
        .expect("sweep");
    assert_eq!(again.removed, 0);
    assert_eq!(redis.count("done"), 5);
}

/// A sweep that removes most finished jobs gives back the tables Redis grew
/// for them: Redis shrinks a hash or a set on a delete only when it is not
/// rehashing it, so deletes in a row leave it sized for its peak unless
/// the sweep rewrites what is left.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sweep_of_most_jobs_gives_their_memory_back() {
    let redis = TestRedis::new();
    let queue = redis.queue().await;
    let mut raw = Raw::new(&redis);
    raw.add_done(20_000);
    let redis_queue = queue.as_redis().expect("a Redis queue");
    let swept = sweep_finished(redis_queue, &keep_last(100))
        .await
        .expect("sweep");
    assert_eq!((swept.removed, swept.skipped), (19_900, 0));
    assert!(swept.compacted);
    assert_eq!(raw.data_ids().len(), 100);
    for key in ["data", "done"] {
        let (used, fresh) = raw.memory_against_a_fresh_copy(key);
        assert!(
            used <= fresh * 3 / 2,
            "{key} takes {used} bytes after the sweep, a fresh copy {fresh}"
        );
    }
    // A sweep that removes few leaves the keys as they are.
    raw.add_done(20);
    let swept = sweep_finished(redis_queue, &keep_last(100))
        .await
        .expect("second sweep");
    assert_eq!(swept.removed, 20);
    assert!(!swept.compacted);
}

/// A sweep deletes the metadata apalis leaves for each worker that ever
/// registered, once that worker has left the workers set; a registered
/// worker's stays.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sweep_forgets_the_metadata_of_workers_that_are_gone() {
    let redis = TestRedis::new();
    let queue = redis.queue().await;
    let mut raw = Raw::new(&redis);
    let prefix = raw.prefix.clone();
    let workers = format!("{prefix}:workers");
    let metadata = |name: &str| format!("{prefix}:workers:metadata:{name}");
    redis::pipe()
        .zadd(&workers, "alive", 4_000_000_000u64)
        .hset(metadata("alive"), "service", "rollouts")
        .hset(metadata("gone-1"), "service", "rollouts")
        .hset(metadata("gone-2"), "service", "rollouts")
        .query::<()>(&mut raw.conn)
        .expect("worker metadata");
    let swept = sweep_finished(queue.as_redis().expect("a Redis queue"), &keep_last(10))
        .await
        .expect("sweep");
    assert_eq!(swept.workers_forgotten, 2);
    assert_eq!(raw.keys(":workers:metadata:*"), vec![metadata("alive")]);
}
