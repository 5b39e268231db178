//! The scripted controller, ticking every 20 ms unless paused: it moves
//! pods through their script ([`super::pods`]), rolls Deployments out
//! ([`super::rollout`]) and reports on them ([`super::deployment_status`]),
//! and keeps each ReplicaSet's pod count and status as the ReplicaSet
//! controller does: missing pods are made (named `<replicaset>-<5
//! letters>`), surplus ones deleted, not-ready and newest first. Failed
//! pods (evicted) stay and are replaced.

use super::deployment_status::{self, Progress};
use super::meta::{self, text};
use super::pods::{self, Container};
use super::selector::{FieldSelector, LabelSelector};
use super::store::Store;
use super::{lock, rollout, Behaviour, Script, Shared};
use chrono::{DateTime, Utc};
use serde_json::{json, Value};
use std::collections::{HashMap, HashSet};
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// How often the controller looks at the cluster.
pub const TICK: Duration = Duration::from_millis(20);

/// What the controller remembers of a pod: its containers' behaviours
/// (picked when it first saw it) and how old it is.
#[derive(Debug)]
struct PodMemory {
    containers: Vec<Container>,
    born: Instant,
    born_wall: DateTime<Utc>,
    logged: HashSet<(String, String)>,
}

/// The controller's own memory; the cluster is in the store.
#[derive(Debug, Default)]
struct Controller {
    pods: HashMap<String, PodMemory>,
    rollouts: HashMap<String, Progress>,
    evicted_images: HashSet<String>,
}

/// Runs the controller until its task is aborted.
pub async fn run(shared: Arc<Shared>) {
    let mut controller = Controller::default();
    let mut ticks = tokio::time::interval(TICK);
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        ticks.tick().await;
        if !shared.paused.load(Ordering::SeqCst) {
            controller.tick(&shared);
        }
    }
}

fn all(store: &Store, kind: &str) -> Vec<Value> {
    store.list(
        kind,
        None,
        &LabelSelector::default(),
        &FieldSelector::default(),
    )
}

impl Controller {
    fn tick(&mut self, shared: &Shared) {
        let mut store = lock(&shared.store);
        self.script_pods(shared, &mut store);
        for deployment in all(&store, "Deployment") {
            rollout::roll(&mut store, &deployment);
        }
        for replica_set in all(&store, "ReplicaSet") {
            sync_replica_set(shared, &mut store, &replica_set);
        }
        for deployment in all(&store, "Deployment") {
            let progress = self
                .rollouts
                .entry(text(&deployment, "uid").to_owned())
                .or_default();
            deployment_status::report(&mut store, &deployment, progress);
        }
        let pods: HashSet<String> = all(&store, "Pod")
            .iter()
            .map(|p| text(p, "uid").to_owned())
            .collect();
        self.pods.retain(|uid, _| pods.contains(uid));
        let deployments: HashSet<String> = all(&store, "Deployment")
            .iter()
            .map(|d| text(d, "uid").to_owned())
            .collect();
        self.rollouts.retain(|uid, _| deployments.contains(uid));
    }

    fn script_pods(&mut self, shared: &Shared, store: &mut Store) {
        let mut script = lock(&shared.script);
        for pod in all(store, "Pod") {
            let uid = text(&pod, "uid").to_owned();
            if !self.pods.contains_key(&uid) {
                let memory = self.remember(&pod, &script);
                self.pods.insert(uid.clone(), memory);
            }
            let memory = self.pods.get_mut(&uid).expect("remembered above");
            let step = pods::step(&memory.containers, memory.born.elapsed(), memory.born_wall);
            if step.crash_looping && script.first_crash_loop_at.is_none() {
                script.first_crash_loop_at = Some(Instant::now());
            }
            let mut fresh = HashSet::new();
            for (container, key, line) in step.log {
                let id = (container.clone(), key);
                if fresh.contains(&id) || memory.logged.insert(id.clone()) {
                    fresh.insert(id);
                    lock(&shared.logs).push(
                        text(&pod, "namespace"),
                        text(&pod, "name"),
                        &container,
                        line,
                    );
                }
            }
            if pod["status"] != step.status {
                let mut changed = pod.clone();
                changed["status"] = step.status;
                let _ = store.update(changed);
            }
        }
    }

