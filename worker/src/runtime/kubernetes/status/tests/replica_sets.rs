//! Which ReplicaSet a Deployment rolls out to, and which pods are its.

use super::super::new_replica_set;
use super::*;
use serde_json::json;

const NEW: &str = "web-7c5ddbdf54";

fn name_of_new(deployment: Value, replica_sets: Vec<Value>) -> Option<String> {
    let deployment: Deployment = parse(deployment);
    let replica_sets: Vec<ReplicaSet> = replica_sets.into_iter().map(parse).collect();
    new_replica_set(&deployment, &replica_sets).map(|rs| rs.metadata.name.clone().unwrap())
}

fn both() -> Vec<Value> {
    vec![fixture("replicaset-old"), fixture("replicaset-new")]
}

#[test]
fn the_owned_replica_set_with_the_deployments_revision_is_new() {
    let found = name_of_new(fixture("deployment-mid-rollout"), both());
    assert_eq!(found.as_deref(), Some(NEW));
}

#[test]
fn the_revision_wins_over_the_template_once_observed() {
    // After `kubectl rollout undo` the controller bumps the old ReplicaSet's
    // revision; here the template still says 2.0.0 but revision 3 names the
    // old one, as the controller wrote it.
    let mut deployment = fixture("deployment-complete");
    set(
        &mut deployment,
        "/metadata/annotations/deployment.kubernetes.io~1revision",
        json!("3"),
    );
    let mut old = fixture("replicaset-old");
    set(
        &mut old,
        "/metadata/annotations/deployment.kubernetes.io~1revision",
        json!("3"),
    );
    let found = name_of_new(deployment, vec![old, fixture("replicaset-new")]);
    assert_eq!(found.as_deref(), Some("web-6d4cf56db6"));
}

#[test]
fn a_stale_revision_is_not_trusted_before_the_spec_is_observed() {
    // Just patched: the annotation still says 1, the old ReplicaSet's revision.
    let found = name_of_new(
        fixture("deployment-just-patched"),
        vec![fixture("replicaset-old")],
    );
    assert_eq!(found, None);
    // Once the controller made the new ReplicaSet, its template gives it away.
    let found = name_of_new(fixture("deployment-just-patched"), both());
    assert_eq!(found.as_deref(), Some(NEW));
}

#[test]
fn without_a_revision_the_template_decides() {
    let mut deployment = fixture("deployment-mid-rollout");
    set(&mut deployment, "/metadata/annotations", Value::Null);
    let found = name_of_new(deployment, both());
    assert_eq!(found.as_deref(), Some(NEW));
}

#[test]
fn a_template_differing_in_more_than_the_hash_is_not_the_new_one() {
    let mut deployment = fixture("deployment-mid-rollout");
    set(&mut deployment, "/metadata/annotations", Value::Null);
    set(
        &mut deployment,
        "/spec/template/spec/containers/0/image",
        json!("registry.example.com/shop/web:2.0.1"),
    );
    assert_eq!(name_of_new(deployment, both()), None);
}

#[test]
fn of_equal_templates_the_oldest_replica_set_is_new() {
    let mut deployment = fixture("deployment-mid-rollout");
    set(&mut deployment, "/metadata/annotations", Value::Null);
    let mut twin = fixture("replicaset-new");
    set(&mut twin, "/metadata/name", json!("web-5f8b9c7d6"));
    set(
        &mut twin,
        "/metadata/uid",
        json!("0c1d2e3f-4a5b-4c6d-8e7f-9a0b1c2d3e4f"),
    );
    set(
        &mut twin,
        "/metadata/creationTimestamp",
        json!("2026-11-29T10:00:09Z"),
    );
    let found = name_of_new(deployment, vec![twin, fixture("replicaset-new")]);
    assert_eq!(found.as_deref(), Some(NEW));
}

#[test]
fn a_replica_set_of_another_controller_is_never_new() {
    let mut foreign = fixture("replicaset-new");
    set(
        &mut foreign,
        "/metadata/ownerReferences/0/uid",
        json!("99999999-0000-4000-8000-000000000000"),
    );
    let found = name_of_new(
        fixture("deployment-mid-rollout"),
        vec![fixture("replicaset-old"), foreign],
    );
    assert_eq!(found, None);
}

#[test]
fn an_orphan_with_the_same_template_is_adopted() {
    let mut orphan = fixture("replicaset-new");
    set(&mut orphan, "/metadata/ownerReferences", Value::Null);
    let found = name_of_new(
        fixture("deployment-mid-rollout"),
        vec![fixture("replicaset-old"), orphan],
    );
    assert_eq!(found.as_deref(), Some(NEW));
}

#[test]
fn replica_sets_of_another_namespace_or_selector_are_ignored() {
    let mut elsewhere = fixture("replicaset-new");
    set(&mut elsewhere, "/metadata/namespace", json!("staging"));
    assert_eq!(
        name_of_new(fixture("deployment-mid-rollout"), vec![elsewhere]),
        None
    );
    let mut unlabelled = fixture("replicaset-new");
    set(&mut unlabelled, "/metadata/labels/app", json!("web-canary"));
    assert_eq!(
        name_of_new(fixture("deployment-mid-rollout"), vec![unlabelled]),
        None
    );
}

#[test]
fn an_empty_selector_governs_nothing() {
    let mut deployment = fixture("deployment-mid-rollout");
    set(&mut deployment, "/spec/selector", json!({}));
    assert_eq!(name_of_new(deployment.clone(), both()), None);
    assert_eq!(
        judge(deployment, vec![fixture("pod-crashloop")]),
        still_rolling()
    );
}

#[test]
fn match_expressions_select_too() {
    let mut deployment = fixture("deployment-mid-rollout");
    set(
        &mut deployment,
        "/spec/selector",
        json!({"matchExpressions": [{"key": "app", "operator": "In", "values": ["web", "api"]}]}),
    );
    assert_eq!(
        name_of_new(deployment.clone(), both()).as_deref(),
        Some(NEW)
    );
    assert_eq!(
        judge(deployment, vec![fixture("pod-crashloop")]),
        failed(
            "web-7c5ddbdf54-q4m9z",
            "is in CrashLoopBackOff (last exit code 1)"
        )
    );
}

#[test]
fn without_owner_references_a_pod_is_the_new_replica_sets_by_its_hash() {
    let mut orphan = fixture("pod-crashloop");
    set(&mut orphan, "/metadata/ownerReferences", Value::Null);
    assert_eq!(
        judge_pod(orphan.clone()),
        failed(
            "web-7c5ddbdf54-q4m9z",
            "is in CrashLoopBackOff (last exit code 1)"
        )
    );
    set(
        &mut orphan,
        "/metadata/labels/pod-template-hash",
        json!("6d4cf56db6"),
    );
    assert_eq!(judge_pod(orphan), still_rolling());
}

#[test]
fn a_pod_owned_by_the_old_replica_set_is_not_the_new_ones() {
    // Its labels say new, its owner says old: the owner decides.
    let mut pod = fixture("pod-crashloop");
    let old: Value = fixture("replicaset-old");
    set(
        &mut pod,
        "/metadata/ownerReferences/0/uid",
        old["metadata"]["uid"].clone(),
    );
    assert_eq!(judge_pod(pod), still_rolling());
}
