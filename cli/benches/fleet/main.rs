//! Many rollouts at once, on real processes: `slipway server api` and two
//! `slipway server worker`s of the real binary over one PostgreSQL schema,
//! a Redis started here and one shared `SLIPWAY_DATA_DIR` (the local
//! runtime), `slipway-testapp` as the apps.
//!
//! Before anything is timed, 100 apps (and one more, `solo`) are created
//! and first deployed, all at once: one `web` service of 1 instance healthy
//! 300 ms after start (health checked from the start). Each then gets a new
//! build for each round, not promoted, and the bench waits until every app
//! is supervised.
//!
//! 1. One rollout alone, 5 times on `solo`: its new release replaces the
//!    running instance. Its overhead, (succeeded − started) / ideal (waves
//!    × 300 ms), median of the 5, is the floor.
//! 2. The fleet, in two rounds: the 100 promotes sent at once, then evenly
//!    over one second. Every deployment must succeed, every app then run
//!    exactly its new instance, and every old instance must be gone. Each
//!    round's figures, from what the deployments table stores:
//!    - queue pickup: `created_at` (the API's transaction, the job is queued
//!      right after it) → `started_at` (the claiming worker moves it to
//!      `running`), p50, p99, max;
//!    - overhead: (`finished_at` − `started_at`) / ideal, median and p99,
//!      each against the floor (goal: ≤ 1.3×);
//!    - promote → succeeded: `created_at` → `finished_at`, p50 and p99;
//!    - where a rollout's time goes, alone and in the fleet (`phases.rs`):
//!      started → its new instance launched → seen healthy → finished;
//!    - wall time: the first promote sent → the last `succeeded`;
//!    - worker memory: `VmRSS` of both workers, idle (median over 1 s
//!      before the promotes) and at peak (sampled every 5 ms), (peak −
//!      idle) / the most rollouts running at once.
//!
//! At the end the cluster is dropped and no process of any instance may be
//! left. Prints the figures and their goals; exits non-zero when a goal is
//! missed, and panics (with the workers' last lines) when a deployment fails.
//! Worker settings come from the environment (say `SLIPWAY_WORKER_CONCURRENCY`),
//! the defaults otherwise.
//!
//! Needs PostgreSQL (`SLIPWAY_TEST_DATABASE_URL`, else 127.0.0.1:5432),
//! `redis-server` on the PATH and `slipway-testapp` built beside `slipway`
//! or in `target/debug` (`cargo build -p slipway-worker --bin slipway-testapp`).
//! Run: `cargo bench -p slipway-cli --bench fleet` (about a minute).

mod apps;
// The handover bench's cluster; the parts only it uses are unused here.
#[allow(dead_code)]
#[path = "../handover/cluster.rs"]
mod cluster;
mod phases;
#[path = "../../tests/support/processes.rs"]
mod processes;
mod procfs;
mod report;

use apps::{all_succeeded, until_final, Timing};
use cluster::{instances, manifest, testapp, Cluster};
use futures_util::future::join_all;
use report::{median, peak_overlap, percentile, Table};
use slipway_core::domain::Strategy;
use slipway_worker::runtime::local::plan::waves;
use std::path::Path;
use std::time::{Duration, Instant};

const APPS: usize = 100;
const SOLO_RUNS: usize = 5;
/// The rounds of the fleet: the 100 promotes sent at once, then evenly over
/// one second (the "promoted within one second").
const ROUNDS: [(&str, Duration); 2] = [
    ("at once", Duration::ZERO),
    ("within one second", Duration::from_secs(1)),
];
const HEALTHY_AFTER_MS: u64 = 300;
const WORKERS: usize = 2;
/// A rollout among 100 against one alone: median and p99.
const OVERHEAD_RATIO_GOAL: f64 = 1.3;
/// No promote waits in the queue longer than a rollout ideally takes.
const PICKUP_P99_GOAL: f64 = HEALTHY_AFTER_MS as f64 / 1000.0;
/// What one more rollout in flight may cost a worker.
const KB_PER_ROLLOUT_GOAL: f64 = 512.0;

fn main() {
    if std::env::args().any(|a| a == "--list") {
        return; // `cargo test --benches` lists benches; nothing to list
    }
    let testapp = testapp();
    println!("test app: {}", testapp.display());
    let runtime = tokio::runtime::Runtime::new().unwrap();
    if !runtime.block_on(bench(&testapp)) {
        eprintln!("\nfleet: a goal was missed");
        std::process::exit(1);
    }
}

