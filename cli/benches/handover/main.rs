//! Hand-over and restarts on real processes: `slipway server api` and
//! `slipway server worker`s of the real binary over one PostgreSQL schema,
//! one Redis started here and one shared `SLIPWAY_DATA_DIR`, running
//! `slipway-testapp` instances as the apps. Five runs of each, a fresh app
//! per run:
//!
//! 1. SIGTERM: 2 workers, lease 15 s (the default). A rollout of 2 instances
//!    healthy 3 s after start (health grace 2 s) is `running`; the worker
//!    holding it (the deployment's `lease_owner`) gets SIGTERM. Timed:
//!    SIGTERM → the worker exited, and exited → the deployment claimed again
//!    (its `lease_epoch` went up) by the other worker. Goals: ≤ 10 s and
//!    ≤ 2 s.
//! 2. SIGKILL: the same with SIGKILL and a lease of 2 s. Timed: SIGKILL →
//!    claimed again (the lease lapses, the other worker's reconciler, every
//!    second, queues it). Goal: ≤ lease + 2 s. Run n waits (n − 1) × 0.2 s
//!    before it deploys, so the kills fall at 5 points of that period.
//! 3. A crashed instance: 1 worker, 1 instance healthy 300 ms after start
//!    (grace 0, interval 1 s). Once the supervising worker reports it
//!    running, its process group gets SIGKILL. Timed: → an instance with
//!    another id answers 200 on `GET /health` (polled every 5 ms). Goal:
//!    ≤ 1.5 s (the supervisor waits 1 s before the first restart).
//!
//! Every run must end with the deployment `succeeded`. Prints a table per
//! measurement and exits non-zero when a goal is missed; a failure panics.
//! Servers and every instance process group listed in the data dir are
//! killed when a cluster is dropped, a panic included.
//!
//! Needs PostgreSQL (`SLIPWAY_TEST_DATABASE_URL`, else 127.0.0.1:5432),
//! `redis-server` on the PATH and `slipway-testapp` built beside `slipway`
//! or in `target/debug` (`cargo build -p slipway-worker --bin slipway-testapp`).
//! Run: `cargo bench -p slipway-cli --bench handover` (about a minute).

mod cluster;
#[path = "../../tests/support/processes.rs"]
mod processes;

use cluster::{instances, manifest, testapp, Cluster};
use processes::kill;
use serde_json::Value;
use std::path::Path;
use std::time::{Duration, Instant};

const RUNS: usize = 5;
/// How often a worker's reconciler looks for deployments whose lease lapsed.
const RECONCILE_EVERY: Duration = Duration::from_secs(1);

