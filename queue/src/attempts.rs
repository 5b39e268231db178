//! The one set of rules every job runs under, whichever backend delivered it:
//! [`run_attempts`] calls the handler at most `max_attempts` times with
//! doubling backoff between calls, cuts each call off after `job_timeout`,
//! stops at once on a [`JobFailed::permanent`] failure, and catches a panic
//! (logged, not retried). Every failure is logged here, once.

use std::error::Error as StdError;
use std::fmt;
use std::future::Future;
use std::panic::AssertUnwindSafe;

use apalis_core::error::BoxDynError;
use futures_util::FutureExt;

use crate::config::ConsumerConfig;
use crate::job::Job;

/// A handler's failure: retried unless [`JobFailed::permanent`].
#[derive(Debug)]
pub struct JobFailed {
    error: BoxDynError,
    permanent: bool,
}

impl JobFailed {
    /// A failure worth another attempt (database down, runtime unreachable).
    pub fn retry(error: impl Into<BoxDynError>) -> Self {
        Self {
            error: error.into(),
            permanent: false,
        }
    }

    /// A failure no retry can fix (the deployment row is gone): stop now.
    pub fn permanent(error: impl Into<BoxDynError>) -> Self {
        Self {
            error: error.into(),
            permanent: true,
        }
    }

    /// Whether retrying is pointless.
    pub fn is_permanent(&self) -> bool {
        self.permanent
    }
}

impl fmt::Display for JobFailed {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.error.fmt(f)
    }
}

impl StdError for JobFailed {
    fn source(&self) -> Option<&(dyn StdError + 'static)> {
        self.error.source()
    }
}

/// A job given up on, already logged: its last failure, or a panic.
#[derive(Debug, thiserror::Error)]
pub(crate) enum GaveUp {
    #[error("{0}")]
    Failed(JobFailed),
    #[error("handler panicked: {0}")]
    Panicked(String),
}

/// Runs `job` through `handler` under `config`'s rules; `Err` once the job
/// is given up (attempts used up, a permanent failure, a panic).
///
/// No span wraps an attempt: the handler's own span continues the job's
/// trace, and one here would start a trace of its own (it has no parent).
/// Failure lines name the queue, the job's key and the attempt instead.
pub(crate) async fn run_attempts<J, F, Fut>(
    job: J,
    handler: &F,
    config: &ConsumerConfig,
) -> Result<(), GaveUp>
where
    J: Job,
    F: Fn(J) -> Fut,
    Fut: Future<Output = Result<(), JobFailed>>,
{
    let key = job.key();
    let max_attempts = config.max_attempts;
    let mut attempt = 0;
    loop {
        attempt += 1;
        let call = AssertUnwindSafe(tokio::time::timeout(
            config.job_timeout,
            handler(job.clone()),
        ))
        .catch_unwind();
        let failed = match call.await {
            Ok(Ok(Ok(()))) => return Ok(()),
            Ok(Ok(Err(failed))) => failed,
            Ok(Err(_elapsed)) => {
                JobFailed::retry(format!("timed out after {:?}", config.job_timeout))
            }
            Err(panic) => {
                let panic = panic_message(panic.as_ref()).to_owned();
                tracing::error!(queue = J::NAME, %key, attempt, %panic,
                    "job handler panicked; not retrying");
                return Err(GaveUp::Panicked(panic));
            }
        };
        let permanent = failed.is_permanent();
        if permanent || attempt >= max_attempts {
            tracing::error!(queue = J::NAME, %key, error = %failed, attempt, max_attempts,
                permanent, "job failed; giving up");
            return Err(GaveUp::Failed(failed));
        }
        tracing::warn!(queue = J::NAME, %key, error = %failed, attempt, max_attempts,
            "job failed; will retry");
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

#[cfg(test)]
mod tests {
    use super::*;
    use slipway_core::domain::{DeploymentId, RolloutJob};
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::Arc;
    use std::time::Duration;

    fn quick() -> ConsumerConfig {
        let mut config = ConsumerConfig::new("attempts-test");
        config.job_timeout = Duration::from_millis(50);
        config.retry_backoff = Duration::from_millis(1);
        config
    }

    /// A handler counting its calls, doing `behaviour` each time.
    fn counting(
        calls: &Arc<AtomicUsize>,
        behaviour: fn(usize) -> Result<(), JobFailed>,
        hang: bool,
    ) -> impl Fn(RolloutJob) -> futures_util::future::BoxFuture<'static, Result<(), JobFailed>>
    {
        let calls = calls.clone();
        move |_job| {
            let call = calls.fetch_add(1, Ordering::SeqCst) + 1;
            async move {
                if hang {
                    std::future::pending::<()>().await;
                }
                behaviour(call)
            }
            .boxed()
        }
    }

    fn job() -> RolloutJob {
        RolloutJob::new(DeploymentId::generate(), None)
    }

    #[tokio::test]
    async fn a_call_past_the_timeout_is_cut_off_and_retried_to_the_limit() {
        let calls = Arc::new(AtomicUsize::new(0));
        let handler = counting(&calls, |_| Ok(()), true);
        let gave_up = run_attempts(job(), &handler, &quick()).await;
        assert!(
            matches!(&gave_up, Err(GaveUp::Failed(f)) if f.to_string().contains("timed out")),
            "{gave_up:?}"
        );
        assert_eq!(calls.load(Ordering::SeqCst), 3);
    }

    #[tokio::test]
    async fn a_retried_failure_can_succeed_and_a_permanent_one_stops_at_once() {
        let calls = Arc::new(AtomicUsize::new(0));
        let handler = counting(
            &calls,
            |call| match call {
                1 => Err(JobFailed::retry("first")),
                _ => Ok(()),
            },
            false,
        );
        assert!(run_attempts(job(), &handler, &quick()).await.is_ok());
        assert_eq!(calls.load(Ordering::SeqCst), 2);

        let calls = Arc::new(AtomicUsize::new(0));
        let handler = counting(&calls, |_| Err(JobFailed::permanent("gone")), false);
        let gave_up = run_attempts(job(), &handler, &quick()).await;
        assert!(matches!(gave_up, Err(GaveUp::Failed(f)) if f.is_permanent()));
        assert_eq!(calls.load(Ordering::SeqCst), 1);
    }

    #[tokio::test]
    async fn a_panic_is_caught_and_not_retried() {
        let calls = Arc::new(AtomicUsize::new(0));
        let handler = counting(&calls, |_| panic!("scripted panic"), false);
        let gave_up = run_attempts(job(), &handler, &quick()).await;
        assert!(
            matches!(&gave_up, Err(GaveUp::Panicked(message)) if message == "scripted panic"),
            "{gave_up:?}"
        );
        assert_eq!(calls.load(Ordering::SeqCst), 1);
    }
}
