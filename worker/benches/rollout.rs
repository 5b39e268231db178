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

use slipway_core::domain::{AppName, DeploymentStatus, ReleaseId, Strategy};
use slipway_core::store::{Backend, PromoteOptions};
use slipway_worker::rollout::EngineConfig;
use slipway_worker::runtime::local::plan::waves;
use slipway_worker::testing::Rig;
use std::time::{Duration, Instant};

const HEALTHY_AFTER_MS: u64 = 300;
const COUNT: u32 = 10;
const RUNS: usize = 5;

/// Promotes `release` and drives its deployment: how long that took (the
/// promote included) and how it ended.
async fn drive(rig: &Rig, release: &ReleaseId) -> (Duration, DeploymentStatus) {
    let started = Instant::now();
    let d = rig.promote(release, PromoteOptions::default()).await;
    rig.engine.drive(&d.id).await.expect("drive");
    let elapsed = started.elapsed();
    let status = rig
        .store
        .get_deployment(&rig.app, &d.id)
        .expect("deployment")
        .status;
    (elapsed, status)
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

#[tokio::main]
async fn main() {
    // The rig the router's tests and bench use, with the engine's defaults.
    let rig = Rig::builder(Backend::Sqlite, AppName::parse("bench").unwrap())
        .engine(|engine| *engine = EngineConfig::new("bench"))
        .start()
        .await;
    let ideal =
        waves(COUNT as usize, Strategy::default()) as f64 * HEALTHY_AFTER_MS as f64 / 1000.0;

    let mut ratios = Vec::new();
    for _ in 0..RUNS {
        let flags = format!("--healthy-after-ms {HEALTHY_AFTER_MS}");
        let r = rig.release(testapp::manifest(&flags, COUNT)).await;
        let (took, status) = drive(&rig, &r).await;
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
        let bad = rig
            .release(testapp::manifest("--exit-after-ms 0", COUNT))
            .await;
        let (took, status) = drive(&rig, &bad).await;
        assert_eq!(status, DeploymentStatus::RolledBack);
        fails.push(took.as_secs_f64());
    }
    println!(
        "fail-fast: promote of a release exiting at start -> rolled back, old serving: median {:.3} s, max {:.3} s (goal <= 3 s)",
        median(fails.clone()),
        fails.iter().copied().fold(0.0, f64::max)
    );
    rig.runtime.stop_all(Duration::ZERO).await;
}
