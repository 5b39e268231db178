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
