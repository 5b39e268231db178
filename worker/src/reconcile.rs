//! The reconciler, in every worker: the database is the truth, so it looks
//! for deployments that need a worker and no job will bring one (a job lost
//! with a flushed Redis, a worker killed mid-rollout whose lease lapsed) and
//! enqueues them again. Duplicates are harmless: the lease lets one win.

use chrono::TimeDelta;
use slipway_core::jobs::{JobQueue, RolloutJob};
use slipway_core::store::Store;
use std::future::Future;
use std::time::Duration;

/// How often to look, and how long a pending deployment may wait for its
/// job before it is enqueued again.
#[derive(Clone, Copy, Debug)]
pub struct ReconcileConfig {
    pub every: Duration,
    pub pending_grace: TimeDelta,
}

impl Default for ReconcileConfig {
    fn default() -> Self {
        ReconcileConfig {
            every: Duration::from_secs(2),
            pending_grace: TimeDelta::seconds(3),
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
        match once(&store, &queue, config.pending_grace).await {
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
    pending_grace: TimeDelta,
) -> Result<usize, Box<dyn std::error::Error + Send + Sync>> {
    let store = store.clone();
    let due = tokio::task::spawn_blocking(move || store.due_deployments(pending_grace)).await??;
    for deployment in &due {
        let job = RolloutJob::new(deployment.id.clone(), deployment.traceparent.clone());
        queue.enqueue(job).await?;
    }
    Ok(due.len())
}
