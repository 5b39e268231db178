//! Small readings of objects the controller's parts share: ownership,
//! a pod's readiness, integers with defaults, status fields the API
//! leaves out when zero.

use serde_json::{json, Map, Value};

/// An `ownerReferences` entry naming `owner` as the controller.
pub fn owner_ref(owner: &Value) -> Value {
    json!({
        "apiVersion": owner["apiVersion"],
        "kind": owner["kind"],
        "name": owner["metadata"]["name"],
        "uid": owner["metadata"]["uid"],
        "controller": true,
        "blockOwnerDeletion": true,
    })
}

/// Whether `object` is owned by the object of `uid`.
pub fn owned_by(object: &Value, uid: &str) -> bool {
    object["metadata"]["ownerReferences"]
        .as_array()
        .is_some_and(|refs| refs.iter().any(|r| r["uid"] == uid))
}

/// `metadata.uid`, `metadata.name`, `metadata.namespace` as text.
pub fn text<'a>(object: &'a Value, field: &str) -> &'a str {
    object["metadata"][field].as_str().unwrap_or_default()
}

/// An integer field, or `default` when absent.
pub fn int(value: &Value, default: i64) -> i64 {
    value.as_i64().unwrap_or(default)
}

/// Whether a pod still counts for its ReplicaSet (not Failed nor Succeeded).
pub fn active(pod: &Value) -> bool {
    !matches!(
        pod["status"]["phase"].as_str(),
        Some("Failed" | "Succeeded")
    )
}

/// Whether a pod's `Ready` condition is True.
pub fn ready(pod: &Value) -> bool {
    pod["status"]["conditions"].as_array().is_some_and(|cs| {
        cs.iter()
            .any(|c| c["type"] == "Ready" && c["status"] == "True")
    })
}

/// A status object of counts, leaving out zeros as the API server does
/// (`omitempty`), but for the fields named in `always`.
pub fn counts(fields: &[(&str, i64)], always: &[&str]) -> Map<String, Value> {
    fields
        .iter()
        .filter(|(k, v)| *v != 0 || always.contains(k))
        .map(|(k, v)| ((*k).to_owned(), json!(v)))
        .collect()
}

/// A Deployment or ReplicaSet's revision annotation.
pub fn revision(object: &Value) -> i64 {
    object["metadata"]["annotations"]["deployment.kubernetes.io/revision"]
        .as_str()
        .and_then(|r| r.parse().ok())
        .unwrap_or(0)
}
