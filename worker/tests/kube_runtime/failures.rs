//! Convergence that fails: fast, from the new ReplicaSet's pods, naming the
//! pod and the reason; or stopped by the limits (deadline, cancel, lease).

use crate::support::{web_and_worker, Drive, Kit, ROLLOUT};
use slipway_worker::runtime::kubernetes::status::Rules;
use slipway_worker::runtime::kubernetes::KubeConfig;
use slipway_worker::runtime::{Failure, Runtime, Stop};
use slipway_worker::testing::kube::Behaviour;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

const GOOD: &str = "ghcr.io/acme/shop:1";
const BAD: &str = "ghcr.io/acme/shop:broken";

/// The rejection of a failed convergence, or a panic saying what came instead.
fn rejection(result: Result<(), Stop>) -> (String, Option<String>, String) {
    match result {
        Err(Stop::Failed(Failure::Rejected { service, pod, why })) => {
            (service.to_string(), pod, why)
        }
        other => panic!("expected a rejection, got {other:?}"),
    }
}

#[tokio::test]
async fn a_crash_loop_is_rejected_within_two_seconds_naming_the_pod() {
    let kit = Kit::start().await;
    let drive = Drive::default();
    kit.runtime
        .converge(&web_and_worker("RAAAAAAAAAA", GOOD), &drive.limits(ROLLOUT))
        .await
        .expect("first release");

    kit.cluster.behave(BAD, Behaviour::CrashLoop);
    let result = kit
        .runtime
        .converge(&web_and_worker("RBBBBBBBBBB", BAD), &drive.limits(ROLLOUT))
        .await;
    let seen = Instant::now();
    let (service, pod, why) = rejection(result);
    assert_eq!(service, "web", "services are judged in order");
    let pod = pod.expect("the pod to blame");
    assert!(pod.starts_with("web-"), "{pod}");
    assert_eq!(why, "is in CrashLoopBackOff (last exit code 1)");
    let reported = kit.cluster.first_crash_loop_at().expect("a crash loop");
    assert!(
        seen.duration_since(reported) < Duration::from_secs(2),
        "seen {:?} after the cluster reported it",
        seen.duration_since(reported)
    );
    // The pod named is one of the new release's.
    let pods = kit.objects("Pod");
    assert_eq!(
        pods[&pod]["metadata"]["labels"]["slipway.dev/release"],
        "RBBBBBBBBBB"
    );
}

#[tokio::test]
async fn an_image_that_cannot_be_pulled_is_rejected() {
    let kit = Kit::start().await;
    let drive = Drive::default();
    kit.cluster.behave(BAD, Behaviour::PullFails);
    let result = kit
        .runtime
        .converge(&web_and_worker("RAAAAAAAAAA", BAD), &drive.limits(ROLLOUT))
        .await;
    let (service, pod, why) = rejection(result);
    assert_eq!(service, "web");
    assert!(pod.is_some_and(|pod| pod.starts_with("web-")));
    assert!(
        why.starts_with(&format!("cannot pull image {BAD}")),
        "{why}"
    );
}

#[tokio::test]
async fn pods_never_ready_run_into_the_deadline() {
    let kit = Kit::start().await;
    let drive = Drive::default();
    kit.cluster.behave(BAD, Behaviour::NeverReady);
    let started = Instant::now();
    let result = kit
        .runtime
        .converge(
            &web_and_worker("RAAAAAAAAAA", BAD),
            &drive.limits(Duration::from_millis(1500)),
        )
        .await;
    assert_eq!(
        result,
        Err(Stop::Failed(Failure::Deadline { seconds: 600 }))
    );
    let took = started.elapsed();
    assert!(took >= Duration::from_millis(1400), "{took:?}");
    assert!(
        took < Duration::from_millis(2500),
        "{took:?}: the limits are checked often"
    );
}

#[tokio::test]
async fn an_eviction_is_not_a_failure() {
    let kit = Kit::start().await;
    let drive = Drive::default();
    kit.cluster.behave(GOOD, Behaviour::EvictedOnce);
    kit.runtime
        .converge(&web_and_worker("RAAAAAAAAAA", GOOD), &drive.limits(ROLLOUT))
        .await
        .expect("the evicted pod is replaced");
}

#[tokio::test]
async fn a_cancel_stops_the_wait() {
    let kit = Kit::start().await;
    let drive = Drive::default();
    kit.cluster.behave(BAD, Behaviour::NeverReady);
    let target = web_and_worker("RAAAAAAAAAA", BAD);
    let limits = drive.limits(ROLLOUT);
    let cancel = async {
        tokio::time::sleep(Duration::from_millis(500)).await;
        drive.cancelled.store(true, Ordering::SeqCst);
        Instant::now()
    };
    let (result, cancelled_at) = tokio::join!(kit.runtime.converge(&target, &limits), cancel);
    assert_eq!(result, Err(Stop::Failed(Failure::Cancelled)));
    assert!(cancelled_at.elapsed() < Duration::from_millis(500));
}

#[tokio::test]
async fn without_the_lease_nothing_is_applied() {
    let kit = Kit::start().await;
    let drive = Drive::default();
    drive.fenced.store(true, Ordering::SeqCst);
    let result = kit
        .runtime
        .converge(&web_and_worker("RAAAAAAAAAA", GOOD), &drive.limits(ROLLOUT))
        .await;
    assert_eq!(result, Err(Stop::LeaseLost));
    assert!(
        kit.cluster.requests().is_empty(),
        "{:?}",
        kit.cluster.requests()
    );
}

#[tokio::test]
async fn a_service_without_image_cannot_start_and_nothing_is_applied() {
    let kit = Kit::start().await;
    let drive = Drive::default();
    let target = crate::support::target(
        "RAAAAAAAAAA",
        serde_json::json!({ "web": { "command": "bin/web", "port": 8000 } }),
    );
    let result = kit.runtime.converge(&target, &drive.limits(ROLLOUT)).await;
    match result {
        Err(Stop::Failed(Failure::CannotStart { service, why })) => {
            assert_eq!(service.as_str(), "web");
            assert!(why.contains("has no image"), "{why}");
        }
        other => panic!("expected CannotStart, got {other:?}"),
    }
    assert!(kit.cluster.requests().is_empty());
}

#[tokio::test]
async fn pods_unschedulable_for_too_long_are_rejected() {
    let kit = Kit::with(KubeConfig {
        rules: Rules {
            unschedulable_after: Duration::from_millis(1500),
            ..Rules::default()
        },
        ..KubeConfig::default()
    })
    .await;
    let drive = Drive::default();
    kit.cluster.behave(BAD, Behaviour::Unschedulable);
    let started = Instant::now();
    let result = kit
        .runtime
        .converge(&web_and_worker("RAAAAAAAAAA", BAD), &drive.limits(ROLLOUT))
        .await;
    let (service, pod, why) = rejection(result);
    assert_eq!(service, "web");
    assert!(pod.is_some_and(|pod| pod.starts_with("web-")));
    assert!(why.starts_with("cannot be scheduled for"), "{why}");
    // Time alone decides here: no event comes after the pod is pending.
    // The cluster's times are in whole seconds, so the wait may be up to
    // one second shorter than the rule says.
    assert!(started.elapsed() >= Duration::from_millis(500));
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "{:?}",
        started.elapsed()
    );
}
