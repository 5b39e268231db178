//! Fail-fast rules on the new ReplicaSet's pods, and the states that are
//! not failures.

use super::*;
use serde_json::json;

const CRASHING: &str = "web-7c5ddbdf54-q4m9z";
const PULLING: &str = "web-7c5ddbdf54-h6n1w";
const STOPPED: &str = "web-7c5ddbdf54-m5p2g";
const RESTARTED: &str = "web-7c5ddbdf54-t1v6n";
const PENDING: &str = "web-7c5ddbdf54-w8z3b";
const IMAGE: &str = "registry.example.com/shop/web:2.0.0";

const WAITING: &str = "/status/containerStatuses/0/state/waiting";

/// The ready fixture with its container waiting for `reason`.
fn waiting_for(reason: &str, message: Option<&str>) -> Value {
    let mut pod = fixture("pod-imagepullbackoff");
    set(&mut pod, &format!("{WAITING}/reason"), json!(reason));
    set(&mut pod, &format!("{WAITING}/message"), json!(message));
    pod
}

#[test]
fn crash_loop_back_off_names_the_last_exit_code() {
    assert_eq!(
        judge_pod(fixture("pod-crashloop")),
        failed(CRASHING, "is in CrashLoopBackOff (last exit code 1)")
    );
}

#[test]
fn crash_loop_back_off_without_a_last_state_still_fails() {
    let mut pod = fixture("pod-crashloop");
    set(&mut pod, "/status/containerStatuses/0/lastState", json!({}));
    assert_eq!(judge_pod(pod), failed(CRASHING, "is in CrashLoopBackOff"));
}

#[test]
fn an_init_container_in_crash_loop_back_off_fails() {
    let mut pod = fixture("pod-podinitializing");
    let init = "/status/initContainerStatuses/0";
    set(&mut pod, &format!("{init}/restartCount"), json!(1));
    set(
        &mut pod,
        &format!("{init}/state"),
        json!({"waiting": {"reason": "CrashLoopBackOff", "message": "back-off 10s"}}),
    );
    set(
        &mut pod,
        &format!("{init}/lastState"),
        json!({"terminated": {"exitCode": 64, "reason": "Error"}}),
    );
    assert_eq!(
        judge_pod(pod),
        failed(
            "web-7c5ddbdf54-g3h8j",
            "is in CrashLoopBackOff (last exit code 64)"
        )
    );
}

#[test]
fn image_pull_errors_fail_naming_the_image() {
    for reason in ["ErrImagePull", "ImagePullBackOff"] {
        let pod = waiting_for(reason, Some("manifest unknown"));
        assert_eq!(
            judge_pod(pod),
            failed(PULLING, &format!("cannot pull image {IMAGE} ({reason})"))
        );
    }
}

#[test]
fn an_image_missing_from_the_status_is_taken_from_the_spec() {
    let mut pod = waiting_for("ErrImagePull", None);
    set(&mut pod, "/status/containerStatuses/0/image", json!(""));
    set(
        &mut pod,
        "/spec/containers/0/image",
        json!("registry.example.com/shop/web:typo"),
    );
    assert_eq!(
        judge_pod(pod),
        failed(
            PULLING,
            "cannot pull image registry.example.com/shop/web:typo (ErrImagePull)"
        )
    );
}

#[test]
fn transient_registry_trouble_is_waited_out() {
    let messages = [
        "429 Too Many Requests - Server message: toomanyrequests: slow down",
        "You have reached your pull Rate Limit",
        "dial tcp 10.0.0.5:443: i/o timeout",
        "context deadline exceeded (Client.Timeout exceeded while awaiting headers)",
    ];
    for reason in ["ErrImagePull", "ImagePullBackOff"] {
        for message in messages {
            assert_eq!(
                judge_pod(waiting_for(reason, Some(message))),
                still_rolling(),
                "{reason}: {message}"
            );
        }
    }
    assert_eq!(
        judge_pod(fixture("pod-imagepullbackoff-rate-limited")),
        still_rolling()
    );
}

