//! The API on PostgreSQL against its floor. `slipway server api` (the
//! release build, a fresh schema, `SLIPWAY_RATE_LIMIT=0`, `RUST_LOG=warn`,
//! the default pool of 10 connections, no worker: nothing here needs one)
//! under wrk, 8 connections on 2 threads; and the floor of the same
//! endpoint: the statements one request makes, run straight on the same
//! schema from this process, one transaction per request, on 8 connections
//! (a thread each).
//!
//! The two take turns: per endpoint, `ROUNDS` rounds of 2 s a side (API
//! round 1, floor round 1, API round 2, …), 10 s a side in all, so a
//! stall of the disk or of the machine falls in one short round of one
//! side instead of deciding one side's whole tail. Each side's rounds are
//! pooled before any figure is taken: requests, time and errors summed,
//! the latencies of all its rounds put together (wrk's histogram of each
//! round, the floor's own samples), then p50 and p99 read from the pool
//! by one rule for both sides (`Round::percentile`); requests/s is the
//! pooled requests over the pooled time. Each round prints a line; the
//! table at the end has the pooled figures.
//!
//! Writes carry an `Idempotency-Key` of their own, as the CLI sends one.
//! Builds, env changes and release lists go round-robin over 8 apps, each
//! with one release to start from; an env change sets `BENCH_VALUE` to a
//! new value each time (so each makes a release and the env stays small).
//! A promotion goes to an app of its own (`pa-N` for the API, `pf-N` for
//! the floor, `PROMOTE_APPS` of each seeded with one release): an app has
//! one open deployment at a time and, with no worker, a promoted one stays
//! `pending`, so a second promotion of the same app would be a 409. Each
//! side numbers its requests on from one round to the next, so no key, env
//! value or promotion app comes back in a later round.
//!
//! The statements of one request (the floor's constants in `floor.rs`):
//! - every request: `TOKEN_CHECK` (`SELECT … FROM tokens WHERE hash = $1`;
//!   `last_used_at` is written at most once a minute, left out);
//! - writes, before the work: `KEY_PRIOR` (the key's earlier answer); in
//!   the work's transaction: `KEY_CLEAR`, `KEY_INSERT`; after it:
//!   `KEY_RESPONSE` (the sealed answer; expired keys are swept once a
//!   minute, left out);
//! - `POST /apps/{app}/builds`: `APP_LOCK` (`UPDATE apps SET seq = seq + 1
//!   … RETURNING` the row), `LATEST_RELEASE` (the env to inherit), `INSERT_BUILD`,
//!   `INSERT_RELEASE`, then per event (`build.created`, `release.created`)
//!   `INSERT_EVENT` and `WEBHOOKS` (the fan-out reads the enabled webhooks;
//!   there are none, so no delivery is written);
//! - `PATCH /apps/{app}/env`: `APP_LOCK`, `LATEST_RELEASE`,
//!   `INSERT_RELEASE`, `INSERT_EVENT` + `WEBHOOKS` for `release.created`
//!   and for `env.changed`;
//! - `POST /apps/{app}/releases/{id}/promote`: `APP_LOCK`, `FIND_RELEASE`,
//!   `OPEN_DEPLOYMENT`, `INSERT_DEPLOYMENT`, `INSERT_EVENT` + `WEBHOOKS`
//!   (`deployment.created`);
//!   the API then enqueues the rollout job on Redis (not in the floor);
//! - `GET /apps/{app}/releases`: `APP_ROW` (the app exists), `LIST_RELEASES`
//!   (20, newest first), `APP_ROW` (its active release), `RELEASE_OUTCOMES`
//!   (each listed release's latest deployment).
//!
//! Goals, per endpoint: p50 ≤ 2 × the floor's p50, p99 ≤ 3 × the floor's
//! p99, no error (an answer outside 2xx or a socket error). `/healthz` is
//! measured for reference, without a goal. Prints a table; exits non-zero
//! when a goal is missed; a failure panics. The API and its Redis are
//! killed when the bench ends, a panic included.
//!
//! `API_LOAD_BIN=/path/to/slipway` measures that binary instead of this
//! build's (an older build, to compare).
//!
//! Needs PostgreSQL (`SLIPWAY_TEST_DATABASE_URL`, else 127.0.0.1:5432),
//! `redis-server` and `wrk` on the PATH. Run: `scripts/bench-api` (installs
//! wrk), or `cargo bench -p slipway-cli --bench api_load` (about 2 minutes).

