//! A worker started the way `slipway server worker` and `slipway dev` start
//! one: `WorkerApp::build` from `WorkerSettings`, then `run_until_stopped`,
//! over a fresh database and an in-process queue. It drives a deployment it
//! is sent to success and stops when told.

mod support;

use slipway_core::domain::{DeploymentStatus, RolloutJob};
use slipway_core::store::{Backend, NewBuild, PromoteOptions};
use slipway_core::testing::{wait_until, TestDatabase};
use slipway_queue::JobQueue;
use slipway_worker::run::{WorkerApp, WorkerSettings};
use slipway_worker::runtime::local::LocalRuntime;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::oneshot;

#[tokio::test(flavor = "multi_thread")]
async fn a_worker_app_drives_a_queued_deployment_and_stops_when_told() {
    let db = TestDatabase::new(Backend::Sqlite);
    let store = db.store();
    let dir = tempfile::tempdir().unwrap();
    let runtime = Arc::new(LocalRuntime::new(dir.path()).unwrap());
    let app = support::unique_app("worker-app");
    let _reaper = support::Reaper::new(&[&app]);
    store.create_app(&app, None, "tester").unwrap();
    let build = NewBuild {
        manifest: support::testapp_manifest("", 1),
        git: None,
        description: None,
    };
    let (_, release) = store.create_build(&app, &build, "tester").unwrap();
    let (_, deployment) = store
        .promote(&app, &release.id, &PromoteOptions::default(), "tester")
        .unwrap();

    let (queue, jobs) = JobQueue::in_process();
    let settings = WorkerSettings::new(store.clone(), queue.clone(), jobs.into(), runtime.clone());
    let worker = WorkerApp::build(settings).expect("build the worker");
    let (stop, stopped) = oneshot::channel::<()>();
    let running = tokio::spawn(worker.run_until_stopped(async {
        let _ = stopped.await;
    }));
    queue
        .enqueue(RolloutJob::new(deployment.id.clone(), None))
        .await
        .expect("enqueue");

    let ended = wait_until(
        "the deployment to succeed",
        || async { store.get_deployment_by_id(&deployment.id).unwrap().status },
        |status| *status == DeploymentStatus::Succeeded,
    )
    .await;
    assert_eq!(ended, DeploymentStatus::Succeeded);

    let _ = stop.send(());
    tokio::time::timeout(Duration::from_secs(10), running)
        .await
        .expect("the worker stops within 10 s")
        .expect("the worker task does not panic");
    runtime.stop_all(Duration::ZERO).await;
}
