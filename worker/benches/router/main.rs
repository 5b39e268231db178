//! Router benchmarks under wrk, with real `slipway-testapp` processes on the
//! local runtime, SQLite, the engine rolling releases out and the router in
//! this process serving from the engine's table:
//! - overhead: one instance answering `/`, the same wrk load straight at its
//!   port and through the router, alternating; goals: router throughput
//!   ≥ 0.7 × direct, router p99 ≤ 1.5 × direct p99 + 1 ms;
//! - zero-downtime rollout: 4 instances under a bounded load (about 200
//!   requests/s over 8 connections) while nothing happens, while a release
//!   healthy after 300 ms rolls out, and while a crashing release is promoted
//!   and rolled back; goals: no failed request, p99 ≤ 1.5 × the baseline's.
//!
//! A missed goal is printed as MISS; the bench fails only when it cannot
//! measure. Run: `scripts/bench-router` (installs wrk, builds the test app).

mod cpu;
#[path = "../common/testapp.rs"]
mod testapp;
mod wrk;

use slipway_core::domain::{AppName, DeploymentStatus};
use slipway_core::store::Backend;
use slipway_worker::testing::Rig;
use std::time::{Duration, Instant};
use wrk::{Load, WrkRun};

const OVERHEAD_ROUNDS: usize = 3;
/// One wrk thread leaves the other core to the router and the app.
const OVERHEAD_LOAD: Load = Load {
    threads: 1,
    connections: 8,
    duration: Duration::from_secs(5),
    delay_ms: None,
};

const ROLLOUT_ROUNDS: usize = 5;
const ROLLOUT_COUNT: u32 = 4;
/// 8 connections, each pausing 40 ms after every answer: about 200/s.
/// 1 s before the promote, the rollout and its drain (about 0.35 s), and
/// as much after: short, so the rollout's requests weigh in the p99.
const ROLLOUT_LOAD: Load = Load {
    threads: 1,
    connections: 8,
    duration: Duration::from_secs(3),
    delay_ms: Some(40),
};
const BEFORE_PROMOTE: Duration = Duration::from_secs(1);

#[tokio::main]
async fn main() {
    let wrk = wrk::find();
    // SQLite, and the router with its defaults: the rig the router's tests use.
    let app = AppName::parse("bench").expect("app name");
    let rig = Rig::builder(Backend::Sqlite, app)
        .router(|_| {})
        .start()
        .await;
    let overhead_script = wrk::script(rig.dir(), &OVERHEAD_LOAD);
    let rollout_script = wrk::script(rig.dir(), &ROLLOUT_LOAD);
    overhead(&rig, &wrk, &overhead_script).await;
    rollout(&rig, &wrk, &rollout_script).await;
}

fn ms(us: f64) -> f64 {
    us / 1000.0
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

fn verdict(pass: bool) -> &'static str {
    if pass {
        "PASS"
    } else {
        "MISS"
    }
}

