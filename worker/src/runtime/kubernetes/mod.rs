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

use cluster::Cluster;
use std::time::Duration;

/// How the Kubernetes runtime names, keeps and watches things.
#[derive(Clone, Debug)]
pub struct KubeConfig {
    /// Each app lives in the namespace `<prefix><app>`.
    pub namespace_prefix: String,
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
    fn namespace(&self, app: &slipway_core::domain::AppName) -> String {
        objects::namespace_name(&self.config.namespace_prefix, app)
    }
}
