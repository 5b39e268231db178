//! The rollout engine end to end below the queue: real `slipway-testapp`
//! processes on the local runtime, a real database, `Engine::drive`.

#[path = "../support/mod.rs"]
mod support;

mod fencing;
mod supervise;

use serde_json::json;
use slipway_core::domain::{AppName, DeploymentStatus, Manifest, ReleaseId};
use slipway_core::events::EventKind;
use slipway_core::store::{Backend, NewBuild, PromoteOptions};
use slipway_worker::rollout::{Engine, EngineConfig};
use slipway_worker::runtime::local::LocalRuntime;
use slipway_worker::runtime::Instance;
use slipway_worker::testing::Rig;
use std::sync::Arc;
use std::time::{Duration, Instant};

use support::{testapp_manifest, TESTAPP};

fn config(owner: &str) -> EngineConfig {
    let mut config = EngineConfig::new(owner);
    config.lease_ttl = Duration::from_secs(2);
    config.stop_grace = Duration::from_secs(2);
    config
}

/// The worker's rig for app `web-app`, its engine (`w1`) with [`config`]'s
/// two-second lease, no router.
async fn rig(backend: Backend) -> Rig {
    let app = AppName::parse("web-app").unwrap();
    Rig::builder(backend, app)
        .engine(|engine| *engine = config("w1"))
        .start()
        .await
}

/// What the instance answers on `/`: the release it runs.
async fn answer(instance: &Instance) -> String {
    let url = format!("http://127.0.0.1:{}/", instance.port.unwrap());
    reqwest::get(url).await.unwrap().text().await.unwrap()
}

async fn serving(rig: &Rig, release: &ReleaseId, count: usize) {
    let instances = rig.instances().await;
    assert_eq!(instances.len(), count, "{instances:#?}");
    for instance in &instances {
        assert_eq!(&instance.release, release);
        assert_eq!(answer(instance).await, release.as_str());
    }
}

#[tokio::test]
async fn a_healthy_release_rolls_out_and_replaces_the_old_one() {
    let rig = rig(Backend::Sqlite).await;
    let first = rig
        .release(testapp_manifest("--healthy-after-ms 200", 3))
        .await;
    let d = rig.deploy(&first).await;
    assert_eq!(d.status, DeploymentStatus::Succeeded, "{d:?}");
    assert_eq!(rig.active(), Some(first.clone()));
    serving(&rig, &first, 3).await;

    let second = rig
        .release(testapp_manifest("--healthy-after-ms 100", 2))
        .await;
    let d = rig.deploy(&second).await;
    assert_eq!(d.status, DeploymentStatus::Succeeded, "{d:?}");
    assert_eq!(d.previous_release.as_ref(), Some(&first));
    assert_eq!(rig.active(), Some(second.clone()));
    serving(&rig, &second, 2).await;
}

#[tokio::test]
async fn a_release_that_exits_at_once_is_rolled_back_fast() {
    let rig = rig(Backend::Postgres).await;
    let good = rig.release(testapp_manifest("", 2)).await;
    rig.deploy(&good).await;
    let bad = rig
        .release(testapp_manifest("--exit-after-ms 0 --exit-code 3", 2))
        .await;
    let started = Instant::now();
    let d = rig.deploy(&bad).await;
    let took = started.elapsed();
    assert_eq!(d.status, DeploymentStatus::RolledBack, "{d:?}");
    let reason = d.reason.unwrap();
    assert!(reason.contains("exited with status 3"), "{reason}");
    assert!(took < Duration::from_secs(5), "fail fast, took {took:?}");
    assert_eq!(rig.active(), Some(good.clone()));
    serving(&rig, &good, 2).await;
    let events = rig.store.list_events(Some(&rig.app)).unwrap();
    let statuses: Vec<_> = events
        .iter()
        .map(|e| e.kind)
        .filter(|kind| *kind != EventKind::DeploymentProgress)
        .collect();
    assert!(
        statuses.ends_with(&[
            EventKind::DeploymentCreated,
            EventKind::DeploymentStarted,
            EventKind::DeploymentRollingBack,
            EventKind::DeploymentRolledBack,
        ]),
        "{statuses:?}"
    );
    // Progress between them: the bad release's wave, then the rollback to
    // the good one, all before the final event.
    let steps: Vec<_> = events
        .iter()
        .filter(|e| e.kind == EventKind::DeploymentProgress)
        .map(|e| e.data.clone())
        .collect();
    let wave = |release: &str| {
        steps
            .iter()
            .any(|s| s["step"] == "wave" && s["release"] == release && s["service"] == "web")
    };
    assert!(wave(bad.as_str()), "{steps:?}");
    assert!(
        steps
            .iter()
            .any(|s| s["step"] == "rollback" && s["to"] == good.as_str()),
        "{steps:?}"
    );
    assert_eq!(events.last().unwrap().kind, EventKind::DeploymentRolledBack);
}

