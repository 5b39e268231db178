//! A pod's scripted life: its `status` as a function of its age and the
//! behaviours of its containers' images, and the log lines each step
//! writes. Being a function of age keeps a pod's status still between
//! steps, so the store records a change only when a step is taken.

use super::Behaviour;
use chrono::{DateTime, Utc};
use serde_json::{json, Value};
use std::time::Duration;

/// How long a container is `ContainerCreating` before a crash loop or a failed pull begins.
const CREATING: Duration = Duration::from_millis(50);
/// One run and back-off of a crash loop.
const CRASH_CYCLE: Duration = Duration::from_millis(100);
/// How long a crash-looping container runs before it exits.
const CRASH_RUN: Duration = Duration::from_millis(40);
/// How long a failed pull shows `ErrImagePull` before `ImagePullBackOff`.
const PULL_ERROR: Duration = Duration::from_millis(100);

/// One container of a pod, with the behaviour picked when the pod was made.
#[derive(Debug, Clone)]
pub struct Container {
    pub name: String,
    pub image: String,
    pub behaviour: Behaviour,
}

/// A pod's scripted state at some age.
#[derive(Debug, Clone, PartialEq)]
pub struct Step {
    /// Names the step, to tell when a new one is taken.
    pub id: String,
    pub status: Value,
    /// Whether a container is in `CrashLoopBackOff`.
    pub crash_looping: bool,
    /// `(container, container's step, line)`: lines a container writes
    /// when it takes that step (once per step).
    pub log: Vec<(String, String, String)>,
}

struct ContainerStep {
    id: String,
    /// When the container's current state began, from the pod's birth.
    since: Duration,
    status: Value,
    started: bool,
    ready: bool,
    crash_looping: bool,
    log: Vec<String>,
}

/// The pod's state at `age`; `born` is its creationTimestamp.
pub fn step(containers: &[Container], age: Duration, born: DateTime<Utc>) -> Step {
    let at = |offset: Duration| {
        let time = born + chrono::Duration::from_std(offset).unwrap_or_default();
        time.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
    };
    if containers
        .iter()
        .any(|c| c.behaviour == Behaviour::Unschedulable)
    {
        let status = json!({
            "phase": "Pending",
            "qosClass": "BestEffort",
            "conditions": [{"type": "PodScheduled", "status": "False", "reason": "Unschedulable",
                            "lastTransitionTime": at(Duration::ZERO),
                            "message": "0/1 nodes are available: 1 Insufficient cpu. preemption: 0/1 nodes are available: 1 No preemption victims found for incoming pod."}],
        });
        return Step {
            id: "unschedulable".into(),
            status,
            crash_looping: false,
            log: Vec::new(),
        };
    }
    let evict_at = Duration::from_millis(100);
    if containers
        .iter()
        .any(|c| c.behaviour == Behaviour::EvictedOnce)
        && age >= evict_at
    {
        let statuses: Vec<Value> = containers
            .iter()
            .map(|c| {
                let terminated = json!({"terminated": {"exitCode": 137, "reason": "ContainerStatusUnknown",
                    "message": "The container could not be located when the pod was terminated",
                    "startedAt": at(Duration::ZERO), "finishedAt": at(evict_at)}});
                container_status(c, &terminated, &json!({}), false, false, 0)
            })
            .collect();
        let status = json!({
            "phase": "Failed",
            "reason": "Evicted",
            "message": "The node was low on resource: memory. Threshold quantity: 100Mi, available: 50Mi.",
            "hostIP": "127.0.0.1",
            "startTime": at(Duration::ZERO),
            "qosClass": "BestEffort",
            "conditions": conditions(false, &at(evict_at)),
            "containerStatuses": statuses,
        });
        let log = containers
            .iter()
            .map(|c| {
                (
                    c.name.clone(),
                    "evicted".to_owned(),
                    format!("{} stopped: pod evicted", c.name),
                )
            })
            .collect();
        return Step {
            id: "evicted".into(),
            status,
            crash_looping: false,
            log,
        };
    }
    let steps: Vec<ContainerStep> = containers
        .iter()
        .map(|c| container_step(c, age, &at))
        .collect();
    let started = steps.iter().all(|s| s.started);
    let ready = steps.iter().all(|s| s.ready);
    let ready_since = match ready {
        true => steps.iter().map(|s| s.since).max().unwrap_or_default(),
        false => Duration::ZERO,
    };
    let status = json!({
        "phase": if started { "Running" } else { "Pending" },
        "hostIP": "127.0.0.1",
        "hostIPs": [{"ip": "127.0.0.1"}],
        "podIP": "127.0.0.1",
        "podIPs": [{"ip": "127.0.0.1"}],
        "startTime": at(Duration::ZERO),
        "qosClass": "BestEffort",
        "conditions": conditions(ready, &at(ready_since)),
        "containerStatuses": steps.iter().map(|s| s.status.clone()).collect::<Vec<_>>(),
    });
    let id = steps
        .iter()
        .map(|s| s.id.as_str())
        .collect::<Vec<_>>()
        .join("/");
    let log = containers
        .iter()
        .zip(&steps)
        .flat_map(|(c, s)| {
            s.log
                .iter()
                .map(|l| (c.name.clone(), s.id.clone(), l.clone()))
        })
        .collect();
    Step {
        id,
        status,
        crash_looping: steps.iter().any(|s| s.crash_looping),
        log,
    }
}

