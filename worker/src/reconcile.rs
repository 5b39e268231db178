//! The reconciler, in every worker: the database is the truth, so it looks
//! for deployments that need a worker and no job will bring one (a job lost
//! with a flushed Redis, a worker killed mid-rollout whose lease lapsed) and
//! enqueues them again. It never queues one that is driven (a live lease) or
//! whose job was queued lately and not yet taken; should a job still come
//! twice, the lease's fencing token lets one drive at a time.

use chrono::TimeDelta;
use slipway_core::domain::RolloutJob;
use slipway_core::store::Store;
use slipway_queue::JobQueue;
use std::future::Future;
use std::time::Duration;

/// How often to look, and how long a queued job may stay untaken before
/// it is taken for lost and queued again.
#[derive(Clone, Copy, Debug)]
pub struct ReconcileConfig {
    pub every: Duration,
    pub requeue_after: TimeDelta,
}

impl Default for ReconcileConfig {
    fn default() -> Self {
        ReconcileConfig {
            // A dead worker's rollout resumes at most this long after its
            // lease lapses.
            every: Duration::from_secs(1),
            requeue_after: TimeDelta::seconds(10),
        }
    }
}

/// Runs until `shutdown` resolves.
pub async fn run(
    store: Store,
    queue: JobQueue,
    config: ReconcileConfig,
    shutdown: impl Future<Output = ()>,
) {
    tokio::pin!(shutdown);
    loop {
        tokio::select! {
            () = &mut shutdown => return,
            () = tokio::time::sleep(config.every) => {}
        }
        match once(&store, &queue, config.requeue_after).await {
            Ok(0) => {}
            Ok(n) => tracing::info!(
                deployments = n,
                "re-enqueued deployments that need a worker"
            ),
            Err(err) => tracing::warn!(error = %err, "reconcile pass failed"),
        }
    }
}

/// One pass; returns how many deployments were enqueued.
pub async fn once(
    store: &Store,
    queue: &JobQueue,
    requeue_after: TimeDelta,
) -> Result<usize, Box<dyn std::error::Error + Send + Sync>> {
    let taken = store.clone();
    let due =
        tokio::task::spawn_blocking(move || taken.take_due_deployments(requeue_after)).await??;
    for deployment in &due {
        let job = RolloutJob::new(deployment.id.clone(), deployment.traceparent.clone());
        enqueue_or_unmark(store, queue, job).await?;
    }
    Ok(due.len())
}

/// Queues `job`, whose deployment is marked as queued; when that fails the
/// mark is taken back, so the next pass tries again instead of waiting.
pub async fn enqueue_or_unmark(
    store: &Store,
    queue: &JobQueue,
    job: RolloutJob,
) -> Result<(), slipway_queue::QueueError> {
    let Err(err) = queue.enqueue(job.clone()).await else {
        return Ok(());
    };
    let store = store.clone();
    let unmarked =
        tokio::task::spawn_blocking(move || store.unqueue_deployment(&job.deployment)).await;
    if let Ok(Err(error)) = unmarked {
        tracing::warn!(%error, "cannot unmark a deployment whose job was not queued");
    }
    Err(err)
}
