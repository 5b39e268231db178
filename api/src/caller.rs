//! Who a request comes from, once authenticated (`auth` does that): the
//! identity its token stands for, what it may do, and the idempotency key
//! its writes carry.

use crate::error::ApiError;
use slipway_core::domain::{AppName, Grant, Scope};
use slipway_core::store::{IdempotencyGuard, Identity};
use std::sync::Arc;

/// The authenticated identity of a request, and the idempotency key its
/// writes carry, if any.
#[derive(Debug, Clone)]
pub struct Caller {
    pub identity: Identity,
    pub guard: Option<Arc<IdempotencyGuard>>,
}

impl Caller {
    /// The name recorded as `actor` on what this request changes.
    pub fn actor(&self) -> String {
        self.identity.name.clone()
    }

    pub fn grant(&self) -> &Grant {
        &self.identity.grant
    }

    /// 403 unless the token's grant covers `needed` on `app` (`None`: routes
    /// that belong to no app, which only an all-apps grant reaches).
    pub fn require(&self, needed: Scope, app: Option<&AppName>) -> Result<(), ApiError> {
        self.identity
            .grant
            .allows(needed, app)
            .map_err(|denied| ApiError::Forbidden(denied.to_string()))
    }
}
