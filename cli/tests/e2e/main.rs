//! The real `slipway` binary end to end: servers, rollouts on real
//! processes, PostgreSQL and Redis.

mod cleanup;
mod client_apps;
mod client_latest;
mod client_releases;
mod client_retry;
mod client_tokens;
mod client_wait;
mod client_webhooks;
mod collector;
mod faults;
mod metrics;
#[path = "../support/processes.rs"]
mod processes;
mod rollouts;
mod router;
mod secrets;
mod servers;
mod supervise;
mod support;
mod switch;
mod telemetry;
mod webhooks;
