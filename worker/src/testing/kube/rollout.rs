//! The Deployment controller's rollout: a ReplicaSet per pod template
//! (named `<deployment>-<pod-template-hash>`), scaled step by step as the
//! rolling update's `maxSurge` and `maxUnavailable` allow, as the real
//! controller does; for `Recreate`, all old pods gone first.

use super::meta::{self, text};
use super::selector::{FieldSelector, LabelSelector};
use super::store::Store;
use serde_json::{json, Value};
use sha2::{Digest as _, Sha256};

pub const REVISION: &str = "deployment.kubernetes.io/revision";
const HASH_LABEL: &str = "pod-template-hash";

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

pub fn owned_replica_sets(store: &Store, deployment: &Value) -> Vec<Value> {
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

pub fn surge_and_unavailable(deployment: &Value, desired: i64) -> (i64, i64) {
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
