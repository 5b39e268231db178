//! The in-process consumer (`slipway dev`): the same handler contract as the
//! Redis one, run on tokio tasks fed by the in-process channel.

use std::future::Future;
use std::panic::AssertUnwindSafe;
use std::sync::Arc;

use futures_util::FutureExt;
use slipway_core::jobs::{InProcessJobs, QueueError, RolloutJob};
use tokio::sync::Semaphore;
use tokio::task::JoinSet;

use super::{log_failure, ConsumerConfig, JobFailed};

pub(super) async fn consume_in_process<F, Fut>(
    mut jobs: InProcessJobs,
    config: ConsumerConfig,
    handler: F,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<(), QueueError>
where
    F: Fn(RolloutJob) -> Fut + Clone + Send + Sync + 'static,
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
                    tracing::info!("every in-process job queue handle is gone; consumer stopping");
                    break;
                }
            },
        };
        let (handler, config) = (handler.clone(), config.clone());
        running.spawn(async move {
            let _permit = permit;
            run_in_process(job, &handler, &config).await;
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
            abandoned = running.len(),
            "shutdown grace elapsed; abandoning running rollout jobs"
        );
        running.abort_all();
    }
    Ok(())
}

/// The in-process twin of the apalis layers: attempts, backoff, timeout, panics.
///
/// No span wraps an attempt: the handler's own span continues the job's
/// trace, and one here would start a trace of its own (it has no parent).
/// Failure lines name the deployment and attempt instead.
async fn run_in_process<F, Fut>(job: RolloutJob, handler: &F, config: &ConsumerConfig)
where
    F: Fn(RolloutJob) -> Fut,
    Fut: Future<Output = Result<(), JobFailed>>,
{
    let deployment = &job.deployment;
    for attempt in 1..=config.max_attempts {
        let call = AssertUnwindSafe(tokio::time::timeout(config.job_timeout, async {
            handler(job.clone()).await
        }))
        .catch_unwind();
        let failed = match call.await {
            Ok(Ok(Ok(()))) => return,
            Ok(Ok(Err(failed))) => failed,
            Ok(Err(_elapsed)) => {
                JobFailed::retry(format!("timed out after {:?}", config.job_timeout))
            }
            Err(panic) => {
                let panic = panic_message(panic.as_ref());
                tracing::error!(%deployment, attempt, %panic,
                    "rollout job handler panicked; not retrying");
                return;
            }
        };
        let give_up = failed.is_permanent() || attempt >= config.max_attempts;
        log_failure(deployment, &failed, attempt, config.max_attempts, give_up);
        if give_up {
            return;
        }
        tokio::time::sleep(config.backoff(attempt)).await;
    }
}

fn panic_message(panic: &(dyn std::any::Any + Send)) -> &str {
    panic
        .downcast_ref::<&str>()
        .copied()
        .or_else(|| panic.downcast_ref::<String>().map(String::as_str))
        .unwrap_or("unknown panic")
}

fn log_join(result: Result<(), tokio::task::JoinError>) {
    if let Err(e) = result {
        if !e.is_cancelled() {
            tracing::error!(error = %e, "rollout job task failed");
        }
    }
}
