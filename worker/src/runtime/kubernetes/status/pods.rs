//! Fail-fast rules for one pod of the new ReplicaSet: the states kubelet and
//! the scheduler report that will not get better by waiting.

use super::Rules;
use chrono::{DateTime, TimeDelta, Utc};
use k8s_openapi::api::core::v1::{ContainerStateTerminated, ContainerStatus, Pod, PodStatus};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;

/// Words in an image pull's message that mean the registry is briefly in
/// trouble, not that the image is wrong: those pulls are retried.
const TRANSIENT_PULL: [&str; 3] = ["rate limit", "toomanyrequests", "timeout"];

/// Why `pod` fails the rollout, phrased to follow its name; None while it
/// may still come up.
pub(super) fn failure(pod: &Pod, now: DateTime<Utc>, rules: &Rules) -> Option<String> {
    let status = pod.status.as_ref()?;
    // A pod kubelet gave up on (evicted, rejected at admission, its node
    // shut down) is replaced by the ReplicaSet; it says nothing about the
    // release. Containers exiting never end a Deployment's pod this way.
    if matches!(status.phase.as_deref(), Some("Failed" | "Succeeded")) {
        return None;
    }
    let never_ready = never_ready(status);
    let containers = status
        .init_container_statuses
        .iter()
        .flatten()
        .chain(status.container_statuses.iter().flatten());
    for container in containers {
        if let Some(why) = container_failure(pod, container, never_ready, rules) {
            return Some(why);
        }
    }
    unschedulable(pod, status, now, rules)
}

fn container_failure(
    pod: &Pod,
    container: &ContainerStatus,
    pod_never_ready: bool,
    rules: &Rules,
) -> Option<String> {
    let waiting = container
        .state
        .as_ref()
        .and_then(|state| state.waiting.as_ref());
    if let Some(waiting) = waiting {
        let reason = waiting.reason.as_deref().unwrap_or_default();
        let message = waiting.message.as_deref().unwrap_or_default();
        match reason {
            "CrashLoopBackOff" => {
                return Some(match last_terminated(container) {
                    Some(last) => {
                        format!("is in CrashLoopBackOff (last exit code {})", last.exit_code)
                    }
                    None => "is in CrashLoopBackOff".into(),
                });
            }
            "ErrImagePull" | "ImagePullBackOff" if !transient(message) => {
                return Some(format!(
                    "cannot pull image {} ({reason})",
                    image(pod, container)
                ));
            }
            // Kubelet's Secret and ConfigMap caches lag behind a busy API
            // server; "failed to sync secret cache" clears up by itself.
            "CreateContainerConfigError" if message.contains("failed to sync") => {}
            "CreateContainerConfigError" | "InvalidImageName" | "CreateContainerError" => {
                return Some(if message.is_empty() {
                    format!("cannot start: {reason}")
                } else {
                    format!("cannot start: {reason}: {message}")
                });
            }
            _ => {}
        }
    }

    if pod_never_ready && !container.ready {
        let terminated = container
            .state
            .as_ref()
            .and_then(|state| state.terminated.as_ref())
            .or_else(|| last_terminated(container));
        if let Some(terminated) = terminated.filter(|t| t.exit_code != 0) {
            return Some(format!(
                "exited with code {} before it was ready",
                terminated.exit_code
            ));
        }
    }

    if rules.max_restarts > 0 && container.restart_count >= rules.max_restarts {
        return Some(format!("restarted {} times", container.restart_count));
    }
    None
}

/// The scheduler has found no node for longer than the rules allow.
fn unschedulable(
    pod: &Pod,
    status: &PodStatus,
    now: DateTime<Utc>,
    rules: &Rules,
) -> Option<String> {
    let condition = status.conditions.iter().flatten().find(|condition| {
        condition.type_ == "PodScheduled"
            && condition.status == "False"
            && condition.reason.as_deref() == Some("Unschedulable")
    })?;
    let since = condition
        .last_transition_time
        .as_ref()
        .or(pod.metadata.creation_timestamp.as_ref())
        .and_then(to_chrono)?;
    let waited = (now - since).to_std().ok()?;
    if waited < rules.unschedulable_after {
        return None;
    }
    let seconds = waited.as_secs();
    Some(match condition.message.as_deref() {
        Some(message) if !message.is_empty() => {
            format!("cannot be scheduled for {seconds} s: {message}")
        }
        _ => format!("cannot be scheduled for {seconds} s"),
    })
}

/// The pod has not been Ready since it started. Kubelet writes the Ready
/// condition with the pod's `startTime` on its first status; a Ready
/// condition that turned False later means the pod was ready in between.
/// One second of slack covers the two timestamps straddling a second.
fn never_ready(status: &PodStatus) -> bool {
    let ready = status
        .conditions
        .iter()
        .flatten()
        .find(|condition| condition.type_ == "Ready");
    let Some(ready) = ready else {
        return true;
    };
    if ready.status == "True" {
        return false;
    }
    let changed = ready.last_transition_time.as_ref().and_then(to_chrono);
    let started = status.start_time.as_ref().and_then(to_chrono);
    match (changed, started) {
        (Some(changed), Some(started)) => changed <= started + TimeDelta::seconds(1),
        _ => true,
    }
}

fn last_terminated(container: &ContainerStatus) -> Option<&ContainerStateTerminated> {
    container.last_state.as_ref()?.terminated.as_ref()
}

fn transient(message: &str) -> bool {
    let message = message.to_lowercase();
    TRANSIENT_PULL.iter().any(|word| message.contains(word))
}

/// The image as kubelet reports it, else as the pod's spec asks for it.
fn image<'a>(pod: &'a Pod, container: &'a ContainerStatus) -> &'a str {
    if !container.image.is_empty() {
        return &container.image;
    }
    let spec = pod.spec.as_ref();
    let declared = spec
        .into_iter()
        .flat_map(|spec| {
            spec.init_containers
                .iter()
                .flatten()
                .chain(&spec.containers)
        })
        .find(|declared| declared.name == container.name);
    declared
        .and_then(|declared| declared.image.as_deref())
        .unwrap_or("(unknown image)")
}

fn to_chrono(time: &Time) -> Option<DateTime<Utc>> {
    let nanos = u32::try_from(time.0.subsec_nanosecond()).ok()?;
    DateTime::from_timestamp(time.0.as_second(), nanos)
}
