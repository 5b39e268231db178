//! The Kubernetes runtime through the API stand-in, with the real kube
//! client: what a convergence applies and waits for, how it fails fast,
//! what `ps` and `logs` read, and how an app is torn down.

mod converge;
mod engine;
mod engine_control;
mod engine_failures;
mod engine_stage;
mod failures;
mod observe;
mod supervise;
mod support;
mod teardown;
