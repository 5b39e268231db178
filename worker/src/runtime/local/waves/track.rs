//! What a rollout knows of each new instance between looks: when to check
//! its health first, when to give up on it, and its "health wait" span.

use crate::runtime::{Failure, Instance, StepOf, Stop, Target};
use crate::trace;
use chrono::{DateTime, TimeDelta, Utc};
use slipway_core::domain::Health;

/// A service without a health check counts as healthy once it has stayed up this long.
const NO_HEALTH_SETTLE: TimeDelta = TimeDelta::seconds(1);

/// What is known of one target instance between looks.
pub(super) struct Track {
    pub(super) healthy: bool,
    /// No health check before this (the service's `grace`).
    pub(super) first_check_at: DateTime<Utc>,
    /// Not healthy by then: the instance failed.
    pub(super) give_up_at: DateTime<Utc>,
    /// The "health wait" span, open until the instance is healthy or failed.
    pub(super) wait: Option<tracing::Span>,
}

/// The instance failed: its health wait, if still open, ends with `failure`.
pub(super) fn give_up<T>(track: &mut Track, failure: Failure) -> Result<T, Stop> {
    if let Some(wait) = track.wait.take() {
        trace::fail(&wait, &failure.to_string());
    }
    Err(Stop::Failed(failure))
}

/// What is watched of a new instance: when to check it first and when to give up.
pub(super) fn track(
    target: &Target,
    instance: &Instance,
    health: Option<&Health>,
    failure_intervals: u32,
) -> Track {
    let seconds = |s: u32| TimeDelta::seconds(s.into());
    let (first_check_at, give_up_at) = match health {
        Some(h) => {
            let first = instance.started_at + seconds(h.grace());
            let window = seconds(h.interval()) * failure_intervals as i32;
            (first, first + window)
        }
        None => {
            let first = instance.started_at + NO_HEALTH_SETTLE;
            (first, first)
        }
    };
    let wait = step_span!(
        "health wait",
        target.step(Some(&instance.service)),
        instance = %instance.id
    );
    Track {
        healthy: false,
        first_check_at,
        give_up_at,
        wait: Some(wait),
    }
}
