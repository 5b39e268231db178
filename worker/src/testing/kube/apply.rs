//! What a write does to an object: server-side apply (whole fields, not
//! field-level ownership), JSON merge patch, the defaults the stand-in
//! fills in, and `managedFields`.

use base64::Engine as _;
use serde_json::{json, Map, Value};

/// Annotations the controller owns, kept when an apply leaves them out (a
/// real server keeps them because another field manager owns them).
const CONTROLLER_ANNOTATION_PREFIX: &str = "deployment.kubernetes.io/";

/// Top-level fields a write through the main resource never changes.
const SYSTEM_FIELDS: [&str; 4] = ["apiVersion", "kind", "metadata", "status"];

/// The object after `applied` is server-side applied over `existing`: its
/// labels, annotations and every top-level field but `status` become the
/// applied ones; identity, status and the controller's annotations stay.
pub fn apply(existing: &Value, applied: &Value) -> Value {
    let mut result = existing.clone();
    replace_content(&mut result, applied);
    let meta = &applied["metadata"];
    for field in ["labels", "ownerReferences", "finalizers"] {
        set_or_remove(&mut result["metadata"], field, meta.get(field));
    }
    let mut annotations = match meta.get("annotations") {
        Some(Value::Object(map)) => map.clone(),
        _ => Map::new(),
    };
    if let Some(Value::Object(old)) = existing["metadata"].get("annotations") {
        for (k, v) in old
            .iter()
            .filter(|(k, _)| k.starts_with(CONTROLLER_ANNOTATION_PREFIX))
        {
            annotations.entry(k.clone()).or_insert_with(|| v.clone());
        }
    }
    let annotations = Value::Object(annotations);
    let empty = annotations.as_object().is_none_or(Map::is_empty);
    set_or_remove(
        &mut result["metadata"],
        "annotations",
        (!empty).then_some(&annotations),
    );
    result
}

/// The object after a full replace (PUT) with `body`: like an apply, but
/// the metadata's labels and annotations are exactly the body's.
pub fn replace(existing: &Value, body: &Value) -> Value {
    let mut result = existing.clone();
    replace_content(&mut result, body);
    for field in ["labels", "annotations", "ownerReferences", "finalizers"] {
        set_or_remove(&mut result["metadata"], field, body["metadata"].get(field));
    }
    result
}

fn replace_content(result: &mut Value, body: &Value) {
    let Some(object) = result.as_object_mut() else {
        return;
    };
    object.retain(|k, _| SYSTEM_FIELDS.contains(&k.as_str()));
    if let Some(body) = body.as_object() {
        for (k, v) in body
            .iter()
            .filter(|(k, _)| !SYSTEM_FIELDS.contains(&k.as_str()))
        {
            object.insert(k.clone(), v.clone());
        }
    }
}

fn set_or_remove(meta: &mut Value, field: &str, value: Option<&Value>) {
    let Some(meta) = meta.as_object_mut() else {
        return;
    };
    match value.filter(|v| !v.is_null()) {
        Some(v) => meta.insert(field.to_owned(), v.clone()),
        None => meta.remove(field),
    };
}

/// RFC 7386 JSON merge patch of `target` with `patch` (also used for
/// strategic merge patches, whose list merging is not modelled).
pub fn merge_patch(target: &mut Value, patch: &Value) {
    let Value::Object(patch) = patch else {
        *target = patch.clone();
        return;
    };
    if !target.is_object() {
        *target = json!({});
    }
    let object = target.as_object_mut().expect("made an object above");
    for (k, v) in patch {
        if v.is_null() {
            object.remove(k);
        } else {
            merge_patch(object.entry(k.clone()).or_insert(Value::Null), v);
        }
    }
}

