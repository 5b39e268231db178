//! The Deployment controller's part: a ReplicaSet per pod template (named
//! `<deployment>-<pod-template-hash>`), scaled as the rolling update's
//! `maxSurge` and `maxUnavailable` allow (or all old pods gone first, for
//! `Recreate`), and the Deployment's status and conditions written as the
//! real controller writes them.

use super::meta::{self, text};
use super::selector::{FieldSelector, LabelSelector};
use super::store::{now, Store};
use serde_json::{json, Value};
use sha2::{Digest as _, Sha256};
use std::time::{Duration, Instant};

const REVISION: &str = "deployment.kubernetes.io/revision";
const HASH_LABEL: &str = "pod-template-hash";

/// What the controller remembers of a rollout: its new ReplicaSet and when
/// it last progressed (the deadline counts from then).
#[derive(Debug, Clone)]
pub struct Progress {
    replica_set: String,
    updated: Instant,
}

impl Default for Progress {
    fn default() -> Self {
        Progress {
            replica_set: String::new(),
            updated: Instant::now(),
        }
    }
}

/// `pod-template-hash`: ten characters from a hash of the template's JSON.
pub fn template_hash(template: &Value) -> String {
    const ALPHABET: &[u8] = b"bcdfghjklmnpqrstvwxz2456789";
    let digest = Sha256::digest(canonical(template).as_bytes());
    digest
        .iter()
        .take(10)
        .map(|b| char::from(ALPHABET[usize::from(*b) % ALPHABET.len()]))
        .collect()
}

/// JSON with object keys sorted, so equal templates hash alike.
fn canonical(value: &Value) -> String {
    match value {
        Value::Object(map) => {
            let mut keys: Vec<&String> = map.keys().collect();
            keys.sort();
            let fields: Vec<String> = keys
                .iter()
                .map(|k| format!("{}:{}", json!(k), canonical(&map[*k])))
                .collect();
            format!("{{{}}}", fields.join(","))
        }
        Value::Array(items) => format!(
            "[{}]",
            items.iter().map(canonical).collect::<Vec<_>>().join(",")
        ),
        other => other.to_string(),
    }
}

fn owned_replica_sets(store: &Store, deployment: &Value) -> Vec<Value> {
    let ns = text(deployment, "namespace");
    let all = store.list(
        "ReplicaSet",
        Some(ns),
        &LabelSelector::default(),
        &FieldSelector::default(),
    );
    all.into_iter()
        .filter(|rs| meta::owned_by(rs, text(deployment, "uid")))
        .collect()
}

fn active_pods(store: &Store, rs: &Value) -> i64 {
    let pods = store.list(
        "Pod",
        Some(text(rs, "namespace")),
        &LabelSelector::default(),
        &FieldSelector::default(),
    );
    let count = pods
        .iter()
        .filter(|p| meta::owned_by(p, text(rs, "uid")) && meta::active(p))
        .count();
    i64::try_from(count).unwrap_or(i64::MAX)
}

/// `maxSurge`/`maxUnavailable` against `desired`: a number, or a percentage
/// rounded up (surge) or down (unavailable).
fn resolve(value: &Value, desired: i64, round_up: bool) -> i64 {
    match value {
        Value::String(s) if s.ends_with('%') => {
            let percent: i64 = s.trim_end_matches('%').parse().unwrap_or(25);
            let scaled = desired * percent;
            if round_up {
                (scaled + 99) / 100
            } else {
                scaled / 100
            }
        }
        other => other.as_i64().unwrap_or(0),
    }
}

fn surge_and_unavailable(deployment: &Value, desired: i64) -> (i64, i64) {
    let rolling = &deployment["spec"]["strategy"]["rollingUpdate"];
    let surge = resolve(&rolling["maxSurge"], desired, true);
    let unavailable = resolve(&rolling["maxUnavailable"], desired, false);
    if surge == 0 && unavailable == 0 {
        (0, 1)
    } else {
        (surge, unavailable)
    }
}

