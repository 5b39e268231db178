//! The in-process consumer (`slipway dev`): jobs from the in-process channel
//! run on tokio tasks, each under [`run_attempts`].

use std::future::Future;
use std::sync::Arc;

use tokio::sync::Semaphore;
use tokio::task::JoinSet;

use crate::attempts::{run_attempts, JobFailed};
use crate::config::ConsumerConfig;
use crate::error::QueueError;
use crate::job::Job;
use crate::producer::InProcessJobs;

pub(super) async fn consume<J, F, Fut>(
    mut jobs: InProcessJobs<J>,
    config: ConsumerConfig,
    handler: F,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<(), QueueError>
where
    J: Job,
    F: Fn(J) -> Fut + Clone + Send + Sync + 'static,
    Fut: Future<Output = Result<(), JobFailed>> + Send + 'static,
{
    let limit = Arc::new(Semaphore::new(config.concurrency));
    // Dropping the set aborts whatever still runs.
    let mut running = JoinSet::new();
    let mut shutdown = std::pin::pin!(shutdown);
    loop {
        while let Some(done) = running.try_join_next() {
            log_join(done);
        }
        let permit = tokio::select! {
            biased;
            () = &mut shutdown => break,
            permit = limit.clone().acquire_owned() => permit.expect("the semaphore is never closed"),
        };
        let job = tokio::select! {
            biased;
            () = &mut shutdown => break,
            job = jobs.recv() => match job {
                Some(job) => job,
                None => {
                    tracing::info!(queue = J::NAME,
                        "every in-process job queue handle is gone; consumer stopping");
                    break;
                }
            },
        };
        let (handler, config) = (handler.clone(), config.clone());
        running.spawn(async move {
            let _permit = permit;
            // Given up is logged already; nothing is left to acknowledge.
            let _ = run_attempts(job, &handler, &config).await;
        });
    }
    let drain = async {
        while let Some(done) = running.join_next().await {
            log_join(done);
        }
    };
    if tokio::time::timeout(config.shutdown_grace, drain)
        .await
        .is_err()
    {
        tracing::warn!(
            queue = J::NAME,
            abandoned = running.len(),
            "shutdown grace elapsed; abandoning running jobs"
        );
        running.abort_all();
    }
    Ok(())
}

fn log_join(result: Result<(), tokio::task::JoinError>) {
    if let Err(e) = result {
        if !e.is_cancelled() {
            tracing::error!(error = %e, "job task failed");
        }
    }
}
