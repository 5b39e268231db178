//! The Deployment controller's report: the Deployment's status counts,
//! its `Available` and `Progressing` conditions and its revision, written
//! as the real controller writes them. The progress deadline counts, as
//! there, from the last progress (more pods updated, ready or available,
//! or fewer old ones), not from the start of the rollout.

use super::meta::{self, text};
use super::rollout::{owned_replica_sets, surge_and_unavailable, template_hash, REVISION};
use super::store::{now, Store};
use serde_json::{json, Value};
use std::time::{Duration, Instant};

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