/// Makes the Deployment's new ReplicaSet if its template has none, and
/// scales new and old ReplicaSets one step towards the desired state.
pub fn roll(store: &mut Store, deployment: &Value) {
    let desired = meta::int(&deployment["spec"]["replicas"], 1);
    let template = &deployment["spec"]["template"];
    let hash = template_hash(template);
    let replica_sets = owned_replica_sets(store, deployment);
    let newest = replica_sets.iter().map(meta::revision).max().unwrap_or(0);
    let name = format!("{}-{hash}", text(deployment, "name"));
    let new = match replica_sets
        .iter()
        .find(|rs| rs.pointer("/metadata/labels/pod-template-hash") == Some(&json!(hash)))
    {
        None => {
            let mut rs_template = template.clone();
            rs_template["metadata"]["labels"][HASH_LABEL] = json!(hash);
            let mut selector = deployment["spec"]["selector"].clone();
            selector["matchLabels"][HASH_LABEL] = json!(hash);
            let rs = json!({
                "apiVersion": "apps/v1",
                "kind": "ReplicaSet",
                "metadata": {
                    "name": name,
                    "namespace": text(deployment, "namespace"),
                    "labels": rs_template["metadata"]["labels"],
                    "annotations": {REVISION: (newest + 1).to_string(),
                                    "deployment.kubernetes.io/desired-replicas": desired.to_string()},
                    "ownerReferences": [meta::owner_ref(deployment)],
                },
                "spec": {"replicas": 0, "selector": selector, "template": rs_template},
            });
            match store.create(rs) {
                Ok(created) => created,
                Err(_) => return,
            }
        }
        // Back to an older template: its ReplicaSet becomes the newest revision.
        Some(rs) if meta::revision(rs) < newest => {
            let mut adopted = rs.clone();
            adopted["metadata"]["annotations"][REVISION] = json!((newest + 1).to_string());
            store.update(adopted).unwrap_or_else(|_| rs.clone())
        }
        Some(rs) => rs.clone(),
    };
    let olds: Vec<&Value> = replica_sets
        .iter()
        .filter(|rs| text(rs, "uid") != text(&new, "uid"))
        .collect();
    let new_replicas = meta::int(&new["spec"]["replicas"], 0);
    if deployment["spec"]["strategy"]["type"] == "Recreate" {
        let old_scaled = olds
            .iter()
            .any(|rs| meta::int(&rs["spec"]["replicas"], 0) > 0);
        for rs in &olds {
            scale(store, rs, 0);
        }
        if !old_scaled && olds.iter().all(|rs| active_pods(store, rs) == 0) {
            scale(store, &new, desired);
        }
        return;
    }
    let (surge, max_unavailable) = surge_and_unavailable(deployment, desired);
    if new_replicas > desired {
        scale(store, &new, desired);
    } else {
        let total: i64 = replica_sets
            .iter()
            .map(|rs| meta::int(&rs["spec"]["replicas"], 0))
            .sum::<i64>();
        let room = desired + surge - total;
        if room > 0 {
            scale(store, &new, desired.min(new_replicas + room));
        }
    }
    // As the real controller: old pods may go while enough stay available,
    // not counting the new ReplicaSet's pods that are not available yet.
    let new = store
        .get("ReplicaSet", text(&new, "namespace"), text(&new, "name"))
        .cloned()
        .unwrap_or(new);
    let all_pods: i64 = replica_sets
        .iter()
        .map(|rs| active_pods(store, rs))
        .sum::<i64>()
        .max(active_pods(store, &new));
    let new_unavailable =
        meta::int(&new["spec"]["replicas"], 0) - meta::int(&new["status"]["availableReplicas"], 0);
    let mut budget = all_pods - (desired - max_unavailable) - new_unavailable.max(0);
    let mut olds = olds;
    olds.sort_by_key(|rs| meta::revision(rs));
    for rs in olds {
        let replicas = meta::int(&rs["spec"]["replicas"], 0);
        let take = replicas.min(budget.max(0));
        if take > 0 {
            scale(store, rs, replicas - take);
            budget -= take;
        }
    }
}

fn scale(store: &mut Store, rs: &Value, replicas: i64) {
    if meta::int(&rs["spec"]["replicas"], 0) != replicas {
        let mut scaled = rs.clone();
        scaled["spec"]["replicas"] = json!(replicas);
        let _ = store.update(scaled);
    }
}