/// Scenario 1: per run (SIGTERM → exited, exited → claimed), in seconds.
async fn sigterm(testapp: &Path) -> Vec<[f64; 2]> {
    let mut cluster = Cluster::start(15);
    cluster.add_worker();
    cluster.add_worker();
    let mut runs = Vec::new();
    for run in 1..=RUNS {
        let app = format!("term-{run}");
        let id = cluster.deploy(&app, manifest(testapp, 3000, 2, 2)).await;
        let (sent, holder, epoch) = cluster.signal_holder(&app, &id, "TERM").await;
        let (mut exited, mut claimed) = (None, None);
        let deadline = sent + Duration::from_secs(30);
        while exited.is_none() || claimed.is_none() {
            if Instant::now() >= deadline {
                cluster.fail(format!(
                    "{app}: 30 s after SIGTERM, exited {exited:?}, claimed again {claimed:?}"
                ));
            }
            let worker = &mut cluster.workers[holder].child;
            if exited.is_none() && worker.try_wait().unwrap().is_some() {
                exited = Some(sent.elapsed());
            }
            if claimed.is_none() {
                let lease = cluster.lease(&id);
                if lease.lease_epoch > epoch {
                    claimed = Some(sent.elapsed());
                    if let Some(owner) = lease.lease_owner {
                        let by = cluster.worker_named(&owner);
                        assert_ne!(by, holder, "{app}: claimed again by the stopping worker");
                    }
                }
            }
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        let (exited, claimed) = (exited.unwrap(), claimed.unwrap());
        let taken = claimed.as_secs_f64() - exited.as_secs_f64();
        runs.push([exited.as_secs_f64(), taken]);
        cluster.replace_worker(holder);
        cluster.until_succeeded(&app, &id).await;
        println!(
            "  sigterm run {run}: exited after {:.3} s, claimed again {:+.3} s after the exit",
            exited.as_secs_f64(),
            taken
        );
    }
    runs
}

/// Scenario 2: per run, SIGKILL → claimed again, in seconds.
async fn sigkill(testapp: &Path, lease_seconds: u64) -> Vec<[f64; 1]> {
    let mut cluster = Cluster::start(lease_seconds);
    cluster.add_worker();
    cluster.add_worker();
    let mut runs = Vec::new();
    for run in 1..=RUNS {
        // Each run's end follows a reconciler pass, so without a pause the
        // kills would all fall at one point of its period: spread them.
        let stagger = RECONCILE_EVERY * (run - 1) as u32 / RUNS as u32;
        tokio::time::sleep(stagger).await;
        let app = format!("kill-{run}");
        let id = cluster.deploy(&app, manifest(testapp, 3000, 2, 2)).await;
        let (sent, holder, epoch) = cluster.signal_holder(&app, &id, "KILL").await;
        let _ = cluster.workers[holder].child.wait();
        let deadline = sent + Duration::from_secs(30);
        let claimed = loop {
            let lease = cluster.lease(&id);
            if lease.lease_epoch > epoch {
                break sent.elapsed();
            }
            if Instant::now() >= deadline {
                cluster.fail(format!("{app}: not claimed again 30 s after SIGKILL"));
            }
            tokio::time::sleep(Duration::from_millis(5)).await;
        };
        runs.push([claimed.as_secs_f64()]);
        cluster.replace_worker(holder);
        cluster.until_succeeded(&app, &id).await;
        println!(
            "  sigkill run {run}: claimed again {:.3} s after SIGKILL",
            claimed.as_secs_f64()
        );
    }
    runs
}

/// Scenario 3: per run, instance SIGKILLed → a new one answers 200 on
/// `/health`, in seconds.
async fn restart(testapp: &Path) -> Vec<[f64; 1]> {
    let mut cluster = Cluster::start(15);
    cluster.add_worker();
    let worker = format!("worker-{}-", cluster.workers[0].pid());
    let health = reqwest::Client::builder()
        .timeout(Duration::from_millis(250))
        .build()
        .unwrap();
    let mut runs = Vec::new();
    for run in 1..=RUNS {
        let app = format!("crash-{run}");
        let id = cluster.deploy(&app, manifest(testapp, 300, 1, 0)).await;
        cluster.until_succeeded(&app, &id).await;
        // The supervisor takes new apps up every 5 s; then it checks the
        // instance's health once and reports it running.
        let deadline = Instant::now() + Duration::from_secs(30);
        let mut steady = None;
        let victim = loop {
            let ours: Vec<Value> = instances(cluster.data.path())
                .into_iter()
                .filter(|i| i["app"] == app.as_str())
                .collect();
            let supervised = cluster
                .supervisor(&app)
                .is_some_and(|owner| owner.starts_with(&worker));
            let processes = cluster.get(&format!("/apps/{app}/processes")).await;
            let running = processes["processes"].as_array().is_some_and(|p| {
                p.len() == 1
                    && ours.len() == 1
                    && p[0]["status"] == "running"
                    && p[0]["id"] == ours[0]["id"]
            });
            if !(supervised && running) {
                steady = None;
            } else if steady.get_or_insert_with(Instant::now).elapsed()
                >= Duration::from_millis(300)
            {
                break ours[0].clone();
            }
            if Instant::now() >= deadline {
                cluster.fail(format!(
                    "{app}: not supervised and running within 30 s: {processes}"
                ));
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        };
        let pid = victim["pid"].as_i64().expect("a pid");
        let killed = Instant::now();
        assert!(kill("KILL", &format!("-{pid}")), "kill the group of {pid}");
        let deadline = killed + Duration::from_secs(15);
        let answered = 'answered: loop {
            for instance in instances(cluster.data.path()) {
                if instance["app"] != app.as_str() || instance["id"] == victim["id"] {
                    continue;
                }
                let url = format!("http://127.0.0.1:{}/health", instance["port"]);
                if let Ok(response) = health.get(url).send().await {
                    if response.status() == 200 {
                        break 'answered killed.elapsed();
                    }
                }
            }
            if Instant::now() >= deadline {
                cluster.fail(format!(
                    "{app}: no new healthy instance 15 s after the kill"
                ));
            }
            tokio::time::sleep(Duration::from_millis(5)).await;
        };
        runs.push([answered.as_secs_f64()]);
        println!(
            "  restart run {run}: a new instance answered 200 {:.3} s after SIGKILL",
            answered.as_secs_f64()
        );
    }
    runs
}

fn median(mut values: Vec<f64>) -> f64 {
    values.sort_by(f64::total_cmp);
    let mid = values.len() / 2;
    if values.len() % 2 == 1 {
        values[mid]
    } else {
        (values[mid - 1] + values[mid]) / 2.0
    }
}

/// Prints the runs, their median and max against each column's goal (the
/// max must be within it); whether every goal was met.
fn table<const N: usize>(title: &str, columns: [(&str, f64); N], runs: &[[f64; N]]) -> bool {
    println!("\n{title}");
    let width = columns
        .iter()
        .map(|(name, _)| name.chars().count().max(10))
        .collect::<Vec<_>>();
    print!("  {:<8}", "run");
    for ((name, _), width) in columns.iter().zip(&width) {
        print!("  {name:>w$}", w = *width);
    }
    println!();
    let row = |label: &str, values: &[f64]| {
        print!("  {label:<8}");
        for (value, width) in values.iter().zip(&width) {
            print!("  {:>w$}", format!("{value:.3} s"), w = *width);
        }
        println!();
    };
    for (i, run) in runs.iter().enumerate() {
        row(&(i + 1).to_string(), run);
    }
    let column = |c: usize| runs.iter().map(|r| r[c]).collect::<Vec<f64>>();
    let medians: Vec<f64> = (0..N).map(|c| median(column(c))).collect();
    let maxes: Vec<f64> = (0..N)
        .map(|c| column(c).into_iter().fold(f64::MIN, f64::max))
        .collect();
    row("median", &medians);
    row("max", &maxes);
    print!("  {:<8}", "goal");
    let mut met = true;
    for (c, ((_, goal), width)) in columns.iter().zip(&width).enumerate() {
        let ok = maxes[c] <= *goal;
        met &= ok;
        let mark = if ok { "" } else { " MISSED" };
        print!("  {:>w$}", format!("≤ {goal:.1} s{mark}"), w = *width);
    }
    println!();
    met
}

fn main() {
    if std::env::args().any(|a| a == "--list") {
        return; // `cargo test --benches` lists benches; nothing to list
    }
    let testapp = testapp();
    println!("test app: {}", testapp.display());
    let runtime = tokio::runtime::Runtime::new().unwrap();
    const KILL_LEASE: u64 = 2;
    let (term, killed, restarted) = runtime.block_on(async {
        let term = sigterm(&testapp).await;
        let killed = sigkill(&testapp, KILL_LEASE).await;
        let restarted = restart(&testapp).await;
        (term, killed, restarted)
    });
    let mut met = table(
        "Hand-over after SIGTERM (2 workers, lease 15 s)",
        [("SIGTERM → exited", 10.0), ("exited → claimed", 2.0)],
        &term,
    );
    met &= table(
        &format!("Hand-over after SIGKILL (2 workers, lease {KILL_LEASE} s)"),
        [("SIGKILL → claimed", KILL_LEASE as f64 + 2.0)],
        &killed,
    );
    met &= table(
        "Restart of a crashed instance (1 worker, healthy 300 ms after start)",
        [("SIGKILL → new instance healthy", 1.5)],
        &restarted,
    );
    if !met {
        eprintln!("\nhandover: a goal was missed");
        std::process::exit(1);
    }
}
