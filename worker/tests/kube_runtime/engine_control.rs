//! Who drives a rollout on the Kubernetes runtime, and until when: a
//! cancel asked through the store while the engine drives rolls back, and a
//! worker killed mid-rollout leaves its deployment to another worker once
//! its lease lapses, which finishes it without changing what was applied.

use crate::engine_stage::{config, pairs, release_of, web_and_worker, Stage, GOOD};
use crate::support::app;
use slipway_core::domain::{DeploymentStatus, ReleaseId};
use slipway_core::store::PromoteOptions;
use slipway_core::testing::Wait;
use slipway_worker::rollout::Driven;
use slipway_worker::testing::kube::Behaviour;
use std::time::{Duration, Instant};

const SLOW: &str = "ghcr.io/acme/shop:slow";

/// Waits until both Deployments carry `release`: the engine applied it.
async fn until_applied(stage: &Stage, release: &ReleaseId) {
    let look = || std::future::ready(stage.deployed());
    Wait::new(format!("the Deployments of {release} applied"))
        .within(Duration::from_secs(20))
        .every(Duration::from_millis(10))
        .until(look, |deployed| {
            *deployed == pairs(&[("web", release), ("worker", release)])
        })
        .await;
}

#[tokio::test]
async fn a_cancelled_rollout_is_rolled_back() {
    let stage = Stage::start().await;
    let first = stage.release(web_and_worker(GOOD));
    assert_eq!(
        stage.deploy(&first).await.status,
        DeploymentStatus::Succeeded
    );
    stage.kit.cluster.behave(SLOW, Behaviour::NeverReady);
    let second = stage.release(web_and_worker(SLOW));
    let deployment = stage.promote(&second, &PromoteOptions::default());

    let canceller = async {
        until_applied(&stage, &second).await;
        let (store, id) = (stage.store.clone(), deployment.id.clone());
        tokio::task::spawn_blocking(move || store.cancel_deployment(&app(), &id, "tester"))
            .await
            .unwrap()
            .expect("the cancel requested");
        Instant::now()
    };
    // Without the cancel the rollout would wait for its 600 s deadline.
    let driving = tokio::time::timeout(Duration::from_secs(30), stage.engine.drive(&deployment.id));
    let (driven, asked) = tokio::join!(driving, canceller);
    let driven = driven.expect("the cancel ended the drive").expect("driven");
    assert_eq!(driven, Driven::Finished);
    assert!(
        asked.elapsed() < Duration::from_secs(10),
        "rolled back {:?} after the cancel",
        asked.elapsed()
    );

    let done = stage.deployment(&deployment.id);
    assert_eq!(done.status, DeploymentStatus::RolledBack, "{done:?}");
    assert_eq!(done.reason.as_deref(), Some("cancelled"));
    assert!(done.cancel_requested);
    let steps = stage.progress(&deployment.id);
    assert!(
        steps
            .iter()
            .any(|s| s["step"] == "cancel" && s["by"] == "tester"),
        "{steps:#?}"
    );
    assert_eq!(
        stage.deployed(),
        pairs(&[("web", &first), ("worker", &first)])
    );
    assert_eq!(stage.ready_pods(&first).len(), 3);
    assert_eq!(stage.active(), Some(first));
}

#[tokio::test]
async fn a_rollout_whose_worker_was_killed_is_finished_by_another() {
    let lease = Duration::from_secs(2);
    let stage = Stage::with(config("w1", lease)).await;
    let first = stage.release(web_and_worker(GOOD));
    assert_eq!(
        stage.deploy(&first).await.status,
        DeploymentStatus::Succeeded
    );
    stage.kit.cluster.behave(
        SLOW,
        Behaviour::Ready {
            after: Duration::from_secs(1),
        },
    );
    let second = stage.release(web_and_worker(SLOW));
    let deployment = stage.promote(&second, &PromoteOptions::default());
    let id = deployment.id.clone();

    // Worker 1 applies the release; then it is killed: its task is aborted,
    // nothing is handed back, its lease stays until it lapses.
    let engine1 = stage.engine.clone();
    let drive_id = id.clone();
    let killed = tokio::spawn(async move { engine1.drive(&drive_id).await });
    until_applied(&stage, &second).await;
    killed.abort();
    assert!(killed.await.unwrap_err().is_cancelled());
    let killed_at = Instant::now();
    let midway = stage.deployment(&id);
    assert_eq!(midway.status, DeploymentStatus::Running, "{midway:?}");
    assert_eq!(midway.lease_epoch, 1);
    let applied = [stage.generation("web"), stage.generation("worker")];

    let engine2 = stage.other_engine(config("w2", lease)).await;
    assert_eq!(
        engine2.drive(&id).await.expect("asked"),
        Driven::NotDriven,
        "the killed worker's lease still holds"
    );
    let mut refused = 1;
    let finished = loop {
        assert!(
            killed_at.elapsed() < Duration::from_secs(30),
            "not finished 30 s after the kill ({refused} refusals)"
        );
        match engine2.drive(&id).await.expect("driven") {
            Driven::Finished => break killed_at.elapsed(),
            Driven::NotDriven => refused += 1,
            Driven::HandedOver => panic!("worker 2 is not shutting down"),
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    // The lease (2 s, renewed every ~0.67 s) outlived the kill by over a second.
    assert!(refused >= 2, "{refused} refusals in {finished:?}");

    let done = stage.deployment(&id);
    assert_eq!(done.status, DeploymentStatus::Succeeded, "{done:?}");
    assert_eq!(done.lease_epoch, 2, "claimed once by each worker");
    assert_eq!(stage.active(), Some(second.clone()));
    // Worker 2 applied the same objects: no new generation.
    assert_eq!(
        [stage.generation("web"), stage.generation("worker")],
        applied
    );
    assert_eq!(
        stage.deployed(),
        pairs(&[("web", &second), ("worker", &second)])
    );
    let ready = stage.ready_pods(&second);
    assert_eq!(ready.len(), 3, "{ready:?}");
    let pods = stage.kit.objects("Pod");
    assert!(
        pods.values().all(|pod| release_of(pod) == second.as_str()),
        "only the new release's pods are left: {:?}",
        pods.keys()
    );
}