async fn bench(testapp: &Path) -> bool {
    // 600 writes with one token: no write rate limit here.
    let mut cluster = Cluster::start_with(15, &[("SLIPWAY_RATE_LIMIT", "0")]);
    for _ in 0..WORKERS {
        cluster.add_worker();
    }
    let manifest = manifest(testapp, HEALTHY_AFTER_MS, 1, 0);
    let fleet: Vec<String> = (0..APPS).map(|i| format!("fleet-{i:03}")).collect();
    let solo = "solo".to_owned();
    let every: Vec<String> = fleet.iter().chain([&solo]).cloned().collect();

    let setup = Instant::now();
    apps::first_deploys(&cluster, &every, &manifest).await;
    // A new build of every app for each round, not promoted.
    let mut next = Vec::new();
    for _ in ROUNDS {
        let mut builds = Vec::new();
        for app in &fleet {
            builds.push(apps::build(&cluster, app, &manifest).await);
        }
        next.push(builds);
    }
    let mut solo_releases = Vec::new();
    for _ in 0..SOLO_RUNS {
        solo_releases.push(apps::build(&cluster, &solo, &manifest).await);
    }
    apps::until_supervised(&cluster, &every).await;
    println!(
        "setup: {} apps created, first deployed and supervised in {:.1} s",
        every.len(),
        setup.elapsed().as_secs_f64()
    );

    let mut alone: Vec<Timing> = Vec::new();
    for release in &solo_releases {
        let id = apps::promote(&cluster, &solo, release).await;
        let every = Duration::from_millis(10);
        let rows = until_final(&cluster, &[id], every, Duration::from_secs(60)).await;
        all_succeeded(&cluster, "one rollout alone", &rows);
        alone.extend(rows);
        tokio::time::sleep(Duration::from_millis(500)).await;
    }

    let mut met = true;
    for ((name, spread), releases) in ROUNDS.into_iter().zip(&next) {
        let round = Round {
            name,
            spread,
            fleet: &fleet,
            releases,
        };
        met &= round.run(&cluster, &alone).await;
    }

    let groups: Vec<i64> = instances(cluster.data.path())
        .iter()
        .filter_map(|i| i["pid"].as_i64())
        .collect();
    drop(cluster);
    let left = until_gone(&groups).await;
    println!("\ninstance processes left at the end: {left} (goal: none)");
    met && left == 0
}

/// One round of the fleet: every app promoted to its release of `releases`.
struct Round<'a> {
    name: &'a str,
    /// The promotes are sent evenly over this long (at once when zero).
    spread: Duration,
    fleet: &'a [String],
    releases: &'a [String],
}