mod floor;
#[path = "../../tests/support/processes.rs"]
mod processes;
mod server;
mod wrk;

use floor::Samples;
use server::{Api, PROMOTE_APPS};
use std::collections::BTreeMap;
use std::time::Duration;
use wrk::{Endpoint, Load};

/// Rounds a side, per endpoint; each lasts `LOAD.duration`.
const ROUNDS: u32 = 5;
const LOAD: Load = Load {
    threads: 2,
    connections: 8,
    duration: Duration::from_secs(2),
};
const P50_GOAL: f64 = 2.0;
const P99_GOAL: f64 = 3.0;

/// What one side measured of one endpoint: one round, or its rounds pooled.
#[derive(Debug, Default)]
pub struct Round {
    pub requests: u64,
    pub duration: Duration,
    /// Answers outside 2xx and socket errors (the floor panics instead).
    pub errors: u64,
    /// How many latencies had each value, in whole microseconds (wrk's
    /// unit; the floor truncates to it).
    pub latencies: BTreeMap<u64, u64>,
}

impl Round {
    /// Adds one request that took `latency`.
    pub fn record(&mut self, latency: Duration) {
        self.requests += 1;
        *self
            .latencies
            .entry(latency.as_micros() as u64)
            .or_default() += 1;
    }

    /// Adds `round`'s requests, time, errors and latencies to these.
    fn pool(&mut self, round: Round) {
        self.requests += round.requests;
        self.duration += round.duration;
        self.errors += round.errors;
        for (us, count) in round.latencies {
            *self.latencies.entry(us).or_default() += count;
        }
    }

    fn per_second(&self) -> f64 {
        self.requests as f64 / self.duration.as_secs_f64()
    }

    /// The `percent`th percentile in ms, by nearest rank: of the N
    /// latencies, the smallest value that at least ⌈N × percent / 100⌉ of
    /// them do not exceed; 0 with none. On the API side N counts wrk's
    /// histogram, not its requests: as for wrk's own `latency:percentile`,
    /// it holds wrk's correction for coordinated omission too (for a
    /// request slower than twice a connection's mean time between
    /// requests, the requests it held back, at its latency less one, two, …
    /// such times).
    fn percentile(&self, percent: u64) -> f64 {
        let n: u64 = self.latencies.values().sum();
        let rank = (n * percent).div_ceil(100).max(1);
        let mut seen = 0;
        let at = self.latencies.iter().find(|(_, count)| {
            seen += *count;
            seen >= rank
        });
        at.map_or(0.0, |(us, _)| *us as f64 / 1e3)
    }

    /// One line: requests/s, p50, p99 and errors.
    fn figures(&self) -> String {
        format!(
            "{:>7.0}/s  p50 {:>7.2} ms  p99 {:>7.2} ms  errors {}",
            self.per_second(),
            self.percentile(50),
            self.percentile(99),
            self.errors
        )
    }
}

struct Measured {
    endpoint: Endpoint,
    api: Round,
    floor: Option<Round>,
}

