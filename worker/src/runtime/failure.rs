//! Why a rollout failed: one variant per cause, so the engine decides on
//! causes, not on text. The text (`Display`) is what the deployment's
//! `reason` records and what people read in the CLI, Slack and webhooks.

use slipway_core::domain::{ReleaseId, ServiceName};
use std::fmt;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Failure {
    /// Someone asked to cancel the rollout.
    Cancelled,
    /// The deployment's deadline passed; `seconds` is its length.
    Deadline { seconds: i64 },
    /// A rollback ran out of its own time.
    RollbackTimeout { seconds: i64 },
    /// Instances restored after a crash did not start in time.
    StartTimeout { seconds: i64 },
    /// The release could not be read for a reason that will not go away.
    ReleaseUnreadable { release: ReleaseId, error: String },
    /// The release has no build, so nothing to run.
    NoBuild { release: ReleaseId },
    /// The promotion's minimum/maximum do not make a strategy.
    InvalidStrategy(String),
    /// The runtime refused to start an instance of the service.
    CannotStart { service: ServiceName, why: String },
    /// An instance stopped running (`why` says how), before or after it
    /// was first healthy.
    Exited {
        service: ServiceName,
        instance: String,
        why: String,
        healthy: bool,
    },
    /// An instance kept failing its health check until its time was up.
    Unhealthy {
        service: ServiceName,
        instance: String,
        why: String,
    },
    /// The platform reports the service's rollout as failed (Kubernetes:
    /// a pod crash-looping, an image that cannot be pulled, no progress
    /// before the Deployment's deadline), naming the pod to blame if any.
    Rejected {
        service: ServiceName,
        pod: Option<String>,
        why: String,
    },
    /// The runtime failed in a way that does not go away by retrying.
    Runtime(String),
    /// The rollout failed and there is no previous release to return to.
    NoRollback(Box<Failure>),
    /// The rollback itself failed: a person has to look.
    RollbackFailed { to: ReleaseId, cause: Box<Failure> },
    /// A deployment to roll back has no previous release.
    NothingToRollBackTo,
}

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Failure::Cancelled => f.write_str("cancelled"),
            Failure::Deadline { seconds } => {
                write!(f, "did not finish before its deadline ({seconds} s)")
            }
            Failure::RollbackTimeout { seconds } => {
                write!(f, "rollback did not finish within {seconds} s")
            }
            Failure::StartTimeout { seconds } => write!(f, "could not start within {seconds} s"),
            Failure::ReleaseUnreadable { release, error } => {
                write!(f, "release {release} cannot be read: {error}")
            }
            Failure::NoBuild { release } => {
                write!(f, "release {release} has no build: nothing to run")
            }
            Failure::InvalidStrategy(why) => write!(f, "invalid strategy: {why}"),
            Failure::CannotStart { service, why } => write!(f, "{service} cannot start: {why}"),
            Failure::Exited {
                service,
                instance,
                why,
                healthy,
            } => {
                write!(f, "{service} instance {instance} {why}")?;
                if !healthy {
                    f.write_str(" before it was healthy")?;
                }
                Ok(())
            }
            Failure::Unhealthy {
                service,
                instance,
                why,
            } => write!(
                f,
                "{service} instance {instance} failed its health check: {why}"
            ),
            Failure::Rejected { service, pod, why } => match pod {
                Some(pod) => write!(f, "{service} pod {pod} {why}"),
                None => write!(f, "{service} {why}"),
            },
            Failure::Runtime(why) => f.write_str(why),
            Failure::NoRollback(cause) => {
                write!(f, "{cause}; no previous release to roll back to")
            }
            Failure::RollbackFailed { to, cause } => {
                write!(f, "rollback to {to} failed: {cause}")
            }
            Failure::NothingToRollBackTo => f.write_str("no previous release to roll back to"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The recorded reasons are read by people and matched by tests and
    /// scripts: their wording is part of the contract.
    #[test]
    fn reasons_read_as_before() {
        let release = ReleaseId::parse("RABCDEFGHIJ").unwrap();
        let service = ServiceName::parse("web").unwrap();
        let instance = "web-1".to_owned();
        let exited = Failure::Exited {
            service: service.clone(),
            instance: instance.clone(),
            why: "exited with status 3".into(),
            healthy: false,
        };
        let cases = [
            (Failure::Cancelled, "cancelled"),
            (
                Failure::Deadline { seconds: 600 },
                "did not finish before its deadline (600 s)",
            ),
            (
                Failure::RollbackTimeout { seconds: 60 },
                "rollback did not finish within 60 s",
            ),
            (
                Failure::NoBuild {
                    release: release.clone(),
                },
                "release RABCDEFGHIJ has no build: nothing to run",
            ),
            (
                Failure::CannotStart {
                    service: service.clone(),
                    why: "no such file".into(),
                },
                "web cannot start: no such file",
            ),
            (
                exited.clone(),
                "web instance web-1 exited with status 3 before it was healthy",
            ),
            (
                Failure::Unhealthy {
                    service,
                    instance,
                    why: "503".into(),
                },
                "web instance web-1 failed its health check: 503",
            ),
            (
                Failure::Rejected {
                    service: ServiceName::parse("web").unwrap(),
                    pod: Some("web-5d8f7c9b4-x2k4q".into()),
                    why: "is in CrashLoopBackOff (last exit code 1)".into(),
                },
                "web pod web-5d8f7c9b4-x2k4q is in CrashLoopBackOff (last exit code 1)",
            ),
            (
                Failure::NoRollback(Box::new(Failure::Cancelled)),
                "cancelled; no previous release to roll back to",
            ),
            (
                Failure::RollbackFailed {
                    to: release,
                    cause: Box::new(exited),
                },
                "rollback to RABCDEFGHIJ failed: web instance web-1 exited with status 3 before it was healthy",
            ),
        ];
        for (failure, text) in cases {
            assert_eq!(failure.to_string(), text);
        }
    }
}