/// Writes the Deployment's status, conditions and revision from its ReplicaSets.
pub fn report(store: &mut Store, deployment: &Value, progress: &mut Progress) {
    let desired = meta::int(&deployment["spec"]["replicas"], 1);
    let hash = template_hash(&deployment["spec"]["template"]);
    let replica_sets = owned_replica_sets(store, deployment);
    let Some(new) = replica_sets
        .iter()
        .find(|rs| rs.pointer("/metadata/labels/pod-template-hash") == Some(&json!(hash)))
    else {
        return;
    };
    let sum = |field: &str, of: &[Value]| {
        of.iter()
            .map(|rs| meta::int(&rs["status"][field], 0))
            .sum::<i64>()
    };
    let replicas = sum("replicas", &replica_sets);
    let updated = meta::int(&new["status"]["replicas"], 0);
    let ready = sum("readyReplicas", &replica_sets);
    let available = sum("availableReplicas", &replica_sets);
    let wanted: i64 = replica_sets
        .iter()
        .map(|rs| meta::int(&rs["spec"]["replicas"], 0))
        .sum();
    let old = &deployment["status"];
    let (_, max_unavailable) = surge_and_unavailable(deployment, desired);
    let time = now();
    let new_name = text(new, "name").to_owned();

    let available_condition = if available >= desired - max_unavailable {
        condition(
            "Available",
            true,
            "MinimumReplicasAvailable",
            "Deployment has minimum availability.",
        )
    } else {
        condition(
            "Available",
            false,
            "MinimumReplicasUnavailable",
            "Deployment does not have minimum availability.",
        )
    };
    let previous = conditions_of(old, "Progressing");
    let previous_reason = previous
        .as_ref()
        .map(|c| c["reason"].as_str().unwrap_or_default().to_owned());
    let complete = updated == desired && replicas == desired && available == desired;
    let moved = updated > meta::int(&old["updatedReplicas"], 0)
        || ready > meta::int(&old["readyReplicas"], 0)
        || available > meta::int(&old["availableReplicas"], 0)
        || replicas - updated
            < meta::int(&old["replicas"], 0) - meta::int(&old["updatedReplicas"], 0);
    let deadline = Duration::from_secs(
        u64::try_from(meta::int(
            &deployment["spec"]["progressDeadlineSeconds"],
            600,
        ))
        .unwrap_or(600),
    );
    let (progressing, touched) = if progress.replica_set != new_name {
        *progress = Progress {
            replica_set: new_name.clone(),
            updated: Instant::now(),
        };
        let message = format!("Created new replica set \"{new_name}\"");
        (
            Some(condition(
                "Progressing",
                true,
                "NewReplicaSetCreated",
                &message,
            )),
            true,
        )
    } else if previous_reason.as_deref() == Some("NewReplicaSetAvailable") && replicas == updated {
        (previous.clone(), false)
    } else if complete {
        let message = format!("ReplicaSet \"{new_name}\" has successfully progressed.");
        (
            Some(condition(
                "Progressing",
                true,
                "NewReplicaSetAvailable",
                &message,
            )),
            true,
        )
    } else if moved {
        progress.updated = Instant::now();
        let message = format!("ReplicaSet \"{new_name}\" is progressing.");
        (
            Some(condition(
                "Progressing",
                true,
                "ReplicaSetUpdated",
                &message,
            )),
            true,
        )
    } else if previous_reason.as_deref() == Some("ProgressDeadlineExceeded")
        || progress.updated.elapsed() > deadline
    {
        let message = format!("ReplicaSet \"{new_name}\" has timed out progressing.");
        (
            Some(condition(
                "Progressing",
                false,
                "ProgressDeadlineExceeded",
                &message,
            )),
            true,
        )
    } else {
        (previous.clone(), false)
    };
    let mut conditions = vec![stamp(
        available_condition,
        conditions_of(old, "Available").as_ref(),
        &time,
        false,
    )];
    if let Some(c) = progressing {
        conditions.push(stamp(c, previous.as_ref(), &time, touched));
    }

    let mut status = meta::counts(
        &[
            (
                "observedGeneration",
                meta::int(&deployment["metadata"]["generation"], 1),
            ),
            ("replicas", replicas),
            ("updatedReplicas", updated),
            ("readyReplicas", ready),
            ("availableReplicas", available),
            ("unavailableReplicas", (wanted - available).max(0)),
        ],
        &[],
    );
    status.insert("conditions".into(), Value::Array(conditions));
    let mut changed = deployment.clone();
    changed["status"] = Value::Object(status);
    changed["metadata"]["annotations"][REVISION] = json!(meta::revision(new).to_string());
    if changed != *deployment {
        let _ = store.update(changed);
    }
}

fn conditions_of(status: &Value, kind: &str) -> Option<Value> {
    status["conditions"]
        .as_array()?
        .iter()
        .find(|c| c["type"] == kind)
        .cloned()
}

fn condition(kind: &str, status: bool, reason: &str, message: &str) -> Value {
    json!({"type": kind, "status": if status { "True" } else { "False" }, "reason": reason, "message": message})
}

/// Sets a condition's times: `lastTransitionTime` moves when its status
/// changes, `lastUpdateTime` when anything in it changes or progress was made.
fn stamp(mut next: Value, previous: Option<&Value>, time: &str, touched: bool) -> Value {
    let same = |field: &str| previous.is_some_and(|p| p[field] == next[field]);
    let unchanged = same("status") && same("reason") && same("message");
    let transitioned = !same("status");
    let old_time = |field: &str| {
        previous
            .map(|p| p[field].clone())
            .unwrap_or_else(|| json!(time))
    };
    let updated = if unchanged && !touched {
        old_time("lastUpdateTime")
    } else {
        json!(time)
    };
    let transition = if transitioned {
        json!(time)
    } else {
        old_time("lastTransitionTime")
    };
    next["lastUpdateTime"] = updated;
    next["lastTransitionTime"] = transition;
    next
}
