//! kubectl's rollout-status rule, in its order, and where failing fast
//! comes in.

use super::*;
use serde_json::json;

/// The complete fixture with other replica counts.
fn counted(replicas: i32, updated: i32, available: i32) -> Value {
    let mut deployment = fixture("deployment-complete");
    set(&mut deployment, "/status/replicas", json!(replicas));
    set(&mut deployment, "/status/updatedReplicas", json!(updated));
    set(
        &mut deployment,
        "/status/availableReplicas",
        json!(available),
    );
    deployment
}

fn waiting(text: &str) -> Verdict {
    Verdict::Waiting(text.into())
}

#[test]
fn an_unobserved_spec_waits_though_the_previous_rollout_looks_complete() {
    let verdict = judge(fixture("deployment-just-patched"), vec![]);
    assert_eq!(
        verdict,
        waiting("waiting for the deployment spec update to be observed")
    );
}

#[test]
fn an_unobserved_spec_waits_before_anything_else_is_judged() {
    // A new generation of a Deployment that had timed out, with a crashing
    // pod: nothing counts until the controller has seen the new spec.
    let mut deployment = fixture("deployment-progress-deadline-exceeded");
    set(&mut deployment, "/metadata/generation", json!(4));
    let verdict = judge(deployment, vec![fixture("pod-crashloop")]);
    assert_eq!(
        verdict,
        waiting("waiting for the deployment spec update to be observed")
    );
}

#[test]
fn a_missing_generation_counts_as_observed() {
    let mut deployment = fixture("deployment-complete");
    set(&mut deployment, "/metadata/generation", Value::Null);
    set(&mut deployment, "/status/observedGeneration", Value::Null);
    assert_eq!(judge(deployment, vec![]), Verdict::Complete);
}

#[test]
fn a_progress_deadline_exceeded_fails_with_the_deployments_deadline() {
    let mut deployment = fixture("deployment-progress-deadline-exceeded");
    set(&mut deployment, "/spec/progressDeadlineSeconds", json!(120));
    assert_eq!(
        judge(deployment, vec![]),
        Verdict::Failed(Broken {
            pod: None,
            why: "did not progress within 120 s (ProgressDeadlineExceeded)".into(),
        })
    );
}

#[test]
fn a_progress_deadline_without_seconds_is_the_api_servers_600() {
    let mut deployment = fixture("deployment-progress-deadline-exceeded");
    set(
        &mut deployment,
        "/spec/progressDeadlineSeconds",
        Value::Null,
    );
    assert_eq!(
        judge(deployment, vec![]),
        Verdict::Failed(Broken {
            pod: None,
            why: "did not progress within 600 s (ProgressDeadlineExceeded)".into(),
        })
    );
}

#[test]
fn the_progress_deadline_is_reported_before_a_broken_pod() {
    let verdict = judge(
        fixture("deployment-progress-deadline-exceeded"),
        vec![fixture("pod-crashloop")],
    );
    assert!(
        matches!(&verdict, Verdict::Failed(Broken { pod: None, .. })),
        "{verdict:?}"
    );
}

#[test]
fn fewer_updated_replicas_than_wanted_waits() {
    assert_eq!(
        judge(counted(4, 1, 3), vec![]),
        waiting("1 out of 3 new replicas have been updated")
    );
}

#[test]
fn old_replicas_still_running_wait() {
    assert_eq!(
        judge(counted(5, 3, 3), vec![]),
        waiting("2 old replicas are pending termination")
    );
}

#[test]
fn updated_replicas_not_yet_available_wait() {
    assert_eq!(
        judge(counted(3, 3, 2), vec![]),
        waiting("2 of 3 updated replicas are available")
    );
}

#[test]
fn all_counts_met_is_complete() {
    assert_eq!(judge(counted(3, 3, 3), vec![]), Verdict::Complete);
}

#[test]
fn missing_counts_are_zero() {
    let mut deployment = fixture("deployment-complete");
    for field in ["replicas", "updatedReplicas", "availableReplicas"] {
        set(&mut deployment, &format!("/status/{field}"), Value::Null);
    }
    assert_eq!(
        judge(deployment.clone(), vec![]),
        waiting("0 out of 3 new replicas have been updated")
    );
    // Without spec.replicas kubectl skips that comparison.
    set(&mut deployment, "/spec/replicas", Value::Null);
    assert_eq!(judge(deployment, vec![]), Verdict::Complete);
}

#[test]
fn a_broken_new_pod_fails_before_the_counts_are_read() {
    assert_eq!(
        judge(
            fixture("deployment-mid-rollout"),
            vec![fixture("pod-running-ready"), fixture("pod-crashloop")]
        ),
        failed(
            "web-7c5ddbdf54-q4m9z",
            "is in CrashLoopBackOff (last exit code 1)"
        )
    );
    assert_eq!(
        judge(
            fixture("deployment-complete"),
            vec![fixture("pod-crashloop")]
        ),
        failed(
            "web-7c5ddbdf54-q4m9z",
            "is in CrashLoopBackOff (last exit code 1)"
        )
    );
}

#[test]
fn the_first_broken_pod_by_name_is_blamed_whatever_the_order() {
    let mut early = fixture("pod-errimagepull");
    set(&mut early, "/metadata/name", json!("web-7c5ddbdf54-aaaaa"));
    let pods = vec![
        fixture("pod-crashloop"),
        early,
        fixture("pod-unschedulable"),
    ];
    let expected = failed(
        "web-7c5ddbdf54-aaaaa",
        "cannot pull image registry.example.com/shop/web:2.0.0 (ErrImagePull)",
    );
    assert_eq!(judge_pod_list(pods.clone()), expected);
    let mut reversed = pods;
    reversed.reverse();
    assert_eq!(judge_pod_list(reversed), expected);
}

fn judge_pod_list(pods: Vec<Value>) -> Verdict {
    judge(fixture("deployment-mid-rollout"), pods)
}

#[test]
fn pods_outside_the_deployments_selector_or_namespace_are_ignored() {
    let mut other_app = fixture("pod-crashloop");
    set(&mut other_app, "/metadata/labels/app", json!("worker"));
    let mut other_namespace = fixture("pod-crashloop");
    set(
        &mut other_namespace,
        "/metadata/namespace",
        json!("staging"),
    );
    assert_eq!(judge_pod(other_app), still_rolling());
    assert_eq!(judge_pod(other_namespace), still_rolling());
}

#[test]
fn without_a_new_replica_set_no_pod_is_judged() {
    // Observed, but the controller's ReplicaSet is not in the list yet.
    let deployment: Deployment = parse(fixture("deployment-mid-rollout"));
    let old_only: Vec<ReplicaSet> = vec![parse(fixture("replicaset-old"))];
    let pods: Vec<Pod> = vec![parse(fixture("pod-crashloop"))];
    assert_eq!(
        verdict(&deployment, &old_only, &pods, now(), &Rules::default()),
        still_rolling()
    );
}

#[test]
fn default_rules_are_a_minute_and_two_restarts() {
    let rules = Rules::default();
    assert_eq!(
        rules.unschedulable_after,
        std::time::Duration::from_secs(60)
    );
    assert_eq!(rules.max_restarts, 2);
}
