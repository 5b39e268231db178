//! The job queue end to end: producers and consumers over a real Redis (from
//! `SLIPWAY_TEST_REDIS_URL`, default `redis://127.0.0.1:6379`; unreachable Redis
//! fails the tests) and over the in-process channel.
//!
//! Each Redis test works in its own random namespace and deletes its keys when done.

use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use futures_util::future::BoxFuture;
use futures_util::FutureExt;
use slipway_core::domain::DeploymentId;
use slipway_core::jobs::{JobQueue, QueueError, RolloutJob};
use slipway_worker::queue::{consume_rollouts, ConsumerConfig, JobFailed, JobSource};
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

const DEFAULT_REDIS_URL: &str = "redis://127.0.0.1:6379";
const TRACEPARENT: &str = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01";

// ---------------------------------------------------------------- Redis tests

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_consumer_built_from_a_separate_queue_receives_the_exact_job() {
    let redis = TestRedis::new();
    let producer = redis.queue().await;
    let consumer_queue = redis.queue().await; // as a separate worker process would
    let recorder = Recorder::default();
    let consumer = Consumer::start(
        JobSource::from_queue(&consumer_queue).expect("a Redis queue"),
        config("delivery"),
        recorder.handler(Script::default()),
    );

    let job = RolloutJob::new(DeploymentId::generate(), Some(TRACEPARENT.into()));
    producer.enqueue(job.clone()).await.expect("enqueue");

    wait_until("the job to arrive", Duration::from_secs(5), || {
        recorder.calls() == 1
    })
    .await;
    assert_eq!(recorder.jobs(), vec![job]);
    wait_until("the job to be acknowledged", Duration::from_secs(5), || {
        redis.count("done") == 1
    })
    .await;
    consumer.stop().await;
    assert_eq!(redis.count("active"), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failures_are_retried_up_to_the_attempt_limit_and_then_stop() {
    let redis = TestRedis::new();
    let queue = redis.queue().await;
    let [always, once, permanent] = [(); 3].map(|_| DeploymentId::generate());
    let script = Script::from([
        (always.clone(), Behaviour::FailAlways),
        (once.clone(), Behaviour::FailOnce),
        (permanent.clone(), Behaviour::FailPermanently),
    ]);
    let recorder = Recorder::default();
    let consumer = Consumer::start(
        JobSource::from_queue(&queue).expect("a Redis queue"),
        config("retries"),
        recorder.handler(script),
    );
    for id in [&always, &once, &permanent] {
        queue
            .enqueue(RolloutJob::new(id.clone(), None))
            .await
            .expect("enqueue");
    }

    wait_until("3 + 2 + 1 calls", Duration::from_secs(10), || {
        recorder.calls() == 6
    })
    .await;
    // Without our limit the Redis backend would reschedule a failed job 1-3 s later.
    tokio::time::sleep(Duration::from_secs(4)).await;
    assert_eq!(recorder.calls_for(&always), 3, "attempt limit");
    assert_eq!(recorder.calls_for(&once), 2, "retried once, then succeeded");
    assert_eq!(
        recorder.calls_for(&permanent),
        1,
        "permanent failures are not retried"
    );
    assert_eq!(redis.count("dead"), 2, "both abandoned jobs are dead");
    assert_eq!(redis.count("done"), 1);
    assert_eq!(redis.count("scheduled"), 0, "nothing waits for a retry");
    consumer.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_panicking_handler_does_not_stop_later_jobs() {
    let redis = TestRedis::new();
    let queue = redis.queue().await;
    let panics = DeploymentId::generate();
    let recorder = Recorder::default();
    let mut config = config("panic");
    config.concurrency = 1;
    let consumer = Consumer::start(
        JobSource::from_queue(&queue).expect("a Redis queue"),
        config,
        recorder.handler(Script::from([(panics.clone(), Behaviour::Panic)])),
    );
    queue
        .enqueue(RolloutJob::new(panics.clone(), None))
        .await
        .expect("enqueue");
    let later: Vec<_> = (0..3).map(|_| DeploymentId::generate()).collect();
    for id in &later {
        queue
            .enqueue(RolloutJob::new(id.clone(), None))
            .await
            .expect("enqueue");
    }

    wait_until("the jobs after the panic", Duration::from_secs(10), || {
        later.iter().all(|id| recorder.calls_for(id) == 1)
    })
    .await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(recorder.calls_for(&panics), 1, "a panic is not retried");
    consumer.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_consumers_share_the_load_and_run_each_job_once() {
    const JOBS: usize = 40;
    let redis = TestRedis::new();
    let producer = redis.queue().await;
    let (first, second) = (Recorder::default(), Recorder::default());
    let script = Script::default().with_default(Behaviour::Sleep(Duration::from_millis(50)));
    let mut consumers = Vec::new();
    for (recorder, name) in [(&first, "share-a"), (&second, "share-b")] {
        let queue = redis.queue().await;
        let mut config = config(name);
        config.concurrency = 2;
        consumers.push(Consumer::start(
            JobSource::from_queue(&queue).expect("a Redis queue"),
            config,
            recorder.handler(script.clone()),
        ));
    }
    let ids: Vec<_> = (0..JOBS).map(|_| DeploymentId::generate()).collect();
    for id in &ids {
        producer
            .enqueue(RolloutJob::new(id.clone(), None))
            .await
            .expect("enqueue");
    }

    wait_until("every job to run", Duration::from_secs(20), || {
        first.calls() + second.calls() >= JOBS
    })
    .await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    for id in &ids {
        assert_eq!(
            first.calls_for(id) + second.calls_for(id),
            1,
            "{id} ran once"
        );
    }
    assert!(
        first.calls() > 0 && second.calls() > 0,
        "{} / {}",
        first.calls(),
        second.calls()
    );
    assert!(
        first.max_in_flight() <= 2 && second.max_in_flight() <= 2,
        "concurrency limit"
    );
    for consumer in consumers {
        consumer.stop().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shutdown_lets_a_running_handler_finish_and_acknowledges_it() {
    let redis = TestRedis::new();
    let queue = redis.queue().await;
    let recorder = Recorder::default();
    let script = Script::default().with_default(Behaviour::Sleep(Duration::from_millis(500)));
    let consumer = Consumer::start(
        JobSource::from_queue(&queue).expect("a Redis queue"),
        config("shutdown"),
        recorder.handler(script),
    );
    queue
        .enqueue(RolloutJob::new(DeploymentId::generate(), None))
        .await
        .expect("enqueue");
    wait_until("the handler to start", Duration::from_secs(5), || {
        recorder.calls() == 1
    })
    .await;

    consumer.stop().await;
    assert_eq!(recorder.finished(), 1, "stop waited for the handler");
    assert_eq!(
        redis.count("done"),
        1,
        "and acknowledged it before returning"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_job_of_a_killed_worker_comes_back_after_the_orphan_timeout() {
    let redis = TestRedis::new();
    let queue = redis.queue().await;
    let stuck = Recorder::default();
    let killed = Consumer::start(
        JobSource::from_queue(&queue).expect("a Redis queue"),
        config("killed"),
        stuck.handler(Script::default().with_default(Behaviour::Hang)),
    );
    let job = RolloutJob::new(DeploymentId::generate(), None);
    queue.enqueue(job.clone()).await.expect("enqueue");
    wait_until(
        "the first worker to take the job",
        Duration::from_secs(5),
        || stuck.calls() == 1,
    )
    .await;

    killed.kill(); // no graceful close, as with SIGKILL
    let killed_at = Instant::now();
    let survivor = Recorder::default();
    let config = config("survivor");
    let orphan_timeout = config.orphan_timeout();
    let consumer = Consumer::start(
        JobSource::from_queue(&redis.queue().await).expect("a Redis queue"),
        config,
        survivor.handler(Script::default()),
    );
    wait_until(
        "the orphaned job to come back",
        orphan_timeout + Duration::from_secs(5),
        || survivor.calls() == 1,
    )
    .await;
    let back_after = killed_at.elapsed();
    eprintln!("orphaned job came back after {back_after:?} (orphan timeout {orphan_timeout:?})");
    assert!(
        back_after >= orphan_timeout - Duration::from_secs(1),
        "{back_after:?}"
    );
    assert_eq!(survivor.jobs(), vec![job]);
    consumer.stop().await;
}

#[tokio::test]
async fn unreachable_redis_fails_without_echoing_the_password() {
    let started = Instant::now();
    let err = JobQueue::redis("redis://:hunter2@127.0.0.1:1/0", "slipway-test")
        .await
        .expect_err("nothing listens on port 1");
    assert!(matches!(err, QueueError::Connect(_)), "{err}");
    assert!(!format!("{err} {err:?}").contains("hunter2"), "{err:?}");
    assert!(
        started.elapsed() < Duration::from_secs(30),
        "{:?}",
        started.elapsed()
    );
}

// ---------------------------------------------------------- in-process tests

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn in_process_jobs_run_once_each_within_the_concurrency_limit() {
    let (queue, jobs) = JobQueue::in_process();
    let ids: Vec<_> = (0..12).map(|_| DeploymentId::generate()).collect();
    for id in &ids {
        queue
            .enqueue(RolloutJob::new(id.clone(), Some(TRACEPARENT.into())))
            .await
            .expect("enqueue");
    }
    let recorder = Recorder::default();
    let mut config = config("in-process");
    config.concurrency = 3;
    let script = Script::default().with_default(Behaviour::Sleep(Duration::from_millis(50)));
    let consumer = Consumer::start(jobs.into(), config, recorder.handler(script));

    wait_until("every job to finish", Duration::from_secs(5), || {
        recorder.finished() == 12
    })
    .await;
    for id in &ids {
        assert_eq!(recorder.calls_for(id), 1, "{id}");
    }
    assert!(recorder
        .jobs()
        .iter()
        .all(|job| job.traceparent.as_deref() == Some(TRACEPARENT)));
    assert_eq!(recorder.max_in_flight(), 3, "concurrency limit, reached");
    consumer.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn in_process_failures_retry_to_the_limit_and_a_panic_is_contained() {
    let (queue, jobs) = JobQueue::in_process();
    let [always, once, permanent, panics, fine] = [(); 5].map(|_| DeploymentId::generate());
    let script = Script::from([
        (always.clone(), Behaviour::FailAlways),
        (once.clone(), Behaviour::FailOnce),
        (permanent.clone(), Behaviour::FailPermanently),
        (panics.clone(), Behaviour::Panic),
    ]);
    let recorder = Recorder::default();
    let mut config = config("in-process-failures");
    config.concurrency = 1;
    let consumer = Consumer::start(jobs.into(), config, recorder.handler(script));
    for id in [&panics, &always, &once, &permanent, &fine] {
        queue
            .enqueue(RolloutJob::new(id.clone(), None))
            .await
            .expect("enqueue");
    }

    wait_until("1 + 3 + 2 + 1 + 1 calls", Duration::from_secs(5), || {
        recorder.calls() == 8
    })
    .await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    let counts: Vec<_> = [&panics, &always, &once, &permanent, &fine]
        .map(|id| recorder.calls_for(id))
        .into();
    assert_eq!(
        counts,
        vec![1, 3, 2, 1, 1],
        "panic, always, once, permanent, fine"
    );
    consumer.stop().await;
}

#[tokio::test]
async fn in_process_shutdown_waits_for_running_handlers_and_bad_configs_are_refused() {
    let (queue, jobs) = JobQueue::in_process();
    let recorder = Recorder::default();
    let script = Script::default().with_default(Behaviour::Sleep(Duration::from_millis(300)));
    let consumer = Consumer::start(
        jobs.into(),
        config("in-process-stop"),
        recorder.handler(script),
    );
    queue
        .enqueue(RolloutJob::new(DeploymentId::generate(), None))
        .await
        .expect("enqueue");
    wait_until("the handler to start", Duration::from_secs(5), || {
        recorder.calls() == 1
    })
    .await;
    consumer.stop().await;
    assert_eq!(recorder.finished(), 1);

    let (_queue, jobs) = JobQueue::in_process();
    let mut bad = config("bad");
    bad.concurrency = 0;
    let err = consume_rollouts(jobs.into(), bad, |_| async { Ok(()) }, async {})
        .await
        .expect_err("concurrency 0");
    assert!(matches!(err, QueueError::InvalidConfig(_)), "{err}");
}

// ------------------------------------------------------------------- helpers

fn config(name: &str) -> ConsumerConfig {
    let mut config = ConsumerConfig::new(ConsumerConfig::unique_worker_name(name));
    config.retry_backoff = Duration::from_millis(20);
    config.shutdown_grace = Duration::from_secs(5);
    config
}

/// A Redis namespace of its own, whose keys are deleted on drop (even when
/// the test fails).
struct TestRedis {
    url: String,
    namespace: String,
}

impl TestRedis {
    fn new() -> Self {
        let url =
            std::env::var("SLIPWAY_TEST_REDIS_URL").unwrap_or_else(|_| DEFAULT_REDIS_URL.into());
        let namespace = format!("slipway-test-{:016x}", rand::random::<u64>());
        Self { url, namespace }
    }

    async fn queue(&self) -> JobQueue {
        JobQueue::redis(&self.url, &self.namespace).await.unwrap_or_else(|e| {
            panic!("these tests need Redis (SLIPWAY_TEST_REDIS_URL, default {DEFAULT_REDIS_URL}): {e}")
        })
    }

    fn connection(&self) -> redis::Connection {
        redis::Client::open(self.url.as_str())
            .and_then(|client| client.get_connection())
            .expect("Redis connection for checks")
    }

    /// Members of one of the queue's sets (`done`, `dead`, `scheduled`) or length of `active`.
    fn count(&self, set: &str) -> usize {
        let key = format!("{}:rollouts:{set}", self.namespace);
        let command = match set {
            "active" => "LLEN",
            "scheduled" => "ZCARD",
            _ => "SCARD",
        };
        redis::cmd(command)
            .arg(&key)
            .query(&mut self.connection())
            .expect(command)
    }
}

impl Drop for TestRedis {
    fn drop(&mut self) {
        let Ok(mut redis) = redis::Client::open(self.url.as_str()).and_then(|c| c.get_connection())
        else {
            return;
        };
        let mut cursor = 0u64;
        loop {
            let (next, keys): (u64, Vec<String>) = redis::cmd("SCAN")
                .arg(cursor)
                .arg("MATCH")
                .arg(format!("{}*", self.namespace))
                .arg("COUNT")
                .arg(1000)
                .query(&mut redis)
                .expect("SCAN");
            if !keys.is_empty() {
                let _: () = redis::cmd("DEL").arg(&keys).query(&mut redis).expect("DEL");
            }
            if next == 0 {
                break;
            }
            cursor = next;
        }
        // apalis also lists each queue's worker set in one global key.
        let _: () = redis::cmd("ZREM")
            .arg("core:apalis:queues:list")
            .arg(format!("{}:rollouts:workers", self.namespace))
            .query(&mut redis)
            .expect("ZREM");
    }
}

/// A consumer running in the background.
struct Consumer {
    stop: oneshot::Sender<()>,
    task: JoinHandle<Result<(), QueueError>>,
}

impl Consumer {
    fn start<F, Fut>(source: JobSource, config: ConsumerConfig, handler: F) -> Self
    where
        F: Fn(RolloutJob) -> Fut + Clone + Send + Sync + 'static,
        Fut: std::future::Future<Output = Result<(), JobFailed>> + Send + 'static,
    {
        let (stop, stopped) = oneshot::channel::<()>();
        let shutdown = async move {
            let _ = stopped.await;
        };
        let task = tokio::spawn(consume_rollouts(source, config, handler, shutdown));
        Self { stop, task }
    }

    /// Signals shutdown and waits for a clean return.
    async fn stop(self) {
        let _ = self.stop.send(());
        tokio::time::timeout(Duration::from_secs(10), self.task)
            .await
            .expect("the consumer stops within 10 s")
            .expect("the consumer task does not panic")
            .expect("the consumer returns Ok");
    }

    /// Drops the consumer mid-flight: no graceful close, like SIGKILL.
    fn kill(self) {
        self.task.abort();
    }
}

#[derive(Clone, Copy, Debug)]
enum Behaviour {
    Succeed,
    FailAlways,
    FailOnce,
    FailPermanently,
    Panic,
    Sleep(Duration),
    Hang,
}

/// What the handler does for each deployment.
#[derive(Clone)]
struct Script {
    by_id: Arc<HashMap<DeploymentId, Behaviour>>,
    default: Behaviour,
}

impl Default for Script {
    fn default() -> Self {
        Self {
            by_id: Arc::default(),
            default: Behaviour::Succeed,
        }
    }
}

impl<const N: usize> From<[(DeploymentId, Behaviour); N]> for Script {
    fn from(entries: [(DeploymentId, Behaviour); N]) -> Self {
        Self {
            by_id: Arc::new(entries.into_iter().collect()),
            default: Behaviour::Succeed,
        }
    }
}

impl Script {
    fn with_default(mut self, behaviour: Behaviour) -> Self {
        self.default = behaviour;
        self
    }

    fn for_job(&self, id: &DeploymentId) -> Behaviour {
        self.by_id.get(id).copied().unwrap_or(self.default)
    }
}

/// Records every handler call.
#[derive(Clone, Default)]
struct Recorder {
    jobs: Arc<Mutex<Vec<RolloutJob>>>,
    in_flight: Arc<AtomicUsize>,
    max_in_flight: Arc<AtomicUsize>,
    finished: Arc<AtomicUsize>,
}

impl Recorder {
    fn handler(
        &self,
        script: Script,
    ) -> impl Fn(RolloutJob) -> BoxFuture<'static, Result<(), JobFailed>> + Clone + Send + Sync + 'static
    {
        let recorder = self.clone();
        move |job| {
            let recorder = recorder.clone();
            let behaviour = script.for_job(&job.deployment);
            async move {
                let calls = recorder.record(&job);
                let in_flight = recorder.in_flight.fetch_add(1, Ordering::SeqCst) + 1;
                recorder
                    .max_in_flight
                    .fetch_max(in_flight, Ordering::SeqCst);
                let _guard = InFlight(recorder.clone());
                match behaviour {
                    Behaviour::Succeed => Ok(()),
                    Behaviour::FailAlways => Err(JobFailed::retry("scripted failure")),
                    Behaviour::FailOnce if calls == 1 => Err(JobFailed::retry("first call fails")),
                    Behaviour::FailOnce => Ok(()),
                    Behaviour::FailPermanently => {
                        Err(JobFailed::permanent("scripted permanent failure"))
                    }
                    Behaviour::Panic => panic!("scripted panic"),
                    Behaviour::Sleep(duration) => {
                        tokio::time::sleep(duration).await;
                        Ok(())
                    }
                    Behaviour::Hang => std::future::pending().await,
                }
            }
            .boxed()
        }
    }

    /// Records `job`; returns how many calls its deployment has had, this one included.
    fn record(&self, job: &RolloutJob) -> usize {
        let mut jobs = self.jobs.lock().expect("lock");
        jobs.push(job.clone());
        jobs.iter()
            .filter(|j| j.deployment == job.deployment)
            .count()
    }

    fn jobs(&self) -> Vec<RolloutJob> {
        self.jobs.lock().expect("lock").clone()
    }

    fn calls(&self) -> usize {
        self.jobs.lock().expect("lock").len()
    }

    fn calls_for(&self, id: &DeploymentId) -> usize {
        self.jobs
            .lock()
            .expect("lock")
            .iter()
            .filter(|j| &j.deployment == id)
            .count()
    }

    fn max_in_flight(&self) -> usize {
        self.max_in_flight.load(Ordering::SeqCst)
    }

    /// Calls that returned (successfully or not).
    fn finished(&self) -> usize {
        self.finished.load(Ordering::SeqCst)
    }
}

/// Counts a call out of flight when it returns, fails or unwinds.
struct InFlight(Recorder);

impl Drop for InFlight {
    fn drop(&mut self) {
        self.0.in_flight.fetch_sub(1, Ordering::SeqCst);
        self.0.finished.fetch_add(1, Ordering::SeqCst);
    }
}

async fn wait_until(what: &str, timeout: Duration, mut done: impl FnMut() -> bool) {
    let deadline = Instant::now() + timeout;
    while !done() {
        assert!(
            Instant::now() < deadline,
            "timed out after {timeout:?} waiting for {what}"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}
