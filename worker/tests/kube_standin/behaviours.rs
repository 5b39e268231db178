//! The pods' scripted behaviours by image, and what the Deployment's
//! status makes of them.

use super::{apply, cluster, deployment, pods, rollout_complete, wait_for_rollout, waiting_reason};
use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::Pod;
use kube::api::Api;
use slipway_core::testing::{wait_until, Wait};
use slipway_worker::testing::kube::Behaviour;
use std::time::{Duration, Instant};
#[tokio::test]
async fn a_crash_looping_image_shows_back_off_with_exit_code_1_and_misses_its_deadline() {
    let (standin, client) = cluster().await;
    standin.behave("crash:1", Behaviour::CrashLoop);
    let mut broken = deployment("web", "crash:1", 1);
    broken.spec.as_mut().unwrap().progress_deadline_seconds = Some(1);
    let started = Instant::now();
    apply(&client, &broken).await;
    let looping = |p: &Vec<Pod>| {
        p.iter()
            .any(|p| waiting_reason(p).as_deref() == Some("CrashLoopBackOff"))
    };
    let pods = wait_until(
        "a pod in CrashLoopBackOff",
        || pods(&client, "app=web"),
        looping,
    )
    .await;
    let status = &pods[0]
        .status
        .as_ref()
        .unwrap()
        .container_statuses
        .as_ref()
        .unwrap()[0];
    assert_eq!(
        status
            .last_state
            .as_ref()
            .unwrap()
            .terminated
            .as_ref()
            .unwrap()
            .exit_code,
        1
    );
    assert!(status.restart_count >= 1 && !status.ready);
    assert!(standin
        .first_crash_loop_at()
        .is_some_and(|at| at >= started));

    let api: Api<Deployment> = Api::namespaced(client.clone(), "ns");
    let failed = Wait::new("the progress deadline to pass")
        .until(
            || api.get("web"),
            |d| d.as_ref().is_ok_and(|d| rollout_complete(d).is_err()),
        )
        .await
        .unwrap();
    assert!(started.elapsed() >= Duration::from_secs(1));
    let restarts = |pods: Vec<Pod>| {
        pods[0].status.clone().unwrap().container_statuses.unwrap()[0].restart_count
    };
    let before = restarts(self::pods(&client, "app=web").await);
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(
        restarts(self::pods(&client, "app=web").await) > before,
        "the crash loop goes on"
    );
    let available = failed
        .status
        .unwrap()
        .conditions
        .unwrap()
        .into_iter()
        .find(|c| c.type_ == "Available")
        .unwrap();
    assert_eq!(available.status, "False");
}

#[tokio::test]
async fn pull_failures_unschedulable_and_never_ready_pods_stay_unready() {
    let (standin, client) = cluster().await;
    standin.behave("missing:1", Behaviour::PullFails);
    standin.behave("big:1", Behaviour::Unschedulable);
    standin.behave("slow:1", Behaviour::NeverReady);
    for (name, image) in [("pull", "missing:1"), ("big", "big:1"), ("slow", "slow:1")] {
        apply(&client, &deployment(name, image, 1)).await;
    }
    let backoff = |p: &Vec<Pod>| {
        p.iter()
            .any(|p| waiting_reason(p).as_deref() == Some("ImagePullBackOff"))
    };
    let pulled = wait_until(
        "an image pull back-off",
        || pods(&client, "app=pull"),
        backoff,
    )
    .await;
    let waiting = pulled[0]
        .status
        .clone()
        .unwrap()
        .container_statuses
        .unwrap()[0]
        .state
        .clone()
        .unwrap()
        .waiting
        .unwrap();
    assert!(waiting.message.unwrap().contains("not found"));

    let unscheduled = |p: &Vec<Pod>| {
        p.iter()
            .flat_map(|p| {
                p.status
                    .clone()
                    .and_then(|s| s.conditions)
                    .unwrap_or_default()
            })
            .any(|c| {
                c.type_ == "PodScheduled"
                    && c.status == "False"
                    && c.reason.as_deref() == Some("Unschedulable")
            })
    };
    wait_until(
        "an unschedulable pod",
        || pods(&client, "app=big"),
        unscheduled,
    )
    .await;
    let running = |p: &Vec<Pod>| {
        p.iter()
            .any(|p| p.status.as_ref().and_then(|s| s.phase.as_deref()) == Some("Running"))
    };
    let slow = wait_until("a running pod", || pods(&client, "app=slow"), running).await;
    assert!(!slow[0].status.clone().unwrap().container_statuses.unwrap()[0].ready);
    tokio::time::sleep(Duration::from_millis(400)).await;
    for name in ["pull", "big", "slow"] {
        let d = Api::<Deployment>::namespaced(client.clone(), "ns")
            .get(name)
            .await
            .unwrap();
        assert_eq!(rollout_complete(&d), Ok(false), "{name}");
    }
}

#[tokio::test]
async fn an_evicted_pod_is_replaced_and_the_rollout_completes() {
    let (standin, client) = cluster().await;
    standin.behave("flaky:1", Behaviour::EvictedOnce);
    apply(&client, &deployment("web", "flaky:1", 1)).await;
    wait_for_rollout(&client, "web").await;
    let pods = pods(&client, "app=web").await;
    assert_eq!(pods.len(), 2, "the evicted pod stays, as on a real cluster");
    let reasons: Vec<_> = pods
        .iter()
        .map(|p| p.status.clone().unwrap().reason)
        .collect();
    assert!(reasons.contains(&Some("Evicted".to_owned())), "{reasons:?}");
}
