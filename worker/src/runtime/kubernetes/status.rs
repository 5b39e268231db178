//! Whether one Deployment's rollout is done, still going, or broken, decided
//! from the objects the cluster reports. Pure: no I/O, the clock is passed in,
//! so every rule is tested on objects shaped as clusters write them.
//!
//! Completion follows `kubectl rollout status` (the counts in the
//! Deployment's status, only once its spec is observed), not the Progressing
//! condition alone, which still says `NewReplicaSetAvailable` for the
//! previous rollout right after a patch. Failing fast looks at the pods of
//! the new ReplicaSet only: older pods are what a rollback returns to.

mod pods;
mod replica_sets;
#[cfg(test)]
mod tests;

use chrono::{DateTime, Utc};
use k8s_openapi::api::apps::v1::{Deployment, DeploymentStatus, ReplicaSet};
use k8s_openapi::api::core::v1::Pod;
use std::time::Duration;

pub use replica_sets::new_replica_set;

/// How long some states may last before they count as failures.
#[derive(Clone, Copy, Debug)]
pub struct Rules {
    /// Pods unschedulable (PodScheduled=False, reason Unschedulable) this
    /// long or longer fail the rollout.
    pub unschedulable_after: Duration,
    /// A container of the new ReplicaSet restarted this often during the
    /// rollout fails it; 0 or less turns the check off.
    pub max_restarts: i32,
}

impl Default for Rules {
    fn default() -> Self {
        Self {
            unschedulable_after: Duration::from_secs(60),
            max_restarts: 2,
        }
    }
}

/// What the cluster says about one Deployment's rollout right now.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Verdict {
    /// Still rolling out; the text says what it waits for, as `kubectl
    /// rollout status` would ("2 of 3 updated replicas are available").
    Waiting(String),
    /// Done, by kubectl's rollout-status rule.
    Complete,
    /// Will not get better by waiting.
    Failed(Broken),
}

/// Why a rollout failed: the pod (when one is to blame) and what happened to it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Broken {
    /// The pod's name; None when the Deployment as a whole gave up.
    pub pod: Option<String>,
    /// Reads after the pod name: "is in CrashLoopBackOff (last exit code 1)",
    /// "cannot pull image nginx:nope (ErrImagePull)", "restarted 2 times",
    /// "did not progress within 600 s (ProgressDeadlineExceeded)",
    /// "cannot be scheduled for 60 s: 0/3 nodes are available: ...".
    pub why: String,
}

/// What the API server fills in when a Deployment leaves
/// `progressDeadlineSeconds` out.
const DEFAULT_PROGRESS_DEADLINE_SECONDS: i32 = 600;

/// The verdict on `deployment` given the ReplicaSets and Pods of its
/// namespace that carry its selector's labels (others are ignored), at `now`.
pub fn verdict(
    deployment: &Deployment,
    replica_sets: &[ReplicaSet],
    pods: &[Pod],
    now: DateTime<Utc>,
    rules: &Rules,
) -> Verdict {
    let unreported = DeploymentStatus::default();
    let status = deployment.status.as_ref().unwrap_or(&unreported);
    let generation = deployment.metadata.generation.unwrap_or(0);
    if status.observed_generation.unwrap_or(0) < generation {
        return Verdict::Waiting("waiting for the deployment spec update to be observed".into());
    }
    if let Some(broken) = progress_deadline_exceeded(deployment) {
        return Verdict::Failed(broken);
    }
    if let Some(broken) = first_broken_pod(deployment, replica_sets, pods, now, rules) {
        return Verdict::Failed(broken);
    }

    let updated = status.updated_replicas.unwrap_or(0);
    let replicas = status.replicas.unwrap_or(0);
    let available = status.available_replicas.unwrap_or(0);
    let wanted = deployment.spec.as_ref().and_then(|spec| spec.replicas);
    match wanted {
        Some(wanted) if updated < wanted => Verdict::Waiting(format!(
            "{updated} out of {wanted} new replicas have been updated"
        )),
        _ if replicas > updated => Verdict::Waiting(format!(
            "{} old replicas are pending termination",
            replicas - updated
        )),
        _ if available < updated => Verdict::Waiting(format!(
            "{available} of {updated} updated replicas are available"
        )),
        _ => Verdict::Complete,
    }
}

/// The Deployment controller gave up: its Progressing condition says
/// `ProgressDeadlineExceeded`.
fn progress_deadline_exceeded(deployment: &Deployment) -> Option<Broken> {
    let conditions = deployment.status.as_ref()?.conditions.as_ref()?;
    conditions.iter().find(|condition| {
        condition.type_ == "Progressing"
            && condition.reason.as_deref() == Some("ProgressDeadlineExceeded")
    })?;
    let seconds = deployment
        .spec
        .as_ref()
        .and_then(|spec| spec.progress_deadline_seconds)
        .unwrap_or(DEFAULT_PROGRESS_DEADLINE_SECONDS);
    Some(Broken {
        pod: None,
        why: format!("did not progress within {seconds} s (ProgressDeadlineExceeded)"),
    })
}

/// The first pod by name of the new ReplicaSet that will not come up.
fn first_broken_pod(
    deployment: &Deployment,
    replica_sets: &[ReplicaSet],
    pods: &[Pod],
    now: DateTime<Utc>,
    rules: &Rules,
) -> Option<Broken> {
    let new = new_replica_set(deployment, replica_sets)?;
    let scope = replica_sets::Scope::of(deployment)?;
    let mut new_pods: Vec<&Pod> = pods
        .iter()
        .filter(|pod| pod.metadata.deletion_timestamp.is_none())
        .filter(|pod| scope.holds(&pod.metadata) && replica_sets::runs_pod(new, pod))
        .collect();
    new_pods.sort_by(|a, b| a.metadata.name.cmp(&b.metadata.name));
    new_pods.into_iter().find_map(|pod| {
        pods::failure(pod, now, rules).map(|why| Broken {
            pod: pod.metadata.name.clone(),
            why,
        })
    })
}
