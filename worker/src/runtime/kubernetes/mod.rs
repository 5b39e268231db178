//! The Kubernetes runtime: each app in its own namespace, each service a
//! Deployment (and a Service when it has a port), each release's env an
//! immutable Secret, all applied server-side as field manager `slipway`.
//! The cluster runs the rolling update; this runtime watches it and decides,
//! with `kubectl rollout status`'s rule and the fail-fast rules of
//! [`status`], when it is done or broken.
//!
//! Where things live: [`objects`] builds the objects of a release (pure);
//! [`permissions`] lists every API permission used, and `cluster` is the
//! only way to the API, checked against that list; `converge` applies and
//! cleans up, `wait` watches a rollout to its verdict, `observe` answers
//! `ps`, `logs` and the supervisor, `teardown` removes a release or an app.

mod cluster;
mod converge;
mod mirror;
pub mod objects;
mod observe;
pub mod permissions;
pub mod status;
mod teardown;
mod wait;

use crate::runtime::{
    in_step, Instance, Limits, LogChunk, Probe, Runtime, RuntimeError, StepOf, Stop, Target,
    TornDown,
};
use cluster::Cluster;
use slipway_core::domain::{AppName, DeploymentId, Health, ReleaseId, ServiceName};
use std::time::Duration;

/// How the Kubernetes runtime names, keeps and watches things.
#[derive(Clone, Debug)]
pub struct KubeConfig {
    /// Each app lives in the namespace `<prefix><app>`.
    pub namespace_prefix: String,
    /// Create each app's namespace, and delete it with the app. Off when
    /// the worker may only act inside namespaces made for it beforehand
    /// (namespaced RBAC): it then never touches a Namespace object.
    pub manage_namespaces: bool,
    /// How many env Secrets of past releases are kept for rollbacks.
    pub keep_secrets: usize,
    /// When a rollout counts as failed.
    pub rules: status::Rules,
    /// How often the limits (deadline, cancel, lease) are checked while a
    /// rollout is watched.
    pub poll: Duration,
}

impl Default for KubeConfig {
    fn default() -> Self {
        Self {
            namespace_prefix: "slipway-".into(),
            manage_namespaces: true,
            keep_secrets: 5,
            rules: status::Rules::default(),
            poll: Duration::from_millis(50),
        }
    }
}

/// Runs releases on a Kubernetes cluster through its API.
#[derive(Clone)]
pub struct KubeRuntime {
    cluster: Cluster,
    config: KubeConfig,
}

impl KubeRuntime {
    /// A runtime talking to the cluster through `client`.
    pub fn new(client: kube::Client, config: KubeConfig) -> Self {
        Self {
            cluster: Cluster::new(client),
            config,
        }
    }

    /// A runtime for the cluster this process finds: its own when it runs
    /// in a pod, else the one `KUBECONFIG` (or `~/.kube/config`) names.
    pub async fn connect(config: KubeConfig) -> Result<Self, crate::runtime::RuntimeError> {
        let client = kube::Client::try_default().await.map_err(|e| {
            crate::runtime::RuntimeError::Failed(format!(
                "cannot find the Kubernetes cluster (in-cluster configuration, KUBECONFIG or ~/.kube/config): {e}"
            ))
        })?;
        Ok(Self::new(client, config))
    }

    /// The namespace of `app`.
    fn namespace(&self, app: &AppName) -> String {
        objects::namespace_name(&self.config.namespace_prefix, app)
    }
}

impl Runtime for KubeRuntime {
    async fn converge(&self, target: &Target, limits: &Limits<'_>) -> Result<(), Stop> {
        self.converge_to(target, limits).await
    }

    async fn retire(
        &self,
        app: &AppName,
        release: &ReleaseId,
        deployment: &DeploymentId,
        limits: &Limits<'_>,
    ) -> Result<(), Stop> {
        let of = StepOf {
            app,
            release,
            deployment: Some(deployment),
            service: None,
        };
        in_step(
            step_span!("retire", of),
            self.retire_release(app, release, limits),
        )
        .await
    }

    /// Re-applies the service's objects whatever is missing: the
    /// Deployment brings its pods back to its count by itself.
    async fn restore(
        &self,
        target: &Target,
        service: &ServiceName,
        _missing: usize,
        limits: &Limits<'_>,
    ) -> Result<(), Stop> {
        self.restore_service(target, service, limits).await
    }

    /// Nothing to forget: pods belong to the cluster, which keeps no more
    /// of them than it wants to.
    async fn forget(&self, _instance: &Instance) -> Result<(), RuntimeError> {
        Ok(())
    }

    async fn instances(&self, app: &AppName) -> Result<Vec<Instance>, RuntimeError> {
        self.pods_of(app).await
    }

    async fn every_instance(&self) -> Result<Vec<Instance>, RuntimeError> {
        self.every_pod().await
    }

    /// The cluster probes pods itself (the readiness probe made from
    /// `health`): the answer is its Ready condition.
    async fn probe(&self, instance: &Instance, _health: Option<&Health>) -> Probe {
        self.probe_pod(instance).await
    }

    async fn read_log(&self, instance: &Instance, from: u64) -> Result<LogChunk, RuntimeError> {
        self.pod_log(instance, from).await
    }

    /// Pods stop with the termination grace their template gives them
    /// (the engine's stop grace plus the service's drain), not `grace`.
    #[tracing::instrument(skip_all, fields(%app))]
    async fn tear_down(&self, app: &AppName, _grace: Duration) -> Result<TornDown, RuntimeError> {
        self.tear_down_app(app).await
    }

    #[tracing::instrument(skip_all, fields(%app))]
    async fn forget_app(&self, app: &AppName) -> Result<(), RuntimeError> {
        self.forget_namespace(app).await
    }
}