    fn remember(&mut self, pod: &Value, script: &Script) -> PodMemory {
        let specs = pod["spec"]["containers"]
            .as_array()
            .cloned()
            .unwrap_or_default();
        let containers = specs
            .iter()
            .map(|c| {
                let image = c["image"].as_str().unwrap_or_default().to_owned();
                let ready = Behaviour::Ready {
                    after: script.ready_after,
                };
                let behaviour = match script
                    .behaviours
                    .get(&image)
                    .cloned()
                    .unwrap_or(ready.clone())
                {
                    Behaviour::EvictedOnce if !self.evicted_images.insert(image.clone()) => ready,
                    behaviour => behaviour,
                };
                Container {
                    name: c["name"].as_str().unwrap_or_default().to_owned(),
                    image,
                    behaviour,
                }
            })
            .collect();
        PodMemory {
            containers,
            born: Instant::now(),
            born_wall: Utc::now(),
            logged: HashSet::new(),
        }
    }
}

/// Makes the ReplicaSet's active pods as many as it wants, and writes its status.
fn sync_replica_set(shared: &Shared, store: &mut Store, rs: &Value) {
    let (uid, ns) = (text(rs, "uid"), text(rs, "namespace"));
    let want = usize::try_from(meta::int(&rs["spec"]["replicas"], 1)).unwrap_or(0);
    let owned = |store: &Store| -> Vec<Value> {
        let pods = store.list(
            "Pod",
            Some(ns),
            &LabelSelector::default(),
            &FieldSelector::default(),
        );
        pods.into_iter()
            .filter(|p| meta::owned_by(p, uid) && meta::active(p))
            .collect()
    };
    let mut pods = owned(store);
    for _ in pods.len()..want {
        let _ = store.create(new_pod(shared, rs));
    }
    if pods.len() > want {
        // Not ready first, then the newest.
        pods.sort_by_key(|p| {
            let version: u64 = text(p, "resourceVersion").parse().unwrap_or(0);
            (meta::ready(p), std::cmp::Reverse(version))
        });
        for pod in &pods[..pods.len() - want] {
            let pod_resource = super::resources::Resource::by_kind("Pod").expect("served");
            let _ = store.delete(pod_resource, ns, text(pod, "name"));
        }
    }
    let pods = owned(store);
    let count = i64::try_from(pods.len()).unwrap_or(i64::MAX);
    let ready = i64::try_from(pods.iter().filter(|p| meta::ready(p)).count()).unwrap_or(i64::MAX);
    let status = meta::counts(
        &[
            ("replicas", count),
            ("fullyLabeledReplicas", count),
            ("readyReplicas", ready),
            ("availableReplicas", ready),
            (
                "observedGeneration",
                meta::int(&rs["metadata"]["generation"], 1),
            ),
        ],
        &["replicas"],
    );
    if rs["status"] != Value::Object(status.clone()) {
        let mut changed = rs.clone();
        changed["status"] = Value::Object(status);
        let _ = store.update(changed);
    }
}

fn new_pod(shared: &Shared, rs: &Value) -> Value {
    let template = &rs["spec"]["template"];
    let name = text(rs, "name");
    let mut spec = template["spec"].clone();
    let script = lock(&shared.script);
    let unschedulable = spec["containers"].as_array().is_some_and(|cs| {
        cs.iter().any(|c| {
            c["image"].as_str().and_then(|i| script.behaviours.get(i))
                == Some(&Behaviour::Unschedulable)
        })
    });
    if !unschedulable {
        spec["nodeName"] = json!("standin");
    }
    let mut metadata = json!({
        "name": format!("{name}-{}", super::random_suffix()),
        "generateName": format!("{name}-"),
        "namespace": text(rs, "namespace"),
        "labels": template["metadata"]["labels"],
        "ownerReferences": [meta::owner_ref(rs)],
    });
    if let Some(annotations) = template["metadata"].get("annotations") {
        metadata["annotations"] = annotations.clone();
    }
    json!({
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": metadata,
        "spec": spec,
        "status": {"phase": "Pending", "qosClass": "BestEffort"},
    })
}
