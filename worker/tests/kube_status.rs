//! Rollout verdicts on Deployment, ReplicaSet and Pod objects shaped as a
//! cluster writes them (`tests/fixtures/kubernetes/`, described in its
//! README), read through the public API only.

use chrono::{DateTime, Utc};
use k8s_openapi::api::apps::v1::{Deployment, ReplicaSet};
use k8s_openapi::api::core::v1::Pod;
use serde::de::DeserializeOwned;
use slipway_worker::runtime::kubernetes::status::{
    new_replica_set, verdict, Broken, Rules, Verdict,
};

fn fixture<T: DeserializeOwned>(name: &str) -> T {
    let path = format!(
        "{}/tests/fixtures/kubernetes/{name}.json",
        env!("CARGO_MANIFEST_DIR")
    );
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{path}: {e}"))
}

fn replica_sets() -> Vec<ReplicaSet> {
    vec![fixture("replicaset-old"), fixture("replicaset-new")]
}

/// Two minutes after the patch.
fn now() -> DateTime<Utc> {
    "2026-11-29T10:02:00Z".parse().unwrap()
}

/// The verdict on `deployment` with both ReplicaSets and the named pods.
fn judge(deployment: &str, pods: &[&str]) -> Verdict {
    let pods: Vec<Pod> = pods.iter().map(|name| fixture(name)).collect();
    verdict(
        &fixture(deployment),
        &replica_sets(),
        &pods,
        now(),
        &Rules::default(),
    )
}

fn failed(pod: &str, why: &str) -> Verdict {
    Verdict::Failed(Broken {
        pod: Some(pod.into()),
        why: why.into(),
    })
}

fn waiting(text: &str) -> Verdict {
    Verdict::Waiting(text.into())
}

#[test]
fn a_patch_not_yet_observed_waits_though_the_old_condition_says_available() {
    assert_eq!(
        judge("deployment-just-patched", &["pod-old-crashloop"]),
        waiting("waiting for the deployment spec update to be observed")
    );
    let deployment: Deployment = fixture("deployment-just-patched");
    let old_only = [fixture::<ReplicaSet>("replicaset-old")];
    assert!(
        new_replica_set(&deployment, &old_only).is_none(),
        "the stale revision annotation must not name the old ReplicaSet"
    );
}

#[test]
fn the_new_replica_set_is_the_one_with_the_deployments_revision() {
    let deployment: Deployment = fixture("deployment-mid-rollout");
    let sets = replica_sets();
    let new = new_replica_set(&deployment, &sets).expect("a new ReplicaSet");
    assert_eq!(new.metadata.name.as_deref(), Some("web-7c5ddbdf54"));
}

#[test]
fn mid_rollout_with_healthy_pods_waits_for_updates() {
    assert_eq!(
        judge(
            "deployment-mid-rollout",
            &["pod-running-ready", "pod-containercreating"]
        ),
        waiting("2 out of 3 new replicas have been updated")
    );
}

#[test]
fn a_complete_rollout_is_complete() {
    assert_eq!(
        judge("deployment-complete", &["pod-running-ready"]),
        Verdict::Complete
    );
}

#[test]
fn a_progress_deadline_exceeded_fails_without_a_pod() {
    assert_eq!(
        judge("deployment-progress-deadline-exceeded", &[]),
        Verdict::Failed(Broken {
            pod: None,
            why: "did not progress within 600 s (ProgressDeadlineExceeded)".into(),
        })
    );
}

#[test]
fn each_broken_pod_of_the_new_replica_set_fails_the_rollout() {
    let cases = [
        (
            "pod-crashloop",
            "web-7c5ddbdf54-q4m9z",
            "is in CrashLoopBackOff (last exit code 1)",
        ),
        (
            "pod-errimagepull",
            "web-7c5ddbdf54-b8d3v",
            "cannot pull image registry.example.com/shop/web:2.0.0 (ErrImagePull)",
        ),
        (
            "pod-imagepullbackoff",
            "web-7c5ddbdf54-h6n1w",
            "cannot pull image registry.example.com/shop/web:2.0.0 (ImagePullBackOff)",
        ),
        (
            "pod-createcontainerconfigerror",
            "web-7c5ddbdf54-f2j7c",
            "cannot start: CreateContainerConfigError: secret \"web-secrets\" not found",
        ),
        (
            "pod-invalidimagename",
            "web-7c5ddbdf54-k9s4d",
            "cannot start: InvalidImageName: Failed to apply default image tag \
             \"registry.example.com/shop/Web:2.0.0\": couldn't parse image name \
             \"registry.example.com/shop/Web:2.0.0\": invalid reference format: \
             repository name (shop/Web) must be lowercase",
        ),
        (
            "pod-terminated-before-ready",
            "web-7c5ddbdf54-m5p2g",
            "exited with code 3 before it was ready",
        ),
        (
            "pod-restarted-twice",
            "web-7c5ddbdf54-t1v6n",
            "restarted 2 times",
        ),
        (
            "pod-unschedulable",
            "web-7c5ddbdf54-w8z3b",
            "cannot be scheduled for 118 s: 0/3 nodes are available: 3 Insufficient cpu. \
             preemption: 0/3 nodes are available: 3 No preemption victims found for incoming pod.",
        ),
    ];
    for (file, pod, why) in cases {
        assert_eq!(
            judge("deployment-mid-rollout", &["pod-running-ready", file]),
            failed(pod, why),
            "{file}"
        );
    }
}

#[test]
fn states_that_may_still_come_right_do_not_fail_the_rollout() {
    for file in [
        "pod-imagepullbackoff-rate-limited",
        "pod-evicted",
        "pod-containercreating",
        "pod-podinitializing",
        "pod-old-crashloop",
        "pod-terminating-crashloop",
    ] {
        assert_eq!(
            judge("deployment-mid-rollout", &["pod-running-ready", file]),
            waiting("2 out of 3 new replicas have been updated"),
            "{file}"
        );
    }
}

#[test]
fn an_unschedulable_pod_is_given_its_minute() {
    let deployment: Deployment = fixture("deployment-mid-rollout");
    let pods = [fixture::<Pod>("pod-unschedulable")];
    let soon = "2026-11-29T10:00:40Z".parse().unwrap();
    assert_eq!(
        verdict(&deployment, &replica_sets(), &pods, soon, &Rules::default()),
        waiting("2 out of 3 new replicas have been updated")
    );
}

#[test]
fn the_first_broken_pod_by_name_is_blamed() {
    // Listed out of order: the verdict must not depend on the API's order.
    let verdict = judge(
        "deployment-mid-rollout",
        &["pod-unschedulable", "pod-errimagepull", "pod-crashloop"],
    );
    assert_eq!(
        verdict,
        failed(
            "web-7c5ddbdf54-b8d3v",
            "cannot pull image registry.example.com/shop/web:2.0.0 (ErrImagePull)"
        )
    );
}

#[test]
fn a_broken_pod_fails_even_a_rollout_whose_counts_look_complete() {
    assert_eq!(
        judge("deployment-complete", &["pod-restarted-twice"]),
        failed("web-7c5ddbdf54-t1v6n", "restarted 2 times")
    );
}
