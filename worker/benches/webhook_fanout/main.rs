//! Webhook fan-out: 50 generic webhooks subscribed to every event, each at a
//! path of its own on one real HTTP receiver on 127.0.0.1, over PostgreSQL.
//! 1,000 `app.created` events are written through the store (each fans out
//! to its 50 deliveries in its own transaction) at a steady pace while the
//! delivery loops run, each a worker's `Deliverer` with its own connection
//! pool and the default settings, as `server worker` runs it. The scenario
//! runs with 1 loop, then on a fresh schema with 2 (two workers).
//!
//! Per run: deliveries/s from the first event's commit to the last outcome
//! recorded; the time from each event's commit to its last delivery's
//! outcome (p50/p99/max); the receiver's count (exactly one request per
//! webhook and event); peak memory of the process (receiver and writer
//! included). Goal: ≥ 3,000 deliveries/s in every run, none missing,
//! duplicated or failed. The floor, same run: the same number of POSTs sent
//! straight to the receiver, 64 at a time, with no database.
//!
//! `cargo bench -p slipway-worker --bench webhook_fanout`
//! PostgreSQL from `SLIPWAY_TEST_DATABASE_URL` (see slipway_core::testing).
//! `SLIPWAY_BENCH_WEBHOOKS` (50), `SLIPWAY_BENCH_EVENTS` (1000),
//! `SLIPWAY_BENCH_EVENTS_PER_SECOND` (100; 0 writes them in one burst) and
//! `SLIPWAY_BENCH_LOOPS` (`1,2`) change the scenario.

mod floor;
mod receiver;
mod run;

use run::{Outcome, Scenario};
use std::process::ExitCode;

const GOAL_PER_SECOND: f64 = 3000.0;

fn main() -> ExitCode {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("tokio runtime");
    match runtime.block_on(bench()) {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("webhook_fanout: {message}");
            ExitCode::FAILURE
        }
    }
}

async fn bench() -> Result<(), String> {
    let scenario = Scenario {
        webhooks: setting("SLIPWAY_BENCH_WEBHOOKS", 50)?,
        events: setting("SLIPWAY_BENCH_EVENTS", 1000)?,
        events_per_second: setting("SLIPWAY_BENCH_EVENTS_PER_SECOND", 100)?,
    };
    let loops = loop_counts()?;
    let expected = scenario.webhooks * scenario.events;
    let pace = match scenario.events_per_second {
        0 => "in one burst".to_owned(),
        n => format!("at {n}/s"),
    };
    println!(
        "webhook_fanout: {} webhooks × {} events = {expected} deliveries; events written {pace} \
         while the loops run",
        scenario.webhooks, scenario.events
    );
    let floor = floor::measure(expected).await?;
    println!(
        "webhook_fanout: floor (the same {expected} POSTs straight to the receiver, 64 at a time, \
         no database): {floor:.0}/s"
    );
    let mut failures = Vec::new();
    for loops in loops {
        let outcome = run::once(&scenario, loops).await?;
        report(loops, &outcome, floor);
        failures.extend(
            outcome
                .problems
                .iter()
                .map(|p| format!("{loops} loop(s): {p}")),
        );
        if outcome.per_second < GOAL_PER_SECOND {
            failures.push(format!(
                "{loops} loop(s): {:.0} deliveries/s is under the goal of {GOAL_PER_SECOND:.0}/s",
                outcome.per_second
            ));
        }
    }
    if failures.is_empty() {
        println!("webhook_fanout: every goal met");
        Ok(())
    } else {
        Err(failures.join("; "))
    }
}

fn report(loops: usize, outcome: &Outcome, floor: f64) {
    let tag = format!("webhook_fanout [{loops} loop(s)]");
    println!(
        "{tag}: events written in {:.2} s ({:.0}/s)",
        outcome.writing.as_secs_f64(),
        outcome.events as f64 / outcome.writing.as_secs_f64().max(1e-9)
    );
    println!(
        "{tag}: {} deliveries in {:.2} s = {:.0}/s (goal ≥ {GOAL_PER_SECOND:.0}/s; {:.0} % of the floor)",
        outcome.delivered,
        outcome.elapsed.as_secs_f64(),
        outcome.per_second,
        100.0 * outcome.per_second / floor
    );
    let ms = |d: std::time::Duration| d.as_secs_f64() * 1000.0;
    println!(
        "{tag}: event commit → last delivery's outcome recorded: p50 {:.0} ms, p99 {:.0} ms, max {:.0} ms",
        ms(outcome.latency.p50),
        ms(outcome.latency.p99),
        ms(outcome.latency.max)
    );
    let tally = &outcome.tally;
    println!(
        "{tag}: receiver saw {} requests, {} distinct (webhook, event), {} duplicated, {} strays, \
         over {} connections",
        tally.total, tally.distinct, tally.duplicated, tally.strays, tally.connections
    );
    println!(
        "{tag}: memory (bench process, receiver and writer included): {} before delivering, peak {}",
        outcome.memory_before, outcome.memory_peak
    );
    for problem in &outcome.problems {
        println!("{tag}: PROBLEM: {problem}");
    }
}

fn setting(name: &str, default: usize) -> Result<usize, String> {
    match std::env::var(name) {
        Err(_) => Ok(default),
        Ok(value) => value
            .trim()
            .parse()
            .map_err(|_| format!("{name} must be a whole number, not {value:?}")),
    }
}

fn loop_counts() -> Result<Vec<usize>, String> {
    let value = std::env::var("SLIPWAY_BENCH_LOOPS").unwrap_or_else(|_| "1,2".into());
    let counts = value
        .split(',')
        .map(|n| match n.trim().parse::<usize>() {
            Ok(n) if (1..=8).contains(&n) => Ok(n),
            _ => Err(format!(
                "SLIPWAY_BENCH_LOOPS must list loop counts from 1 to 8 (\"1,2\"), not {value:?}"
            )),
        })
        .collect::<Result<Vec<_>, _>>()?;
    Ok(counts)
}