async fn overhead(rig: &Rig, wrk: &std::path::Path, script: &std::path::Path) {
    let release = rig.release(testapp::manifest("", 1)).await;
    assert_eq!(
        rig.deploy(&release).await.status,
        DeploymentStatus::Succeeded
    );
    rig.serves(&release).await;
    let port = rig.ports().await[0];
    let direct = format!("http://127.0.0.1:{port}/");
    let routed = format!("http://{}/", rig.router());
    let host = rig.host("web");
    let load = &OVERHEAD_LOAD;

    // Warm-up: connections, the router's pool, the page cache.
    let warm = Load {
        duration: Duration::from_secs(1),
        ..*load
    };
    wrk::start(wrk, script, &warm, &routed, Some(&host))
        .finish()
        .await;

    println!(
        "\nrouter overhead: 1 instance, GET /, wrk -t{} -c{} -d{}s, {OVERHEAD_ROUNDS} alternating rounds",
        load.threads,
        load.connections,
        load.duration.as_secs()
    );
    println!(
        "{:<6} {:<7} {:>9} {:>8} {:>8} {:>8} {:>7}  cores used (of 2)",
        "round", "path", "req/s", "p50 ms", "p99 ms", "max ms", "failed"
    );
    println!(
        "(cores used: wrk, this process with the router, the app's instance, the whole machine)"
    );
    let (mut straight, mut through) = (Vec::new(), Vec::new());
    for round in 1..=OVERHEAD_ROUNDS {
        for (path, url, host) in [("direct", &direct, None), ("router", &routed, Some(&host))] {
            let before = cpu::sample(rig.app.as_str());
            let run = wrk::start(wrk, script, load, url, host.map(String::as_str))
                .finish()
                .await;
            let used = before.until(&cpu::sample(rig.app.as_str()));
            println!(
                "{round:<6} {path:<7} {:>9.0} {:>8.3} {:>8.3} {:>8.3} {:>7}  {used}",
                run.per_second(),
                ms(run.p50_us),
                ms(run.p99_us),
                ms(run.max_us),
                run.failed(),
            );
            if path == "direct" {
                straight.push(run);
            } else {
                through.push(run);
            }
        }
    }
    let rate = |runs: &[WrkRun]| median(runs.iter().map(WrkRun::per_second).collect());
    let p50 = |runs: &[WrkRun]| median(runs.iter().map(|r| ms(r.p50_us)).collect());
    let p99 = |runs: &[WrkRun]| median(runs.iter().map(|r| ms(r.p99_us)).collect());
    println!(
        "median  direct {:.0} req/s p50 {:.3} ms p99 {:.3} ms; router {:.0} req/s p50 {:.3} ms p99 {:.3} ms",
        rate(&straight),
        p50(&straight),
        p99(&straight),
        rate(&through),
        p50(&through),
        p99(&through),
    );
    let throughput = rate(&through) / rate(&straight);
    let ceiling = 1.5 * p99(&straight) + 1.0;
    println!(
        "throughput router/direct {throughput:.3} (goal >= 0.70): {}",
        verdict(throughput >= 0.7)
    );
    println!(
        "p99 router {:.3} ms, ratio {:.2}; goal <= 1.5 x direct + 1 ms = {ceiling:.3} ms: {}",
        p99(&through),
        p99(&through) / p99(&straight),
        verdict(p99(&through) <= ceiling)
    );
    let failed: u64 = straight.iter().chain(&through).map(WrkRun::failed).sum();
    if failed > 0 {
        println!("note: {failed} failed request(s) in the overhead runs");
    }
}

/// What happens while wrk runs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Scenario {
    Baseline,
    Rollout,
    Rollback,
}

impl Scenario {
    fn name(self) -> &'static str {
        match self {
            Scenario::Baseline => "baseline",
            Scenario::Rollout => "rollout",
            Scenario::Rollback => "rollback",
        }
    }
}

