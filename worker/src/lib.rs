//! Slipway's workers: the rollout engine above a `Runtime` driver, the
//! rollout job's handler (the consumers are `slipway-queue`'s), and the reconciler.

pub mod reconcile;
pub mod retention;
pub mod rollout;
pub mod router;
pub mod run;
pub mod runtime;
pub mod teardown;
#[cfg(feature = "testing")]
pub mod testing;
pub mod trace;
pub mod webhooks;
