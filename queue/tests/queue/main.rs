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
use slipway_core::domain::{DeploymentId, RolloutJob};
use slipway_queue::testing::TestRedis;
use slipway_queue::{consume, ConsumerConfig, JobFailed, JobQueue, JobSource, QueueError};
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

const TRACEPARENT: &str = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01";

mod in_process;
mod on_redis;
mod retention;

fn config(name: &str) -> ConsumerConfig {
    let mut config = ConsumerConfig::new(ConsumerConfig::unique_worker_name(name));
    config.retry_backoff = Duration::from_millis(20);
    config.shutdown_grace = Duration::from_secs(5);
    config
}

/// A consumer running in the background.
struct Consumer {
    stop: oneshot::Sender<()>,
    task: JoinHandle<Result<(), QueueError>>,
}

impl Consumer {
    fn start<F, Fut>(source: JobSource<RolloutJob>, config: ConsumerConfig, handler: F) -> Self
    where
        F: Fn(RolloutJob) -> Fut + Clone + Send + Sync + 'static,
        Fut: std::future::Future<Output = Result<(), JobFailed>> + Send + 'static,
    {
        let (stop, stopped) = oneshot::channel::<()>();
        let shutdown = async move {
            let _ = stopped.await;
        };
        let task = tokio::spawn(consume(source, config, handler, shutdown));
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

/// A TCP relay to the test Redis whose connections the test can cut, as a
/// network fault would; new connections go through again at once.
struct Relay {
    url: String,
    open: Arc<Mutex<Vec<tokio::task::AbortHandle>>>,
    accepting: JoinHandle<()>,
}

impl Relay {
    async fn to(redis_url: &str) -> Relay {
        let (scheme, rest) = redis_url.split_once("://").expect("a Redis URL");
        let (authority, path) = rest.split_at(rest.find('/').unwrap_or(rest.len()));
        let (userinfo, upstream) = match authority.rsplit_once('@') {
            Some((userinfo, host)) => (format!("{userinfo}@"), host.to_owned()),
            None => (String::new(), authority.to_owned()),
        };
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("a port for the relay");
        let port = listener.local_addr().expect("its address").port();
        let open: Arc<Mutex<Vec<tokio::task::AbortHandle>>> = Arc::default();
        let relayed = open.clone();
        let accepting = tokio::spawn(async move {
            while let Ok((mut client, _)) = listener.accept().await {
                let upstream = upstream.clone();
                let relay = tokio::spawn(async move {
                    if let Ok(mut redis) = tokio::net::TcpStream::connect(&upstream).await {
                        let _ = tokio::io::copy_bidirectional(&mut client, &mut redis).await;
                    }
                });
                relayed.lock().expect("lock").push(relay.abort_handle());
            }
        });
        Relay {
            url: format!("{scheme}://{userinfo}127.0.0.1:{port}{path}"),
            open,
            accepting,
        }
    }

    /// Closes every connection through the relay.
    fn cut(&self) {
        for relay in self.open.lock().expect("lock").drain(..) {
            relay.abort();
        }
    }
}

impl Drop for Relay {
    fn drop(&mut self) {
        self.cut();
        self.accepting.abort();
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