fn conditions(ready: bool, ready_changed: &str) -> Value {
    let (status, reason) = if ready {
        ("True", None)
    } else {
        ("False", Some("ContainersNotReady"))
    };
    let mut out = vec![
        json!({"type": "PodScheduled", "status": "True"}),
        json!({"type": "Initialized", "status": "True"}),
    ];
    for kind in ["ContainersReady", "Ready"] {
        let mut c = json!({"type": kind, "status": status, "lastTransitionTime": ready_changed});
        if let Some(reason) = reason {
            c["reason"] = json!(reason);
        }
        out.push(c);
    }
    Value::Array(out)
}

fn container_step(c: &Container, age: Duration, at: &dyn Fn(Duration) -> String) -> ContainerStep {
    let creating = |id: &str| ContainerStep {
        id: id.to_owned(),
        since: Duration::ZERO,
        status: container_status(
            c,
            &json!({"waiting": {"reason": "ContainerCreating"}}),
            &json!({}),
            false,
            false,
            0,
        ),
        started: false,
        ready: false,
        crash_looping: false,
        log: Vec::new(),
    };
    let running = |since: Duration,
                   ready: bool,
                   restarts: u64,
                   last: &Value,
                   id: String,
                   log: Vec<String>| ContainerStep {
        id,
        since,
        status: container_status(
            c,
            &json!({"running": {"startedAt": at(since)}}),
            last,
            true,
            ready,
            restarts,
        ),
        started: true,
        ready,
        crash_looping: false,
        log,
    };
    let starting = format!("starting {} ({})", c.name, c.image);
    match &c.behaviour {
        Behaviour::Ready { after } if age < *after => creating("creating"),
        Behaviour::Ready { after } => running(
            *after,
            true,
            0,
            &json!({}),
            "ready".into(),
            vec![starting, "listening".into()],
        ),
        Behaviour::NeverReady | Behaviour::EvictedOnce | Behaviour::Unschedulable
            if age < CREATING =>
        {
            creating("creating")
        }
        Behaviour::NeverReady | Behaviour::EvictedOnce | Behaviour::Unschedulable => running(
            CREATING,
            false,
            0,
            &json!({}),
            "running".into(),
            vec![starting],
        ),
        Behaviour::CrashLoop | Behaviour::PullFails if age < CREATING => creating("creating"),
        Behaviour::CrashLoop => {
            let since = age - CREATING;
            let cycle = (since.as_nanos() / CRASH_CYCLE.as_nanos()) as u32;
            let cycle_start = CREATING + CRASH_CYCLE * cycle;
            let restarts = u64::from(cycle);
            let exited = |n: u32| {
                let run = CREATING + CRASH_CYCLE * n;
                json!({"terminated": {"exitCode": 1, "reason": "Error",
                       "startedAt": at(run), "finishedAt": at(run + CRASH_RUN)}})
            };
            let last = if cycle == 0 {
                json!({})
            } else {
                exited(cycle - 1)
            };
            if since - CRASH_CYCLE * cycle < CRASH_RUN {
                return running(
                    cycle_start,
                    false,
                    restarts,
                    &last,
                    format!("run-{cycle}"),
                    vec![starting],
                );
            }
            let message = format!("back-off 10s restarting failed container={}", c.name);
            let waiting = json!({"waiting": {"reason": "CrashLoopBackOff", "message": message}});
            ContainerStep {
                id: format!("crashed-{cycle}"),
                since: cycle_start + CRASH_RUN,
                status: container_status(c, &waiting, &exited(cycle), true, false, restarts + 1),
                started: true,
                ready: false,
                crash_looping: true,
                log: vec!["fatal: exiting with code 1".into()],
            }
        }
        Behaviour::PullFails => {
            let not_found = format!(
                "rpc error: code = NotFound desc = failed to pull and unpack image \"{}\": {}: not found",
                c.image, c.image
            );
            let (id, waiting) = if age < CREATING + PULL_ERROR {
                (
                    "pull-error",
                    json!({"waiting": {"reason": "ErrImagePull", "message": not_found}}),
                )
            } else {
                let message = format!(
                    "Back-off pulling image \"{}\": ErrImagePull: {not_found}",
                    c.image
                );
                (
                    "pull-backoff",
                    json!({"waiting": {"reason": "ImagePullBackOff", "message": message}}),
                )
            };
            ContainerStep {
                id: id.into(),
                since: CREATING,
                status: container_status(c, &waiting, &json!({}), false, false, 0),
                started: false,
                ready: false,
                crash_looping: false,
                log: Vec::new(),
            }
        }
    }
}

fn container_status(
    c: &Container,
    state: &Value,
    last: &Value,
    started: bool,
    ready: bool,
    restarts: u64,
) -> Value {
    let mut status = json!({
        "name": c.name,
        "image": c.image,
        "imageID": "",
        "started": started,
        "ready": ready,
        "restartCount": restarts,
        "state": state,
        "lastState": last,
    });
    if started {
        status["imageID"] = json!(format!("{}@sha256:{:064x}", c.image, fnv(&c.image)));
        status["containerID"] = json!(format!("containerd://{:064x}", fnv(&c.name)));
    }
    status
}

/// A stable stand-in for an image digest.
fn fnv(text: &str) -> u64 {
    text.bytes().fold(0xcbf2_9ce4_8422_2325, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
    })
}
