//! A worker sweeps on its own: finished jobs beyond what it keeps leave
//! Redis, and events past the retention period leave the database, while it
//! runs as `slipway server worker` runs it (a Redis queue, its own key prefix).

use redis::Commands;
use slipway_core::domain::{DeploymentId, RolloutJob};
use slipway_core::store::Backend;
use slipway_core::testing::{wait_until, TestDatabase};
use slipway_queue::retention::JobRetention;
use slipway_queue::testing::TestRedis;
use slipway_queue::JobSource;
use slipway_worker::retention::RetentionConfig;
use slipway_worker::run::{WorkerApp, WorkerSettings};
use slipway_worker::runtime::local::LocalRuntime;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::oneshot;

#[tokio::test(flavor = "multi_thread")]
async fn a_running_worker_sweeps_finished_jobs_and_old_events() {
    let db = TestDatabase::new(Backend::Sqlite);
    let store = db.store();
    let app = slipway_core::domain::AppName::parse("retained").unwrap();
    store.create_app(&app, None, "tester").unwrap();
    db.execute("UPDATE events SET created_at = '2020-01-01 00:00:00'");
    let dir = tempfile::tempdir().unwrap();
    let runtime = Arc::new(LocalRuntime::new(dir.path()).unwrap());
    let redis = TestRedis::<RolloutJob>::new();
    let queue = redis.queue().await;
    // Jobs of deployments that do not exist: each finishes at once, not driven.
    for _ in 0..5 {
        let job = RolloutJob::new(DeploymentId::generate(), None);
        queue.enqueue(job).await.expect("enqueue");
    }

    let source = JobSource::from_queue(&queue).expect("a Redis queue");
    let mut settings = WorkerSettings::new(store.clone(), queue.clone(), source, runtime);
    settings.retention = RetentionConfig {
        jobs: JobRetention {
            keep_last: Some(2),
            keep_for: None,
        },
        events: Some(Duration::from_secs(24 * 60 * 60)),
        every: Duration::from_millis(100),
    };
    let worker = WorkerApp::build(settings).expect("build the worker");
    let (stop, stopped) = oneshot::channel::<()>();
    let running = tokio::spawn(worker.run_until_stopped(async {
        let _ = stopped.await;
    }));

    let mut conn = redis::Client::open(redis.url.as_str())
        .and_then(|client| client.get_connection())
        .expect("Redis connection");
    let data = format!("{}:rollouts:data", redis.namespace);
    // Five finished and three removed: only two jobs' payloads are left.
    wait_until(
        "the worker to keep the last two finished jobs",
        || {
            let left: usize = conn.hlen(&data).expect("HLEN");
            let done = redis.count("done");
            async move { (left, done) }
        },
        |(left, done)| (*left, *done) == (2, 2),
    )
    .await;
    wait_until(
        "the worker to prune the old event",
        || async { store.list_events(None).unwrap().len() },
        |events| *events == 0,
    )
    .await;
    assert!(store.get_app(&app).is_ok(), "the app itself stays");

    let _ = stop.send(());
    tokio::time::timeout(Duration::from_secs(10), running)
        .await
        .expect("the worker stops within 10 s")
        .expect("the worker task does not panic");
}
