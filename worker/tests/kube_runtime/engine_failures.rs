//! Broken releases through the engine on the Kubernetes runtime: a crash
//! loop rolled back within 2 s of its first `CrashLoopBackOff`, an image that
//! cannot be pulled, and pods never ready rolled back at the deadline. Each
//! time the previous release's Deployments are what runs afterwards.

use crate::engine_stage::{pairs, web_and_worker, Stage, BAD, GOOD};
use slipway_core::domain::{Deadline, DeploymentId, DeploymentStatus, ReleaseId};
use slipway_core::store::{PromoteOptions, Store};
use slipway_worker::testing::kube::Behaviour;
use std::time::{Duration, Instant};

/// A stage whose app runs `first` (of [`GOOD`]), rolled out.
async fn running_good() -> (Stage, ReleaseId) {
    let stage = Stage::start().await;
    let first = stage.release(web_and_worker(GOOD));
    let deployed = stage.deploy(&first).await;
    assert_eq!(deployed.status, DeploymentStatus::Succeeded, "{deployed:?}");
    (stage, first)
}

/// `first` runs again, in full: both Deployments of it, every pod ready.
fn back_on(stage: &Stage, first: &ReleaseId) {
    assert_eq!(
        stage.deployed(),
        pairs(&[("web", first), ("worker", first)])
    );
    for (name, count) in [("web", 2), ("worker", 1)] {
        let deployment = &stage.kit.objects("Deployment")[name];
        assert_eq!(
            deployment["status"]["availableReplicas"], count,
            "{deployment}"
        );
    }
    assert_eq!(stage.ready_pods(first).len(), 3);
    assert_eq!(stage.active().as_ref(), Some(first));
}

/// When the deployment was first seen `rolling_back`, looking every 5 ms
/// (`None` if it ended without, or not within 60 s).
async fn first_rolling_back(store: Store, id: DeploymentId) -> Option<Instant> {
    let started = Instant::now();
    while started.elapsed() < Duration::from_secs(60) {
        let (store, id) = (store.clone(), id.clone());
        let status = tokio::task::spawn_blocking(move || store.get_deployment_by_id(&id))
            .await
            .expect("the look")
            .expect("the deployment")
            .status;
        if status == DeploymentStatus::RollingBack {
            return Some(Instant::now());
        }
        if status.is_final() {
            return None;
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    None
}

#[tokio::test]
async fn a_crash_loop_is_rolled_back_within_two_seconds_naming_the_pod() {
    let (stage, first) = running_good().await;
    stage.kit.cluster.behave(BAD, Behaviour::CrashLoop);
    let second = stage.release(web_and_worker(BAD));
    let deployment = stage.promote(&second, &PromoteOptions::default());
    let watcher = tokio::spawn(first_rolling_back(
        stage.store.clone(),
        deployment.id.clone(),
    ));
    let rolled_back = stage.drive(deployment).await;
    assert_eq!(
        rolled_back.status,
        DeploymentStatus::RolledBack,
        "{rolled_back:?}"
    );

    let crashed = stage
        .kit
        .cluster
        .first_crash_loop_at()
        .expect("a pod went into CrashLoopBackOff");
    let rolling_back = watcher
        .await
        .unwrap()
        .expect("the deployment was seen rolling_back");
    let took = rolling_back.saturating_duration_since(crashed);
    assert!(
        took <= Duration::from_secs(2),
        "rolling back {took:?} after the first CrashLoopBackOff"
    );
    let reason = rolled_back.reason.expect("a reason");
    assert!(reason.starts_with("web pod web-"), "{reason}");
    assert!(
        reason.ends_with("is in CrashLoopBackOff (last exit code 1)"),
        "{reason}"
    );
    back_on(&stage, &first);
}

#[tokio::test]
async fn a_release_whose_image_cannot_be_pulled_is_rolled_back() {
    let (stage, first) = running_good().await;
    stage.kit.cluster.behave(BAD, Behaviour::PullFails);
    let second = stage.release(web_and_worker(BAD));
    let rolled_back = stage.deploy(&second).await;
    assert_eq!(
        rolled_back.status,
        DeploymentStatus::RolledBack,
        "{rolled_back:?}"
    );
    let reason = rolled_back.reason.expect("a reason");
    assert!(
        reason.contains(&format!("cannot pull image {BAD}")),
        "{reason}"
    );
    back_on(&stage, &first);
}

#[tokio::test]
async fn a_release_never_ready_is_rolled_back_at_its_deadline() {
    let (stage, first) = running_good().await;
    stage.kit.cluster.behave(BAD, Behaviour::NeverReady);
    let second = stage.release(web_and_worker(BAD));
    // The shortest deadline a promotion may ask for.
    let options = PromoteOptions {
        deadline: Some(Deadline::parse(Deadline::MIN.into(), "deadline_seconds").unwrap()),
        ..PromoteOptions::default()
    };
    let started = Instant::now();
    let rolled_back = stage.deploy_with(&second, &options).await;
    let took = started.elapsed();
    assert_eq!(
        rolled_back.status,
        DeploymentStatus::RolledBack,
        "{rolled_back:?}"
    );
    assert_eq!(
        rolled_back.reason.as_deref(),
        Some("did not finish before its deadline (10 s)")
    );
    // Not before the deadline; the rollback itself takes well under 10 s more.
    assert!(
        took >= Duration::from_secs(9) && took < Duration::from_secs(20),
        "{took:?}"
    );
    assert!(stage.ready_pods(&second).is_empty());
    back_on(&stage, &first);
}
