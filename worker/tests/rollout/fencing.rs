//! One drive at a time: a deployment handed out twice in one process, a
//! drive whose lease was taken, a worker shutting down mid-rollout, and a
//! release no key opens. Each asserts outcomes: final status, claims (the
//! lease's fencing token counts them), final events, what runs.

use crate::support::testapp_manifest;
use crate::{config, rig, serving, Rig};
use slipway_core::domain::{DeploymentId, DeploymentStatus, EnvChange, ReleaseId};
use slipway_core::seal::{generate_key, Keyring};
use slipway_core::store::{Backend, PromoteOptions};
use slipway_core::testing::wait_until;
use slipway_worker::rollout::{Driven, Engine};
use std::time::{Duration, Instant};

/// How many events of `kind` the deployment has.
fn events(rig: &Rig, id: &DeploymentId, kind: &str) -> usize {
    rig.store
        .list_deployment_events(id, 0)
        .unwrap()
        .iter()
        .filter(|e| e.kind.as_str() == kind)
        .count()
}

/// Waits until the deployment is `running` (its first wave under way).
async fn until_running(rig: &Rig, id: &DeploymentId) {
    let status = || std::future::ready(rig.store.get_deployment_by_id(id).unwrap().status);
    wait_until("the rollout to start", status, |s| {
        *s == DeploymentStatus::Running
    })
    .await;
}

#[tokio::test]
async fn a_deployment_handed_out_twice_in_one_process_is_driven_once() {
    let rig = rig(Backend::Postgres).await;
    let good = rig.release(testapp_manifest("", 1)).await;
    rig.deploy(&good).await;
    let next = rig
        .release(testapp_manifest("--healthy-after-ms 500", 2))
        .await;
    let d = rig.promote(&next, PromoteOptions::default()).await;
    // The same engine (one owner name) gets the job twice at once, as after
    // a queue hands an orphaned job back while the first drive still runs.
    let (a, b) = tokio::join!(rig.engine.drive(&d.id), rig.engine.drive(&d.id));
    let mut outcomes = [a.unwrap(), b.unwrap()];
    outcomes.sort_by_key(|o| format!("{o:?}"));
    assert_eq!(outcomes, [Driven::Finished, Driven::NotDriven]);
    let done = rig.store.get_deployment_by_id(&d.id).unwrap();
    assert_eq!(done.status, DeploymentStatus::Succeeded, "{done:?}");
    assert_eq!(done.lease_epoch, 1, "claimed once");
    assert_eq!(events(&rig, &d.id, "deployment.succeeded"), 1);
    serving(&rig, &next, 2).await;
}

#[tokio::test]
async fn a_drive_whose_lease_was_taken_stops_acting() {
    let rig = rig(Backend::Postgres).await;
    let good = rig.release(testapp_manifest("", 1)).await;
    rig.deploy(&good).await;
    let next = rig
        .release(testapp_manifest("--healthy-after-ms 1500", 2))
        .await;
    let d = rig.promote(&next, PromoteOptions::default()).await;
    let first = rig.engine.drive(&d.id);
    let thief = async {
        until_running(&rig, &d.id).await;
        // The lease lapses under the first drive (as if it had stalled) and
        // another worker claims the deployment.
        rig.db().execute(&format!(
            "UPDATE deployments SET lease_expires_at = lease_expires_at - INTERVAL '1 hour' \
             WHERE id = '{}'",
            d.id
        ));
        let second = Engine::new(rig.store.clone(), rig.runtime.clone(), config("w2"));
        second.drive(&d.id).await.unwrap()
    };
    let (first, second) = tokio::join!(first, thief);
    assert_eq!(first.unwrap(), Driven::NotDriven, "the first gave way");
    assert_eq!(second, Driven::Finished);
    let done = rig.store.get_deployment_by_id(&d.id).unwrap();
    assert_eq!(done.status, DeploymentStatus::Succeeded, "{done:?}");
    assert_eq!(done.lease_epoch, 2);
    assert_eq!(events(&rig, &d.id, "deployment.succeeded"), 1);
    // Neither drive left an extra instance behind.
    serving(&rig, &next, 2).await;
}

#[tokio::test]
async fn a_stopping_worker_hands_its_rollout_over_at_a_safe_point() {
    let rig = rig(Backend::Postgres).await;
    let good = rig.release(testapp_manifest("", 1)).await;
    rig.deploy(&good).await;
    let next = rig
        .release(testapp_manifest("--healthy-after-ms 1000", 2))
        .await;
    let d = rig.promote(&next, PromoteOptions::default()).await;
    let stopping = async {
        until_running(&rig, &d.id).await;
        tokio::time::sleep(Duration::from_millis(200)).await;
        rig.engine.shut_down();
        Instant::now()
    };
    let (driven, asked) = tokio::join!(rig.engine.drive(&d.id), stopping);
    assert_eq!(driven.unwrap(), Driven::HandedOver);
    assert!(
        asked.elapsed() < Duration::from_secs(1),
        "stopped at the next safe point, not at the end: {:?}",
        asked.elapsed()
    );
    // The lease is free at once: another worker claims without waiting it out.
    let midway = rig.store.get_deployment_by_id(&d.id).unwrap();
    assert_eq!(midway.status, DeploymentStatus::Running);
    assert_eq!(rig.engine.drive(&d.id).await.unwrap(), Driven::HandedOver);
    let other = Engine::new(rig.store.clone(), rig.runtime.clone(), config("w2"));
    assert_eq!(other.drive(&d.id).await.unwrap(), Driven::Finished);
    let done = rig.store.get_deployment_by_id(&d.id).unwrap();
    assert_eq!(done.status, DeploymentStatus::Succeeded, "{done:?}");
    assert_eq!(done.lease_epoch, 2, "one claim each");
    assert_eq!(events(&rig, &d.id, "deployment.succeeded"), 1);
    serving(&rig, &next, 2).await;
}

#[tokio::test]
async fn a_release_no_key_opens_fails_at_once_naming_it() {
    let rig = rig(Backend::Postgres).await;
    let good = rig.release(testapp_manifest("", 1)).await;
    rig.deploy(&good).await;
    // Its env was sealed under a newer key the workers do not hold.
    let newer = generate_key().unwrap();
    let keyring = Keyring::from_base64(newer.expose(), Some(rig.db().secret_key())).unwrap();
    let elsewhere = rig.db().store_with_keyring(keyring);
    let set = [("TOKEN".to_owned(), "sealed-with-another-key".to_owned())];
    let change = EnvChange::parse(set.into_iter().collect(), Vec::new()).unwrap();
    let sealed = elsewhere
        .change_env(&rig.app, &change, None, "tester")
        .unwrap()
        .unwrap();
    let d = rig.promote(&sealed.id, PromoteOptions::default()).await;
    let engine = &rig.engine;
    let started = Instant::now();
    assert_eq!(engine.drive(&d.id).await.unwrap(), Driven::Finished);
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "not retried until the deadline"
    );
    let done = rig.store.get_deployment_by_id(&d.id).unwrap();
    assert_eq!(done.status, DeploymentStatus::RolledBack, "{done:?}");
    let reason = done.reason.unwrap_or_default();
    assert!(
        reason.contains(&format!("release {} cannot be read", sealed.id)),
        "{reason}"
    );
    assert!(!reason.contains("sealed-with-another-key"), "{reason}");
    let active: Option<ReleaseId> = rig.active();
    assert_eq!(active.as_ref(), Some(&good));
    serving(&rig, &good, 1).await;
}
