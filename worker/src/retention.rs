//! Retention, run by every worker every few minutes: the finished jobs on
//! Redis that [`JobRetention`] does not keep, and the events and webhook
//! deliveries older than the event retention period.
//!
//! Every worker runs it; sweeps running at once on several workers are
//! harmless (each removal checks again and happens once). An in-process
//! queue (`slipway dev`) keeps no finished jobs, so only the event log is
//! pruned there.

use slipway_core::store::{Pruned, Store, DEFAULT_EVENT_RETENTION};
use slipway_queue::retention::{sweep_finished, JobRetention, Swept};
use slipway_queue::JobQueue;
use std::future::Future;
use std::time::Duration;

/// How often a worker sweeps by default.
pub const DEFAULT_SWEEP_EVERY: Duration = Duration::from_secs(5 * 60);
/// The first sweep after start, at most (sooner when `every` is shorter).
const FIRST_SWEEP_AFTER: Duration = Duration::from_secs(60);

/// What a worker keeps, and how often it sweeps.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RetentionConfig {
    /// Finished jobs kept on Redis.
    pub jobs: JobRetention,
    /// Events and deliveries older than this are pruned; `None` keeps them forever.
    pub events: Option<Duration>,
    /// Time between sweeps.
    pub every: Duration,
}

impl Default for RetentionConfig {
    /// The queue's defaults (the newest 10,000 finished jobs of the last 7
    /// days), 90 days of events, a sweep every 5 minutes.
    fn default() -> Self {
        Self {
            jobs: JobRetention::default(),
            events: Some(DEFAULT_EVENT_RETENTION),
            every: DEFAULT_SWEEP_EVERY,
        }
    }
}

/// Sweeps every `config.every` (the first within a minute of start) until
/// `stopped` resolves.
pub async fn run(
    store: Store,
    queue: JobQueue,
    config: RetentionConfig,
    stopped: impl Future<Output = ()>,
) {
    let every = config.every.max(Duration::from_millis(10));
    let first = tokio::time::Instant::now() + FIRST_SWEEP_AFTER.min(every);
    let mut ticks = tokio::time::interval_at(first, every);
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    tokio::pin!(stopped);
    loop {
        tokio::select! {
            () = &mut stopped => return,
            _ = ticks.tick() => {}
        }
        tokio::select! {
            () = &mut stopped => return,
            _ = sweep_once(&store, &queue, &config) => {}
        }
    }
}

/// One sweep of the queue and one pruning pass of the event log; failures
/// are logged and tried again on the next sweep.
pub async fn sweep_once(
    store: &Store,
    queue: &JobQueue,
    config: &RetentionConfig,
) -> (Option<Swept>, Option<Pruned>) {
    let swept = match queue.as_redis() {
        Some(redis) if !config.jobs.keeps_everything() => {
            match sweep_finished(redis, &config.jobs).await {
                Ok(swept) => {
                    if swept.removed > 0 {
                        tracing::info!(
                            removed = swept.removed,
                            finished = swept.finished,
                            "finished jobs past their retention removed from Redis"
                        );
                    }
                    Some(swept)
                }
                Err(error) => {
                    tracing::warn!(%error, "cannot sweep finished jobs; trying again later");
                    None
                }
            }
        }
        _ => None,
    };
    let pruned = match config.events {
        Some(keep) => {
            let store = store.clone();
            match tokio::task::spawn_blocking(move || store.prune_event_log(keep)).await {
                Ok(Ok(pruned)) => {
                    if pruned.batches > 0 {
                        tracing::info!(
                            events = pruned.events,
                            deliveries = pruned.deliveries,
                            longest_batch_ms = pruned.longest_batch.as_millis() as u64,
                            "events and deliveries past their retention pruned"
                        );
                    }
                    Some(pruned)
                }
                Ok(Err(error)) => {
                    tracing::warn!(%error, "cannot prune the event log; trying again later");
                    None
                }
                Err(error) => {
                    tracing::warn!(%error, "the event log pruning task failed");
                    None
                }
            }
        }
        None => None,
    };
    (swept, pruned)
}