fn main() {
    if std::env::args().any(|a| a == "--list") {
        return; // `cargo test --benches` lists benches; nothing to list
    }
    let wrk = wrk::find();
    let api = Api::start();
    let runtime = tokio::runtime::Runtime::new().expect("a runtime");
    runtime.block_on(api.seed());
    let dir = tempfile::tempdir().expect("a temporary directory");
    println!(
        "api_load: per endpoint {ROUNDS} rounds a side, taking turns: wrk -t{} -c{} -d{}s, \
         then the floor on {} connections for {} s",
        LOAD.threads,
        LOAD.connections,
        LOAD.duration.as_secs(),
        LOAD.connections,
        LOAD.duration.as_secs()
    );
    let mut measured = Vec::new();
    for endpoint in [
        Endpoint::Healthz,
        Endpoint::Builds,
        Endpoint::Env,
        Endpoint::Promote,
        Endpoint::Releases,
    ] {
        let has_floor = endpoint != Endpoint::Healthz;
        let (mut pooled_api, mut pooled_floor) = (Round::default(), Round::default());
        // The next request number of each side, carried from round to round.
        let (mut api_next, mut floor_next) = (0, 0);
        for round in 1..=ROUNDS {
            let run = wrk::run(&wrk, dir.path(), endpoint, &LOAD, &api.url, &mut api_next);
            let label = endpoint.label();
            println!("  {label:<40} {round}/{ROUNDS} API   {}", run.figures());
            pooled_api.pool(run);
            if has_floor {
                let samples = Samples::load(&mut api.connect());
                let connections = LOAD.connections as usize;
                let run = floor::run(
                    api.db.url(),
                    endpoint,
                    connections,
                    LOAD.duration,
                    &samples,
                    &mut floor_next,
                );
                println!("  {:<40} {round}/{ROUNDS} floor {}", "", run.figures());
                pooled_floor.pool(run);
            }
        }
        assert!(
            endpoint != Endpoint::Promote || api_next.max(floor_next) <= PROMOTE_APPS,
            "promotions went past the {PROMOTE_APPS} seeded apps (API {api_next}, \
             floor {floor_next}): seed more"
        );
        measured.push(Measured {
            endpoint,
            api: pooled_api,
            floor: has_floor.then_some(pooled_floor),
        });
    }
    let printed = api.printed();
    if !printed.trim().is_empty() {
        println!("\nthe API logged:\n{}", printed.trim());
    }
    let met = table(&measured);
    // `exit` runs no destructors: stop the server, drop its schema and the
    // scripts' directory first.
    drop((api, dir));
    if !met {
        eprintln!("\napi_load: a goal was missed");
        std::process::exit(1);
    }
}

/// Prints every endpoint's pooled figures against its floor's and the
/// goals; whether all were met.
fn table(measured: &[Measured]) -> bool {
    println!(
        "\n{:<40} {:>8} {:>9} {:>9} {:>7} {:>8} {:>9} {:>9} {:>13} {:>13}",
        "endpoint",
        "API/s",
        "p50 ms",
        "p99 ms",
        "errors",
        "floor/s",
        "floor p50",
        "floor p99",
        "p50 ratio",
        "p99 ratio"
    );
    let mut met = true;
    for m in measured {
        let errors = m.api.errors;
        let (floor_cells, ratios) = match &m.floor {
            Some(floor) => {
                let p50 = m.api.percentile(50) / floor.percentile(50);
                let p99 = m.api.percentile(99) / floor.percentile(99);
                let mark = |ok: bool| if ok { "" } else { " MISSED" };
                let (ok50, ok99) = (p50 <= P50_GOAL, p99 <= P99_GOAL);
                met &= ok50 && ok99 && errors == 0;
                (
                    format!(
                        "{:>8.0} {:>9.2} {:>9.2}",
                        floor.per_second(),
                        floor.percentile(50),
                        floor.percentile(99)
                    ),
                    format!(
                        "{:>13} {:>13}",
                        format!("{p50:.2}{}", mark(ok50)),
                        format!("{p99:.2}{}", mark(ok99))
                    ),
                )
            }
            None => (format!("{:>8} {:>9} {:>9}", "-", "-", "-"), String::new()),
        };
        let errors_cell = if errors == 0 || m.floor.is_none() {
            errors.to_string()
        } else {
            format!("{errors} MISSED")
        };
        println!(
            "{:<40} {:>8.0} {:>9.2} {:>9.2} {:>7} {floor_cells} {ratios}",
            m.endpoint.label(),
            m.api.per_second(),
            m.api.percentile(50),
            m.api.percentile(99),
            errors_cell
        );
    }
    println!(
        "goals: p50 ≤ {P50_GOAL} × the floor's, p99 ≤ {P99_GOAL} × the floor's, no error \
         (answers outside 2xx, socket errors)"
    );
    met
}
