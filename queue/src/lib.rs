//! Slipway's job queue: the producer ([`JobQueue`]) and the consumers
//! ([`consume`]) of background jobs, over Redis (apalis-redis) for
//! `slipway server api|worker` or over an in-process channel for `slipway dev`.
//!
//! The database is the source of truth: a job carries ids and trace context
//! and only wakes a worker. Delivery is at least once, so handlers are
//! idempotent. A job type is a serde struct implementing [`Job`] (its queue
//! name and what identifies its work); running it is a handler function.
//! Both backends run every handler under one set of rules (`attempts.rs`):
//! attempts, backoff, timeout and panics.

mod attempts;
mod config;
mod consume;
mod error;
mod job;
mod producer;
pub mod retention;
#[cfg(feature = "testing")]
pub mod testing;

pub use attempts::JobFailed;
pub use config::ConsumerConfig;
pub use consume::{consume, JobSource};
pub use error::QueueError;
pub use job::Job;
pub use producer::{InProcessJobs, JobQueue, RedisQueue};
