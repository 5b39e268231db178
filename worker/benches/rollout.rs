//! Rollout benchmarks on real processes (`slipway-testapp`), SQLite and the
//! local runtime:
//! - overhead: 10 instances healthy 300 ms after start; wall time of the
//!   rollout over the ideal (waves × 300 ms); goal ≤ 1.15;
//! - fail-fast: a release that exits at start, promote to rolled back with
//!   the old release confirmed serving; goal ≤ 3 s.
//!
//! Run: `cargo bench -p slipway-worker --bench rollout` (after `cargo build -p slipway-worker --bins`).

#[path = "common/testapp.rs"]
mod testapp;

use slipway_core::domain::{AppName, DeploymentStatus, Strategy};
use slipway_core::store::{NewBuild, PromoteOptions, Store};
use slipway_core::testing::TestDatabase;
use slipway_worker::rollout::plan::waves;
use slipway_worker::rollout::{Engine, EngineConfig};
use slipway_worker::runtime::local::LocalRuntime;
use std::sync::Arc;
use std::time::{Duration, Instant};

const HEALTHY_AFTER_MS: u64 = 300;
const COUNT: u32 = 10;
const RUNS: usize = 5;

fn release(store: &Store, app: &AppName, flags: &str) -> slipway_core::domain::ReleaseId {
    let build = NewBuild {
        manifest: testapp::manifest(flags, COUNT),
        git: None,
        description: None,
    };
    store
        .create_build(app, &build, "bench")
        .expect("build")
        .1
        .id
}

async fn drive(
    engine: &Engine<LocalRuntime>,
    store: &Store,
    app: &AppName,
    r: &slipway_core::domain::ReleaseId,
) -> (Duration, DeploymentStatus) {
    let started = Instant::now();
    let (_, d) = store
        .promote(app, r, &PromoteOptions::default(), "bench")
        .expect("promote");
    engine.drive(&d.id).await.expect("drive");
    let elapsed = started.elapsed();
    (
        elapsed,
        store.get_deployment(app, &d.id).expect("deployment").status,
    )
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

#[tokio::main]
async fn main() {
    let db = TestDatabase::sqlite();
    let store = db.store();
    let app = AppName::parse("bench").unwrap();
    store.create_app(&app, None, "bench").unwrap();
    let dir = tempfile::tempdir().unwrap();
    let runtime = Arc::new(LocalRuntime::new(dir.path()).unwrap());
    let engine = Engine::new(store.clone(), runtime.clone(), EngineConfig::new("bench"));
    let ideal =
        waves(COUNT as usize, Strategy::default()) as f64 * HEALTHY_AFTER_MS as f64 / 1000.0;

    let mut ratios = Vec::new();
    for _ in 0..RUNS {
        let r = release(
            &store,
            &app,
            &format!("--healthy-after-ms {HEALTHY_AFTER_MS}"),
        );
        let (took, status) = drive(&engine, &store, &app, &r).await;
        assert_eq!(status, DeploymentStatus::Succeeded);
        ratios.push(took.as_secs_f64() / ideal);
    }
    println!(
        "rollout overhead: {COUNT} instances, {} wave(s) x {HEALTHY_AFTER_MS} ms; wall/ideal median {:.3}, min {:.3}, max {:.3} (goal <= 1.15)",
        waves(COUNT as usize, Strategy::default()),
        median(ratios.clone()),
        ratios.iter().copied().fold(f64::MAX, f64::min),
        ratios.iter().copied().fold(0.0, f64::max),
    );

    let mut fails = Vec::new();
    for _ in 0..RUNS {
        let bad = release(&store, &app, "--exit-after-ms 0");
        let (took, status) = drive(&engine, &store, &app, &bad).await;
        assert_eq!(status, DeploymentStatus::RolledBack);
        fails.push(took.as_secs_f64());
    }
    println!(
        "fail-fast: promote of a release exiting at start -> rolled back, old serving: median {:.3} s, max {:.3} s (goal <= 3 s)",
        median(fails.clone()),
        fails.iter().copied().fold(0.0, f64::max)
    );
    runtime.stop_all(Duration::ZERO).await;
}