async fn rollout(rig: &Rig, wrk: &std::path::Path, script: &std::path::Path) {
    let release = rig.release(testapp::manifest("", ROLLOUT_COUNT)).await;
    assert_eq!(
        rig.deploy(&release).await.status,
        DeploymentStatus::Succeeded
    );
    rig.serves(&release).await;
    let routed = format!("http://{}/", rig.router());
    let host = rig.host("web");
    let load = &ROLLOUT_LOAD;
    println!(
        "\nzero-downtime rollout: {ROLLOUT_COUNT} instances, GET / through the router, wrk -t{} -c{} -d{}s, {} ms pause per answer per connection; promote {} s after wrk starts",
        load.threads,
        load.connections,
        load.duration.as_secs(),
        load.delay_ms.unwrap_or(0),
        BEFORE_PROMOTE.as_secs()
    );
    println!(
        "{:<6} {:<9} {:>8} {:>6} {:>7} {:>8} {:>8} {:>8} {:>8} {:>9} {:>10} {:>6}",
        "round",
        "scenario",
        "requests",
        "req/s",
        "failed",
        "p50 ms",
        "p99 ms",
        "max ms",
        "p99/base",
        "drive ms",
        "ended",
        "busy"
    );
    println!("(drive: promote to the deployment's end; busy: cores busy on the whole machine during the run)");
    let scenarios = [Scenario::Baseline, Scenario::Rollout, Scenario::Rollback];
    let mut runs: Vec<(Scenario, WrkRun)> = Vec::new();
    for round in 1..=ROLLOUT_ROUNDS {
        let mut baseline = None;
        for scenario in scenarios {
            let before = cpu::sample(rig.app.as_str());
            let started = Instant::now();
            let running = wrk::start(wrk, script, load, &routed, Some(&host));
            let driven = match scenario {
                Scenario::Baseline => None,
                Scenario::Rollout | Scenario::Rollback => {
                    let flags = if scenario == Scenario::Rollout {
                        "--healthy-after-ms 300"
                    } else {
                        "--exit-after-ms 0"
                    };
                    let next = rig.release(testapp::manifest(flags, ROLLOUT_COUNT)).await;
                    tokio::time::sleep(BEFORE_PROMOTE).await;
                    let driving = Instant::now();
                    let status = rig.deploy(&next).await.status;
                    let took = driving.elapsed();
                    let expected = if scenario == Scenario::Rollout {
                        DeploymentStatus::Succeeded
                    } else {
                        DeploymentStatus::RolledBack
                    };
                    assert_eq!(status, expected, "{} ended {status:?}", scenario.name());
                    assert!(
                        started.elapsed() < load.duration,
                        "the {} outlasted wrk's run: lengthen ROLLOUT_LOAD",
                        scenario.name()
                    );
                    Some((status, took))
                }
            };
            let run = running.finish().await;
            // Cores busy on the whole machine: well above this load's own
            // share, something else was running.
            let busy = before.until(&cpu::sample(rig.app.as_str())).machine;
            let base = *baseline.get_or_insert(run.p99_us);
            let (drive, ended) = match driven {
                Some((status, took)) => (
                    format!("{:.0}", took.as_secs_f64() * 1000.0),
                    format!("{status:?}"),
                ),
                None => ("-".to_owned(), "-".to_owned()),
            };
            println!(
                "{round:<6} {:<9} {:>8} {:>6.0} {:>7} {:>8.3} {:>8.3} {:>8.3} {:>8.2} {drive:>9} {ended:>10} {busy:>6.2}",
                scenario.name(),
                run.requests,
                run.per_second(),
                run.failed(),
                ms(run.p50_us),
                ms(run.p99_us),
                ms(run.max_us),
                run.p99_us / base,
            );
            if run.failed() > 0 {
                println!(
                    "       failures: connect {} read {} write {} timeout {} non-2xx {} (above 399: {})",
                    run.connect, run.read, run.write, run.timeout, run.non2xx, run.status
                );
            }
            runs.push((scenario, run));
            // Let the stopped instances' sockets and the table settle.
            tokio::time::sleep(Duration::from_millis(500)).await;
        }
    }

    let of = |s: Scenario| -> Vec<WrkRun> {
        runs.iter()
            .filter(|(k, _)| *k == s)
            .map(|(_, r)| *r)
            .collect()
    };
    let base_p99 = median(of(Scenario::Baseline).iter().map(|r| r.p99_us).collect());
    println!("over {ROLLOUT_ROUNDS} rounds (p50, p99: medians):");
    for scenario in scenarios {
        let mine = of(scenario);
        let requests: u64 = mine.iter().map(|r| r.requests).sum();
        let failed: u64 = mine.iter().map(WrkRun::failed).sum();
        let p50 = median(mine.iter().map(|r| r.p50_us).collect());
        let p99 = median(mine.iter().map(|r| r.p99_us).collect());
        let ratio = p99 / base_p99;
        let goals = if scenario == Scenario::Baseline {
            String::new()
        } else {
            format!(
                "  failed 0: {}; p99/base <= 1.5: {}",
                verdict(failed == 0),
                verdict(ratio <= 1.5)
            )
        };
        println!(
            "  {:<9} requests {requests:>6}, failed {failed}, p50 {:.3} ms, p99 {:.3} ms, p99/base {ratio:.2}{goals}",
            scenario.name(),
            ms(p50),
            ms(p99),
        );
    }
}