#[test]
fn containers_that_cannot_start_fail_with_reason_and_message() {
    for (reason, message) in [
        (
            "CreateContainerConfigError",
            "secret \"web-secrets\" not found",
        ),
        ("InvalidImageName", "invalid reference format"),
        ("CreateContainerError", "failed to reserve container name"),
    ] {
        assert_eq!(
            judge_pod(waiting_for(reason, Some(message))),
            failed(PULLING, &format!("cannot start: {reason}: {message}"))
        );
    }
    assert_eq!(
        judge_pod(waiting_for("CreateContainerError", None)),
        failed(PULLING, "cannot start: CreateContainerError")
    );
}

#[test]
fn a_lagging_secret_cache_is_waited_out() {
    let message = "failed to sync secret cache: timed out waiting for the condition";
    assert_eq!(
        judge_pod(waiting_for("CreateContainerConfigError", Some(message))),
        still_rolling()
    );
}

#[test]
fn a_container_that_exits_before_it_was_ever_ready_fails() {
    assert_eq!(
        judge_pod(fixture("pod-terminated-before-ready")),
        failed(STOPPED, "exited with code 3 before it was ready")
    );
}

#[test]
fn a_restarted_container_that_exited_before_it_was_ever_ready_fails() {
    let mut pod = fixture("pod-terminated-before-ready");
    let status = "/status/containerStatuses/0";
    let previous = pod.pointer(&format!("{status}/state")).unwrap().clone();
    set(&mut pod, &format!("{status}/lastState"), previous);
    set(
        &mut pod,
        &format!("{status}/state"),
        json!({"running": {"startedAt": "2026-11-29T10:00:16Z"}}),
    );
    set(&mut pod, &format!("{status}/restartCount"), json!(1));
    assert_eq!(
        judge_pod(pod),
        failed(STOPPED, "exited with code 3 before it was ready")
    );
}

#[test]
fn exiting_with_code_zero_is_no_failure() {
    let mut pod = fixture("pod-terminated-before-ready");
    set(
        &mut pod,
        "/status/containerStatuses/0/state/terminated/exitCode",
        json!(0),
    );
    assert_eq!(judge_pod(pod), still_rolling());
}

#[test]
fn a_pod_that_was_ready_once_is_left_to_the_restart_rule() {
    // Ready turned False at 10:01:20, long after the pod started at 10:00:02:
    // it was ready in between, then its container died once.
    let mut pod = fixture("pod-terminated-before-ready");
    set(
        &mut pod,
        "/status/conditions/2/lastTransitionTime",
        json!("2026-11-29T10:01:20Z"),
    );
    assert_eq!(judge_pod(pod.clone()), still_rolling());
    // Ready right now: never "before it was ready" either.
    set(&mut pod, "/status/conditions/2/status", json!("True"));
    set(&mut pod, "/status/conditions/2/reason", Value::Null);
    assert_eq!(judge_pod(pod), still_rolling());
}

#[test]
fn restarting_as_often_as_the_rules_allow_fails() {
    assert_eq!(
        judge_pod(fixture("pod-restarted-twice")),
        failed(RESTARTED, "restarted 2 times")
    );
    let mut once = fixture("pod-restarted-twice");
    set(
        &mut once,
        "/status/containerStatuses/0/restartCount",
        json!(1),
    );
    assert_eq!(judge_pod(once), still_rolling());
}

#[test]
fn the_restart_limit_comes_from_the_rules() {
    let deployment = || fixture("deployment-mid-rollout");
    let pod = || vec![fixture("pod-restarted-twice")];
    let lenient = Rules {
        max_restarts: 3,
        ..Rules::default()
    };
    assert_eq!(judge_with(deployment(), pod(), &lenient), still_rolling());
    let strict = Rules {
        max_restarts: 1,
        ..Rules::default()
    };
    assert_eq!(
        judge_with(deployment(), pod(), &strict),
        failed(RESTARTED, "restarted 2 times")
    );
    let off = Rules {
        max_restarts: 0,
        ..Rules::default()
    };
    assert_eq!(judge_with(deployment(), pod(), &off), still_rolling());
}

