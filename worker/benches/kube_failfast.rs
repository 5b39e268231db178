//! Fail-fast on the Kubernetes runtime: the time from a pod of a new release
//! turning `CrashLoopBackOff` in the API stand-in (the moment its scripted
//! kubelet writes that status) to the deployment entering `rolling_back`
//! (polled from the store every 2 ms), through the real engine, kube client
//! and watch. Goal ≤ 1 s. The stand-in is a test server, not a cluster: the
//! figure is Slipway's own reaction time, not a real API server's latency.
//!
//! Run: `cargo bench -p slipway-worker --features testing --bench kube_failfast`.

use serde_json::json;
use slipway_core::domain::{AppName, DeploymentStatus, Manifest, ReleaseId};
use slipway_core::store::{Backend, NewBuild, PromoteOptions, Store};
use slipway_core::testing::TestDatabase;
use slipway_worker::rollout::{Engine, EngineConfig};
use slipway_worker::runtime::kubernetes::{KubeConfig, KubeRuntime};
use slipway_worker::testing::kube::{Behaviour, StandIn};
use std::sync::Arc;
use std::time::{Duration, Instant};

const RUNS: usize = 7;
const GOOD: &str = "registry.example/shop:1";
const BAD: &str = "registry.example/shop:crashes";

fn release(store: &Store, app: &AppName, image: &str) -> ReleaseId {
    let services = json!({ "web": { "image": image, "port": 8000, "scale": { "count": 3 } } });
    let build = NewBuild {
        manifest: Manifest::from_json(&json!({ "services": services })).unwrap(),
        git: None,
        description: None,
    };
    store.create_build(app, &build, "bench").unwrap().1.id
}

/// One run on a fresh stand-in and database: seconds from the first
/// `CrashLoopBackOff` to `rolling_back`.
async fn once() -> f64 {
    let cluster = StandIn::start().await;
    cluster.set_ready_after(Duration::from_millis(50));
    cluster.behave(BAD, Behaviour::CrashLoop);
    let runtime = Arc::new(KubeRuntime::new(
        cluster.client().await,
        KubeConfig::default(),
    ));
    let db = TestDatabase::new(Backend::Sqlite);
    let store = db.store();
    let app = AppName::parse("shop").unwrap();
    store.create_app(&app, None, "bench").unwrap();
    let engine = Engine::new(store.clone(), runtime, EngineConfig::new("bench"));

    let good = release(&store, &app, GOOD);
    let (_, d) = store
        .promote(&app, &good, &PromoteOptions::default(), "bench")
        .unwrap();
    engine.drive(&d.id).await.unwrap();
    assert_eq!(
        store.get_deployment(&app, &d.id).unwrap().status,
        DeploymentStatus::Succeeded
    );

    let bad = release(&store, &app, BAD);
    let (_, d) = store
        .promote(&app, &bad, &PromoteOptions::default(), "bench")
        .unwrap();
    let (watched, id, app_name) = (store.clone(), d.id.clone(), app.clone());
    let rolling_back_at = tokio::spawn(async move {
        loop {
            let status = watched.get_deployment(&app_name, &id).unwrap().status;
            if status != DeploymentStatus::Pending && status != DeploymentStatus::Running {
                return Instant::now();
            }
            tokio::time::sleep(Duration::from_millis(2)).await;
        }
    });
    engine.drive(&d.id).await.unwrap();
    let ended = store.get_deployment(&app, &d.id).unwrap();
    assert_eq!(ended.status, DeploymentStatus::RolledBack, "{ended:?}");
    let reason = ended.reason.unwrap_or_default();
    assert!(
        reason.contains("CrashLoopBackOff"),
        "rolled back for another reason: {reason}"
    );
    let rolling_back_at = rolling_back_at.await.unwrap();
    let crashed_at = cluster.first_crash_loop_at().expect("a pod crash-looped");
    rolling_back_at
        .saturating_duration_since(crashed_at)
        .as_secs_f64()
}

#[tokio::main]
async fn main() {
    let mut seconds = Vec::new();
    for _ in 0..RUNS {
        seconds.push(once().await);
    }
    seconds.sort_by(f64::total_cmp);
    let median = seconds[seconds.len() / 2];
    let worst = seconds[seconds.len() - 1];
    println!(
        "kubernetes fail-fast: CrashLoopBackOff → rolling_back median {median:.3} s, worst {worst:.3} s over {RUNS} runs (goal ≤ 1 s)"
    );
    assert!(worst <= 1.0, "fail-fast took {worst:.3} s (goal ≤ 1 s)");
}