/// Records in `managedFields` that `manager` wrote the object with
/// `operation` (`Apply` or `Update`), replacing its earlier entry.
pub fn record_manager(object: &mut Value, manager: &str, operation: &str, now: &str) {
    let api_version = object["apiVersion"].clone();
    let entry = json!({
        "manager": manager,
        "operation": operation,
        "apiVersion": api_version,
        "time": now,
        "fieldsType": "FieldsV1",
        "fieldsV1": {},
    });
    let meta = &mut object["metadata"];
    let mut fields: Vec<Value> = meta["managedFields"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    fields.retain(|f| !(f["manager"] == manager && f["operation"] == operation));
    fields.push(entry);
    meta["managedFields"] = Value::Array(fields);
}

/// Fills in the defaults the stand-in models, per kind: a namespace's
/// phase and name label; a Deployment's replicas, strategy, progress
/// deadline and history limit; a Secret's type and `stringData` folded into
/// `data`; a Service's type and cluster IP (kept from `existing`).
pub fn default_fields(object: &mut Value, existing: Option<&Value>) {
    match object["kind"].as_str().unwrap_or_default() {
        "Namespace" => {
            let name = object["metadata"]["name"].clone();
            object["metadata"]["labels"]["kubernetes.io/metadata.name"] = name;
            object["status"] = json!({"phase": "Active"});
        }
        "Deployment" => {
            let spec = &mut object["spec"];
            default(spec, "replicas", json!(1));
            default(spec, "revisionHistoryLimit", json!(10));
            default(spec, "progressDeadlineSeconds", json!(600));
            default(spec, "strategy", json!({"type": "RollingUpdate"}));
            if spec["strategy"]["type"] == "RollingUpdate" {
                let rolling = &mut spec["strategy"]["rollingUpdate"];
                default(rolling, "maxSurge", json!("25%"));
                default(rolling, "maxUnavailable", json!("25%"));
            }
        }
        "Secret" => {
            default(object, "type", json!("Opaque"));
            if let Some(Value::Object(strings)) =
                object.as_object_mut().and_then(|o| o.remove("stringData"))
            {
                let engine = base64::engine::general_purpose::STANDARD;
                for (k, v) in strings {
                    object["data"][k] = json!(engine.encode(v.as_str().unwrap_or_default()));
                }
            }
        }
        "Service" => {
            let spec = &mut object["spec"];
            default(spec, "type", json!("ClusterIP"));
            if spec.get("clusterIP").is_none() {
                let ip = existing
                    .and_then(|e| e["spec"].get("clusterIP").cloned())
                    .unwrap_or_else(|| {
                        json!(format!(
                            "10.96.{}.{}",
                            rand::random::<u8>(),
                            rand::random_range(1..255u8)
                        ))
                    });
                spec["clusterIPs"] = json!([ip.clone()]);
                spec["clusterIP"] = ip;
            }
        }
        _ => {}
    }
}

fn default(object: &mut Value, field: &str, value: Value) {
    if object.get(field).is_none_or(Value::is_null) {
        object[field] = value;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn apply_replaces_content_and_keeps_identity_status_and_revision() {
        let existing = json!({
            "kind": "Deployment", "apiVersion": "apps/v1",
            "metadata": {"name": "web", "uid": "u1", "labels": {"old": "x"},
                         "annotations": {"deployment.kubernetes.io/revision": "2", "mine": "a"}},
            "spec": {"replicas": 2, "paused": true},
            "status": {"replicas": 2},
        });
        let applied = json!({
            "kind": "Deployment", "apiVersion": "apps/v1",
            "metadata": {"name": "web", "labels": {"new": "y"}},
            "spec": {"replicas": 3},
            "status": {"replicas": 9},
        });
        let result = apply(&existing, &applied);
        assert_eq!(result["metadata"]["uid"], "u1");
        assert_eq!(result["metadata"]["labels"], json!({"new": "y"}));
        assert_eq!(
            result["metadata"]["annotations"],
            json!({"deployment.kubernetes.io/revision": "2"})
        );
        assert_eq!(result["spec"], json!({"replicas": 3}));
        assert_eq!(result["status"], json!({"replicas": 2}));
    }

    #[test]
    fn merge_patch_follows_rfc_7386() {
        let mut target = json!({"a": {"b": 1, "c": 2}, "d": [1]});
        merge_patch(&mut target, &json!({"a": {"b": null, "e": 3}, "d": [2]}));
        assert_eq!(target, json!({"a": {"c": 2, "e": 3}, "d": [2]}));
    }

    #[test]
    fn secrets_fold_string_data_into_data() {
        let mut secret =
            json!({"kind": "Secret", "metadata": {"name": "s"}, "stringData": {"k": "v"}});
        default_fields(&mut secret, None);
        assert_eq!(secret["data"], json!({"k": "dg=="}));
        assert_eq!(secret["type"], "Opaque");
        assert!(secret.get("stringData").is_none());
    }
}
