//! Slipway's HTTP API: actix-web, JSON, one route table (`routes::config`).

mod auth;
mod body;
mod caller;
mod console;
mod error;
mod idempotency;
mod limits;
mod routes;
mod startup;
mod state;
#[cfg(feature = "testing")]
pub mod testing;
pub mod tracing_mw;

pub use error::ApiError;
pub use routes::metrics::metrics_only_server;
pub use startup::{
    ApiConfig, ApiSettings, Application, StartError, ADMIN_TOKEN_NAME,
    DEFAULT_WRITE_RATE_PER_MINUTE,
};

/// Request bodies over this size are refused with 413: builds, releases,
/// deploys and env changes (manifests and env).
pub const MAX_BODY_BYTES: usize = 1024 * 1024;
/// The limit of every other request body (small JSON objects).
pub const SMALL_BODY_BYTES: usize = 16 * 1024;