#[test]
fn unschedulable_for_the_limit_fails_with_the_schedulers_message() {
    let mut pod = fixture("pod-unschedulable");
    set(
        &mut pod,
        "/status/conditions/0/lastTransitionTime",
        json!("2026-11-29T10:01:00Z"),
    );
    assert_eq!(
        judge_pod(pod.clone()),
        failed(
            PENDING,
            "cannot be scheduled for 60 s: 0/3 nodes are available: 3 Insufficient cpu. \
             preemption: 0/3 nodes are available: 3 No preemption victims found for incoming pod."
        )
    );
    set(&mut pod, "/status/conditions/0/message", Value::Null);
    assert_eq!(
        judge_pod(pod),
        failed(PENDING, "cannot be scheduled for 60 s")
    );
}

#[test]
fn unschedulable_for_less_than_the_limit_waits() {
    let mut pod = fixture("pod-unschedulable");
    set(
        &mut pod,
        "/status/conditions/0/lastTransitionTime",
        json!("2026-11-29T10:01:01Z"),
    );
    assert_eq!(judge_pod(pod), still_rolling());
    let patient = Rules {
        unschedulable_after: std::time::Duration::from_secs(300),
        ..Rules::default()
    };
    let verdict = judge_with(
        fixture("deployment-mid-rollout"),
        vec![fixture("pod-unschedulable")],
        &patient,
    );
    assert_eq!(verdict, still_rolling());
}

#[test]
fn unschedulable_without_a_transition_time_counts_from_creation() {
    let mut pod = fixture("pod-unschedulable");
    set(
        &mut pod,
        "/status/conditions/0/lastTransitionTime",
        Value::Null,
    );
    set(
        &mut pod,
        "/metadata/creationTimestamp",
        json!("2026-11-29T10:00:30Z"),
    );
    let verdict = judge_pod(pod);
    assert!(
        matches!(&verdict, Verdict::Failed(Broken { why, .. }) if why.starts_with("cannot be scheduled for 90 s:")),
        "{verdict:?}"
    );
}

#[test]
fn an_evicted_pod_is_replaced_not_blamed() {
    let mut pod = fixture("pod-evicted");
    // Even with a Ready condition that never changed since the start.
    set(
        &mut pod,
        "/status/conditions/3/lastTransitionTime",
        json!("2026-11-29T10:00:02Z"),
    );
    assert_eq!(judge_pod(pod), still_rolling());
}

#[test]
fn containers_being_created_or_pulled_wait() {
    assert_eq!(judge_pod(fixture("pod-containercreating")), still_rolling());
    let mut pulling = fixture("pod-containercreating");
    set(
        &mut pulling,
        &format!("{WAITING}/message"),
        json!("Pulling image \"registry.example.com/shop/web:2.0.0\""),
    );
    assert_eq!(judge_pod(pulling), still_rolling());
}

#[test]
fn a_pod_waiting_for_its_init_containers_waits() {
    assert_eq!(judge_pod(fixture("pod-podinitializing")), still_rolling());
}

#[test]
fn pods_of_the_old_replica_set_are_not_judged() {
    assert_eq!(judge_pod(fixture("pod-old-crashloop")), still_rolling());
}

#[test]
fn pods_being_deleted_are_ignored_entirely() {
    assert_eq!(
        judge_pod(fixture("pod-terminating-crashloop")),
        still_rolling()
    );
    let mut gone = fixture("pod-restarted-twice");
    set(
        &mut gone,
        "/metadata/deletionTimestamp",
        json!("2026-11-29T10:02:30Z"),
    );
    assert_eq!(judge_pod(gone), still_rolling());
}

#[test]
fn a_running_ready_pod_is_fine() {
    assert_eq!(judge_pod(fixture("pod-running-ready")), still_rolling());
}
