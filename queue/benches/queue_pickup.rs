//! Pickup latency of the job queue: wall-clock time from `RolloutJob::new`
//! (just before `enqueue`) to the handler starting, over 1,000 jobs enqueued
//! one at a time with a 2-8 ms gap, so it measures pickup rather than backlog.
//! Prints p50/p90/p99/max for Redis and for the in-process queue.
//!
//! `cargo bench -p slipway-queue --bench queue_pickup`
//! Redis from `SLIPWAY_TEST_REDIS_URL` (default `redis://127.0.0.1:6379`);
//! unreachable Redis exits non-zero. `SLIPWAY_BENCH_POLL_MS` overrides the poll
//! interval, `SLIPWAY_BENCH_JOBS` the job count.

use std::process::ExitCode;
use std::time::Duration;

use slipway_core::domain::{DeploymentId, RolloutJob};
use slipway_queue::testing::TestRedis;
use slipway_queue::{consume, ConsumerConfig, JobQueue, JobSource};
use tokio::sync::{mpsc, oneshot};

const WARM_UP_JOBS: usize = 20;
const GOAL_P50_MS: f64 = 1.0;
const GOAL_P99_MS: f64 = 5.0;

fn main() -> ExitCode {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("tokio runtime");
    match runtime.block_on(run()) {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("queue_pickup: {message}");
            ExitCode::FAILURE
        }
    }
}

async fn run() -> Result<(), String> {
    let jobs: usize = env_number("SLIPWAY_BENCH_JOBS").unwrap_or(1000);
    let mut config = ConsumerConfig::new(ConsumerConfig::unique_worker_name("bench"));
    if let Some(ms) = env_number("SLIPWAY_BENCH_POLL_MS") {
        config.poll_interval = Duration::from_millis(ms as u64);
    }
    println!(
        "queue_pickup: {jobs} jobs, one at a time with a 2-8 ms gap; poll interval {:?}, concurrency {}",
        config.poll_interval, config.concurrency
    );

    // Its keys are deleted on the way out.
    let redis = TestRedis::<RolloutJob>::with_prefix("slipway-bench");
    let producer = redis.try_queue().await?;
    let consumer_queue = redis
        .try_queue()
        .await
        .map_err(|e| format!("second Redis connection: {e}"))?;
    let source = JobSource::from_queue(&consumer_queue).expect("a Redis queue");
    let on_redis = measure(&producer, source, config.clone(), jobs).await?;
    report("redis", &on_redis);

    let (producer, receiver) = JobQueue::in_process();
    let in_process = measure(&producer, receiver.into(), config, jobs).await?;
    report("in-process", &in_process);

    let (p50, p99) = (percentile(&on_redis, 0.50), percentile(&on_redis, 0.99));
    let met = |met: bool| if met { "met" } else { "NOT met" };
    println!(
        "goal: Redis p50 <= {GOAL_P50_MS} ms: {}; p99 <= {GOAL_P99_MS} ms: {}",
        met(p50 <= GOAL_P50_MS),
        met(p99 <= GOAL_P99_MS)
    );
    Ok(())
}

/// Pickup latencies in milliseconds, sorted.
async fn measure(
    producer: &JobQueue<RolloutJob>,
    source: JobSource<RolloutJob>,
    config: ConsumerConfig,
    jobs: usize,
) -> Result<Vec<f64>, String> {
    let (latency_tx, mut latencies) = mpsc::unbounded_channel::<i64>();
    let handler = move |job: RolloutJob| {
        let latency = chrono::Utc::now().timestamp_micros() - job.enqueued_at_micros;
        let _ = latency_tx.send(latency);
        async { Ok(()) }
    };
    let (stop, stopped) = oneshot::channel::<()>();
    let consumer = tokio::spawn(consume(source, config, handler, async move {
        let _ = stopped.await;
    }));

    let mut gap = Jitter(0x2545_f491_4f6c_dd1d);
    let mut samples = Vec::with_capacity(jobs);
    // Warm up (connections, scripts loaded) and discard, then measure.
    for (count, keep) in [(WARM_UP_JOBS, false), (jobs, true)] {
        for _ in 0..count {
            let job = RolloutJob::new(DeploymentId::generate(), None);
            producer
                .enqueue(job)
                .await
                .map_err(|e| format!("enqueue: {e}"))?;
            tokio::time::sleep(Duration::from_micros(gap.between(2_000, 8_000))).await;
        }
        for received in 0..count {
            match tokio::time::timeout(Duration::from_secs(30), latencies.recv()).await {
                Ok(Some(latency)) if keep => samples.push(latency),
                Ok(Some(_)) => {}
                _ => {
                    return Err(format!(
                        "only {received} of {count} jobs were picked up within 30 s"
                    ))
                }
            }
        }
    }
    let _ = stop.send(());
    consumer
        .await
        .map_err(|e| format!("consumer task: {e}"))?
        .map_err(|e| format!("consumer: {e}"))?;

    let mut millis: Vec<f64> = samples.iter().map(|&us| us as f64 / 1000.0).collect();
    millis.sort_by(f64::total_cmp);
    Ok(millis)
}

fn report(backend: &str, millis: &[f64]) {
    println!(
        "{backend:<10}  n={:<5} p50 {:>7.2} ms  p90 {:>7.2} ms  p99 {:>7.2} ms  max {:>7.2} ms",
        millis.len(),
        percentile(millis, 0.50),
        percentile(millis, 0.90),
        percentile(millis, 0.99),
        millis.last().copied().unwrap_or(f64::NAN),
    );
}

/// Nearest-rank percentile of sorted values.
fn percentile(sorted: &[f64], q: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let rank = (q * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

fn env_number(name: &str) -> Option<usize> {
    std::env::var(name).ok()?.parse().ok()
}

/// xorshift64: gaps that do not line up with the poll interval.
struct Jitter(u64);

impl Jitter {
    fn between(&mut self, low: u64, high: u64) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        low + self.0 % (high - low + 1)
    }
}
