//! Slipway's domain and storage: apps, builds, releases, env, deployments
//! and events, over PostgreSQL or SQLite. No HTTP, no runtimes.

pub mod contract;
pub mod domain;
pub mod events;
pub mod metrics;
pub mod seal;
pub mod secret;
pub mod store;
#[cfg(feature = "testing")]
pub mod testing;
pub mod trace_context;
