//! What a runtime is asked to make run: one release of one app, with its
//! manifest, its env and the promotion's strategy overrides.

use super::failure::Failure;
use super::limits::Stop;
use super::step::StepOf;
use slipway_core::domain::{
    AppName, DeploymentId, Env, Manifest, ReleaseId, Service, ServiceName, Strategy,
};

/// A release's manifest and env, with a promotion's strategy overrides.
#[derive(Clone, Debug)]
pub struct Target {
    pub app: AppName,
    pub release: ReleaseId,
    /// The deployment it runs for (step spans name it); `None` for the supervisor.
    pub deployment: Option<DeploymentId>,
    pub manifest: Manifest,
    /// The release's env; its `Debug` shows keys only.
    pub env: Env,
    /// The promotion's `minimum`, over the services' own.
    pub minimum: Option<u8>,
    /// The promotion's `maximum`, over the services' own.
    pub maximum: Option<u16>,
}

impl Target {
    /// The service's strategy with this promotion's overrides applied.
    pub fn strategy(&self, service: &Service) -> Result<Strategy, Stop> {
        let base = service.strategy();
        Strategy::new(
            self.minimum.unwrap_or(base.minimum()),
            self.maximum.unwrap_or(base.maximum()),
        )
        .map_err(|e| Stop::Failed(Failure::InvalidStrategy(e.to_string())))
    }

    /// What a step over this target (or one of its services) works on.
    pub fn step<'a>(&'a self, service: Option<&'a ServiceName>) -> StepOf<'a> {
        StepOf {
            app: &self.app,
            release: &self.release,
            deployment: self.deployment.as_ref(),
            service,
        }
    }
}
