//! Slipway's HTTP API: actix-web, JSON, one route table (`routes::config`).

mod auth;
mod body;
mod error;
mod routes;
mod startup;
mod state;
pub mod tracing_mw;

pub use error::ApiError;
pub use routes::metrics::metrics_only_server;
pub use startup::{ApiConfig, Application, StartError, ADMIN_TOKEN_NAME};

/// Request bodies over this size are refused with 413.
pub const MAX_BODY_BYTES: usize = 1024 * 1024;
