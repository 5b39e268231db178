//! What every rollout step shares: the `slipway.*` attributes of its span,
//! the macro that opens one, and running a step in it.

use super::limits::Stop;
use crate::trace;
use slipway_core::domain::{AppName, DeploymentId, ReleaseId, ServiceName};
use tracing::Instrument;

/// What a step works on: the `slipway.*` attributes of its span.
#[derive(Clone, Copy)]
pub struct StepOf<'a> {
    pub app: &'a AppName,
    pub release: &'a ReleaseId,
    /// `None` outside a deployment (the supervisor restoring an app).
    pub deployment: Option<&'a DeploymentId>,
    /// `None` for a step over the whole app.
    pub service: Option<&'a ServiceName>,
}

/// A step span with the attributes every step carries (the issue's
/// `slipway.app`, `slipway.release`, `slipway.deployment`, `slipway.service`),
/// plus the step's own fields.
macro_rules! step_span {
    ($name:literal, $of:expr $(, $($field:tt)+)?) => {{
        let of: StepOf<'_> = $of;
        tracing::info_span!(
            $name,
            slipway.app = %of.app,
            slipway.release = %of.release,
            slipway.deployment = of.deployment.map(tracing::field::display),
            slipway.service = of.service.map(tracing::field::display),
            $($($field)+)?
        )
    }};
}

/// Runs `step` inside `span`, which ends as an error with the reason when
/// the step fails.
pub async fn in_step<T>(
    span: tracing::Span,
    step: impl std::future::Future<Output = Result<T, Stop>>,
) -> Result<T, Stop> {
    let result = step.instrument(span.clone()).await;
    if let Err(Stop::Failed(failure)) = &result {
        trace::fail(&span, &failure.to_string());
    }
    result
}
