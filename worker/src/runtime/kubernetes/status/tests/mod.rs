//! Unit tests of the verdict, one rule at a time. Each starts from a fixture
//! of `tests/fixtures/kubernetes/` (objects shaped as a cluster writes them)
//! and changes only the fields the rule reads.

mod pods;
mod replica_sets;
mod rollout;

use super::{verdict, Broken, Rules, Verdict};
use chrono::{DateTime, Utc};
use k8s_openapi::api::apps::v1::{Deployment, ReplicaSet};
use k8s_openapi::api::core::v1::Pod;
use serde::de::DeserializeOwned;
use serde_json::Value;

/// A fixture as JSON, to change before parsing.
fn fixture(name: &str) -> Value {
    let path = format!(
        "{}/tests/fixtures/kubernetes/{name}.json",
        env!("CARGO_MANIFEST_DIR")
    );
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{path}: {e}"))
}

/// Sets the field at a JSON pointer (its parent must exist); `Value::Null`
/// removes it, as a cluster leaves unset fields out.
fn set(object: &mut Value, pointer: &str, value: Value) {
    let (parent, key) = pointer.rsplit_once('/').expect("a pointer");
    let key = key.replace("~1", "/").replace("~0", "~");
    let parent = object
        .pointer_mut(parent)
        .unwrap_or_else(|| panic!("no {parent}"));
    match parent {
        Value::Object(map) if value.is_null() => {
            map.remove(&key);
        }
        Value::Object(map) => {
            map.insert(key, value);
        }
        Value::Array(items) => items[key.parse::<usize>().expect("an index")] = value,
        _ => panic!("{parent} is no object"),
    }
}

fn parse<T: DeserializeOwned>(object: Value) -> T {
    serde_json::from_value(object).expect("a valid object")
}

/// Two minutes after the fixtures' patch.
fn now() -> DateTime<Utc> {
    at("2026-11-29T10:02:00Z")
}

fn at(time: &str) -> DateTime<Utc> {
    time.parse().expect("a time")
}

fn replica_sets() -> Vec<ReplicaSet> {
    vec![
        parse(fixture("replicaset-old")),
        parse(fixture("replicaset-new")),
    ]
}

/// The verdict on `deployment` with both fixture ReplicaSets, at `now()`.
fn judge(deployment: Value, pods: Vec<Value>) -> Verdict {
    judge_with(deployment, pods, &Rules::default())
}

fn judge_with(deployment: Value, pods: Vec<Value>, rules: &Rules) -> Verdict {
    let deployment: Deployment = parse(deployment);
    let pods: Vec<Pod> = pods.into_iter().map(parse).collect();
    verdict(&deployment, &replica_sets(), &pods, now(), rules)
}

/// The verdict on one pod of the new ReplicaSet, mid-rollout.
fn judge_pod(pod: Value) -> Verdict {
    judge(fixture("deployment-mid-rollout"), vec![pod])
}

fn failed(pod: &str, why: &str) -> Verdict {
    Verdict::Failed(Broken {
        pod: Some(pod.into()),
        why: why.into(),
    })
}

/// What the mid-rollout fixture waits for when no pod is broken.
fn still_rolling() -> Verdict {
    Verdict::Waiting("2 out of 3 new replicas have been updated".into())
}