#[tokio::test]
async fn a_failing_health_check_rolls_back_well_before_the_deadline() {
    let rig = rig(Backend::Sqlite).await;
    let good = rig.release(testapp_manifest("", 1)).await;
    rig.deploy(&good).await;
    let bad = rig
        .release(testapp_manifest("--health-status 500", 2))
        .await;
    let started = Instant::now();
    let d = rig.deploy(&bad).await;
    assert_eq!(d.status, DeploymentStatus::RolledBack, "{d:?}");
    assert!(
        d.reason.as_deref().unwrap().contains("answered 500"),
        "{d:?}"
    );
    // grace 0 + 3 intervals of 1 s: seconds, not the 600 s deadline.
    assert!(
        started.elapsed() < Duration::from_secs(8),
        "{:?}",
        started.elapsed()
    );
    serving(&rig, &good, 1).await;
}

#[tokio::test]
async fn a_release_never_healthy_is_rolled_back_at_its_deadline() {
    let rig = rig(Backend::Sqlite).await;
    let good = rig.release(testapp_manifest("", 1)).await;
    rig.deploy(&good).await;
    // Healthy only after a minute, with a health window longer than the deadline.
    let slow = Manifest::from_json(&json!({ "services": { "web": {
        "command": format!("'{TESTAPP}' --healthy-after-ms 60000"),
        "port": 8000,
        "health": { "path": "/health", "grace": 0, "interval": 60, "timeout": 1 },
    }}}))
    .unwrap();
    let build = NewBuild {
        manifest: slow,
        git: None,
        description: None,
    };
    let slow = rig.store.create_build(&rig.app, &build, "t").unwrap().1.id;
    let options = PromoteOptions {
        deadline: Some(slipway_core::domain::Deadline::parse(10, "deadline_seconds").unwrap()),
        ..PromoteOptions::default()
    };
    let started = Instant::now();
    let d = rig.deploy_with(&slow, options).await;
    let took = started.elapsed();
    assert_eq!(d.status, DeploymentStatus::RolledBack, "{d:?}");
    assert!(d.reason.as_deref().unwrap().contains("deadline"), "{d:?}");
    assert!(
        took >= Duration::from_secs(9) && took < Duration::from_secs(15),
        "{took:?}"
    );
    serving(&rig, &good, 1).await;
}

#[tokio::test]
async fn a_failure_with_nothing_to_return_to_fails_and_cleans_up() {
    let rig = rig(Backend::Sqlite).await;
    let bad = rig.release(testapp_manifest("--exit-after-ms 0", 2)).await;
    let d = rig.deploy(&bad).await;
    assert_eq!(d.status, DeploymentStatus::Failed, "{d:?}");
    assert!(
        d.reason.as_deref().unwrap().contains("no previous release"),
        "{d:?}"
    );
    assert!(rig.instances().await.is_empty());
    assert_eq!(rig.active(), None);
}

#[tokio::test]
async fn a_cancelled_rollout_rolls_back() {
    let rig = rig(Backend::Sqlite).await;
    let good = rig.release(testapp_manifest("", 1)).await;
    rig.deploy(&good).await;
    let slow = rig
        .release(testapp_manifest("--healthy-after-ms 30000", 1))
        .await;
    let d = rig.promote(&slow, PromoteOptions::default()).await;
    let (store, app, id) = (rig.store.clone(), rig.app.clone(), d.id.clone());
    let canceller = tokio::spawn(async move {
        tokio::time::sleep(Duration::from_millis(800)).await;
        tokio::task::spawn_blocking(move || store.cancel_deployment(&app, &id, "tester"))
            .await
            .unwrap()
    });
    rig.engine.drive(&d.id).await.unwrap();
    canceller.await.unwrap().unwrap();
    let d = rig.store.get_deployment(&rig.app, &d.id).unwrap();
    assert_eq!(d.status, DeploymentStatus::RolledBack, "{d:?}");
    assert_eq!(d.reason.as_deref(), Some("cancelled"));
    serving(&rig, &good, 1).await;
}

#[tokio::test]
async fn another_worker_takes_over_a_deployment_whose_worker_died() {
    let rig = rig(Backend::Postgres).await;
    let good = rig.release(testapp_manifest("", 1)).await;
    rig.deploy(&good).await;
    let next = rig
        .release(testapp_manifest("--healthy-after-ms 1500", 2))
        .await;
    let d = rig.promote(&next, PromoteOptions::default()).await;
    // Worker 1 starts the rollout and dies mid-way (its task is dropped).
    let first = Engine::new(rig.store.clone(), rig.runtime.clone(), config("w-dead"));
    let _ = tokio::time::timeout(Duration::from_millis(700), first.drive(&d.id)).await;
    drop(first);
    let midway = rig.store.get_deployment(&rig.app, &d.id).unwrap();
    assert_eq!(midway.status, DeploymentStatus::Running);
    // Worker 2 (another runtime over the same state) waits out the lease and finishes.
    let runtime = Arc::new(LocalRuntime::new(rig.dir()).unwrap());
    let second = Engine::new(rig.store.clone(), runtime, config("w-alive"));
    second.drive(&d.id).await.unwrap();
    let early = rig.store.get_deployment(&rig.app, &d.id).unwrap();
    assert_eq!(
        early.status,
        DeploymentStatus::Running,
        "the lease still held it"
    );
    tokio::time::sleep(Duration::from_millis(2100)).await;
    second.drive(&d.id).await.unwrap();
    let done = rig.store.get_deployment(&rig.app, &d.id).unwrap();
    assert_eq!(done.status, DeploymentStatus::Succeeded, "{done:?}");
    serving(&rig, &next, 2).await;
}
