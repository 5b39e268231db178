//! Slipway's workers: the rollout engine above a `Runtime` driver, the job
//! consumers, and the reconciler.

pub mod queue;
pub mod reconcile;
pub mod rollout;
pub mod router;
pub mod run;
pub mod runtime;
pub mod teardown;
#[cfg(feature = "testing")]
pub mod testing;
pub mod webhooks;
