//! What every handler shares: the store (reached from blocking threads) and
//! the job queue.

use crate::caller::Caller;
use crate::error::ApiError;
use slipway_core::store::{Store, StoreError};
use slipway_queue::JobQueue;

pub struct AppState {
    pub store: Store,
    /// Wakes workers; the database stays the source of truth.
    pub queue: JobQueue,
    /// Whether webhook URLs may be loopback or private address literals.
    pub allow_private_webhooks: bool,
    /// The process's metrics, served at `/metrics`.
    pub metrics: slipway_core::metrics::Metrics,
    /// Writes per minute per token.
    pub write_limit: crate::limits::RateLimiter,
    /// Where users reach the router, for the URLs apps show.
    pub router_url: Option<slipway_core::domain::RouterUrl>,
}

impl AppState {
    /// Runs blocking store work on actix's blocking pool, never on an
    /// executor thread.
    pub async fn db<T, F>(&self, f: F) -> Result<T, ApiError>
    where
        F: FnOnce(&Store) -> Result<T, StoreError> + Send + 'static,
        T: Send + 'static,
    {
        Self::run(self.store.clone(), f).await
    }

    /// [`AppState::db`] for a request's write: when the request carries an
    /// `Idempotency-Key`, its key is stored in the same transaction.
    pub async fn write<T, F>(&self, caller: &Caller, f: F) -> Result<T, ApiError>
    where
        F: FnOnce(&Store) -> Result<T, StoreError> + Send + 'static,
        T: Send + 'static,
    {
        let store = match &caller.guard {
            Some(guard) => self.store.guarded(guard.clone()),
            None => self.store.clone(),
        };
        Self::run(store, f).await
    }

    async fn run<T, F>(store: Store, f: F) -> Result<T, ApiError>
    where
        F: FnOnce(&Store) -> Result<T, StoreError> + Send + 'static,
        T: Send + 'static,
    {
        actix_web::web::block(move || f(&store))
            .await
            .map_err(ApiError::internal)?
            .map_err(ApiError::from)
    }
}