impl Round<'_> {
    /// Sends the promotes, checks the outcome and prints the figures
    /// against `alone`; whether every goal was met.
    async fn run(&self, cluster: &Cluster, alone: &[Timing]) -> bool {
        let ideal = waves(1, Strategy::default()) as f64 * HEALTHY_AFTER_MS as f64 / 1000.0;
        let before = apps::running(cluster);
        let pids: Vec<u32> = cluster.workers.iter().map(|w| w.pid()).collect();
        let idle_from: f64 = pids.iter().map(|p| procfs::cpu_seconds(*p)).sum();
        let idle = procfs::idle_kb(&pids, Duration::from_secs(1)).await;
        let idle_cpu = pids.iter().map(|p| procfs::cpu_seconds(*p)).sum::<f64>() - idle_from;
        let peak = procfs::Peak::start(&pids);
        let cpu_before: f64 = pids.iter().map(|p| procfs::cpu_seconds(*p)).sum();
        let first_sent = apps::now();
        let sending = Instant::now();
        let spread = self.spread;
        let promotes = self.fleet.iter().zip(self.releases).enumerate().map(
            |(i, (app, release))| async move {
                // Evenly over the spread: the i-th promote i/APPS of the way in.
                tokio::time::sleep(spread * i as u32 / APPS as u32).await;
                apps::promote(cluster, app, release).await
            },
        );
        let ids = join_all(promotes).await;
        let accepted = sending.elapsed().as_secs_f64();
        let every = Duration::from_millis(20);
        let rows = until_final(cluster, &ids, every, Duration::from_secs(180)).await;
        let peaks = peak.stop();
        let cpu: f64 = pids.iter().map(|p| procfs::cpu_seconds(*p)).sum::<f64>() - cpu_before;
        all_succeeded(cluster, "the fleet", &rows);
        replaced(cluster, self.fleet, self.releases, &before);

        let mut table = Table::default();
        let pickups: Vec<f64> = rows.iter().map(Timing::pickup).collect();
        let overheads: Vec<f64> = rows.iter().map(|t| t.drive() / ideal).collect();
        let floor = median(&alone.iter().map(|t| t.drive() / ideal).collect::<Vec<_>>());
        let last = rows.iter().filter_map(|t| t.finished).fold(0.0, f64::max);
        let at_once = peak_overlap(
            &rows
                .iter()
                .map(|t| (t.started.unwrap_or(0.0), t.finished.unwrap_or(0.0)))
                .collect::<Vec<_>>(),
        );
        let grew: i64 = peaks
            .iter()
            .zip(&idle)
            .map(|(p, i)| *p as i64 - *i as i64)
            .sum();
        table.info(
            "promotes sent over",
            format!("{:.3} s", spread.as_secs_f64()),
        );
        table.info(
            "promotes answered 202 (all 100)",
            format!("{accepted:.3} s"),
        );
        table.info(
            "queue pickup, one alone (median)",
            format!(
                "{:.3} s",
                median(&alone.iter().map(Timing::pickup).collect::<Vec<_>>())
            ),
        );
        table.info(
            "queue pickup p50",
            format!("{:.3} s", percentile(&pickups, 50.0)),
        );
        table.at_most(
            "queue pickup p99",
            percentile(&pickups, 99.0),
            PICKUP_P99_GOAL,
            " s",
        );
        table.info(
            "queue pickup max",
            format!("{:.3} s", percentile(&pickups, 100.0)),
        );
        table.info("overhead, one alone (median of 5)", format!("{floor:.2}"));
        table.info("overhead median", format!("{:.2}", median(&overheads)));
        table.at_most(
            "  against one alone",
            median(&overheads) / floor,
            OVERHEAD_RATIO_GOAL,
            "",
        );
        table.info(
            "overhead p99",
            format!("{:.2}", percentile(&overheads, 99.0)),
        );
        table.at_most(
            "  against one alone",
            percentile(&overheads, 99.0) / floor,
            OVERHEAD_RATIO_GOAL,
            "",
        );
        let totals: Vec<f64> = rows.iter().map(Timing::total).collect();
        table.info(
            "promote → succeeded p50 / p99",
            format!(
                "{:.3} / {:.3} s",
                percentile(&totals, 50.0),
                percentile(&totals, 99.0)
            ),
        );
        let ids_of = |rows: &[Timing]| rows.iter().map(|t| t.id.clone()).collect::<Vec<_>>();
        let (alone_phases, fleet_phases) = (
            phases::phases(cluster, &ids_of(alone)),
            phases::phases(cluster, &ids_of(&rows)),
        );
        for (i, name) in phases::NAMES.iter().enumerate() {
            table.info(
                &format!("  {name} p50 / p99, alone | fleet"),
                format!(
                    "{} | {}",
                    phases::summary(&alone_phases[i]),
                    phases::summary(&fleet_phases[i])
                ),
            );
        }
        table.info(
            "wall: first promote → last succeeded",
            format!("{:.3} s", last - first_sent),
        );
        table.info("rollouts running at once (most)", at_once.to_string());
        table.info(
            "worker CPU idle, both (1 s, 101 apps supervised)",
            format!("{:.0} %", idle_cpu * 100.0),
        );
        table.info(
            "worker CPU per rollout (both workers)",
            format!("{:.1} ms", cpu * 1000.0 / APPS as f64),
        );
        table.info(
            "worker RSS idle → peak",
            format!("{} → {} MB", mb(&idle), mb(&peaks),),
        );
        table.at_most(
            "worker memory per rollout at once",
            grew as f64 / at_once.max(1) as f64,
            KB_PER_ROLLOUT_GOAL,
            " KB",
        );
        let concurrency = std::env::var("SLIPWAY_WORKER_CONCURRENCY")
            .unwrap_or_else(|_| "the default".to_owned());
        table.print(&format!(
            "{}: {APPS} rollouts on {WORKERS} workers (concurrency {concurrency} each): \
             1 instance each, healthy {HEALTHY_AFTER_MS} ms after start; ideal {ideal:.3} s",
            self.name
        ))
    }
}

/// Every app of the fleet runs exactly one instance, of its new release,
/// and no process of its old instance is alive.
fn replaced(
    cluster: &Cluster,
    fleet: &[String],
    next: &[String],
    before: &std::collections::HashMap<String, Vec<(String, i64)>>,
) {
    let now = apps::running(cluster);
    for (app, release) in fleet.iter().zip(next) {
        let runs = now.get(app).cloned().unwrap_or_default();
        if runs.len() != 1 || &runs[0].0 != release {
            cluster.fail(format!(
                "{app}: runs {runs:?} after its rollout to {release}"
            ));
        }
        let old: Vec<i64> = before.get(app).into_iter().flatten().map(|r| r.1).collect();
        let alive = procfs::alive_in_groups(&old);
        if !alive.is_empty() {
            cluster.fail(format!(
                "{app}: old instance processes still alive: {alive:?}"
            ));
        }
    }
}

/// Waits up to 5 s until no process of the groups is alive; how many are.
async fn until_gone(groups: &[i64]) -> usize {
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let alive = procfs::alive_in_groups(groups).len();
        if alive == 0 || Instant::now() >= deadline {
            return alive;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// KB figures as MB, joined with `+`.
fn mb(kb: &[u64]) -> String {
    kb.iter()
        .map(|k| format!("{:.1}", *k as f64 / 1024.0))
        .collect::<Vec<_>>()
        .join(" + ")
}
