//! The API on PostgreSQL against its floor. `slipway server api` (the
//! release build, a fresh schema, `SLIPWAY_RATE_LIMIT=0`, `RUST_LOG=warn`,
//! the default pool of 10 connections, no worker: nothing here needs one)
//! under wrk, 8 connections on 2 threads for 10 s per endpoint; then the
//! floor of the same endpoint: the statements one request makes, run
//! straight on the same schema from this process, one transaction per
//! request, on 8 connections (a thread each) for 10 s.
//!
//! Writes carry an `Idempotency-Key` of their own, as the CLI sends one.
//! Builds, env changes and release lists go round-robin over 8 apps, each
//! with one release to start from; an env change sets `BENCH_VALUE` to a
//! new value each time (so each makes a release and the env stays small).
//! A promotion goes to an app of its own (`pa-N`, seeded with one release):
//! an app has one open deployment at a time and, with no worker, a
//! promoted one stays `pending`, so a second promotion of the same app
//! would be a 409.
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

use floor::{FloorRun, Samples};
use server::Api;
use std::time::Duration;
use wrk::{Endpoint, Load, WrkRun};

const LOAD: Load = Load {
    threads: 2,
    connections: 8,
    duration: Duration::from_secs(10),
};
const P50_GOAL: f64 = 2.0;
const P99_GOAL: f64 = 3.0;

struct Measured {
    endpoint: Endpoint,
    api: WrkRun,
    floor: Option<FloorRun>,
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
        "api_load: wrk -t{} -c{} -d{}s per endpoint; floor: {} connections, {} s",
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
        let script = wrk::script(dir.path(), endpoint, &LOAD);
        let run = wrk::run(&wrk, &script, &LOAD, &api.url);
        println!(
            "  {:<40} API   {:>7.0}/s  p50 {:>7.2} ms  p99 {:>7.2} ms  errors {}",
            endpoint.label(),
            run.per_second(),
            run.p50_us / 1e3,
            run.p99_us / 1e3,
            run.non2xx + run.socket_errors()
        );
        let floor = (endpoint != Endpoint::Healthz).then(|| {
            let samples = Samples::load(&mut api.connect());
            let connections = LOAD.connections as usize;
            let floor = floor::run(api.db.url(), endpoint, connections, LOAD.duration, &samples);
            println!(
                "  {:<40} floor {:>7.0}/s  p50 {:>7.2} ms  p99 {:>7.2} ms  ({} requests)",
                "",
                floor.per_second,
                floor.p50_us / 1e3,
                floor.p99_us / 1e3,
                floor.requests
            );
            floor
        });
        measured.push(Measured {
            endpoint,
            api: run,
            floor,
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

/// Prints every endpoint against its floor and goals; whether all were met.
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
        let errors = m.api.non2xx + m.api.socket_errors();
        let (floor_cells, ratios) = match &m.floor {
            Some(floor) => {
                let p50 = m.api.p50_us / floor.p50_us;
                let p99 = m.api.p99_us / floor.p99_us;
                let mark = |ok: bool| if ok { "" } else { " MISSED" };
                let (ok50, ok99) = (p50 <= P50_GOAL, p99 <= P99_GOAL);
                met &= ok50 && ok99 && errors == 0;
                (
                    format!(
                        "{:>8.0} {:>9.2} {:>9.2}",
                        floor.per_second,
                        floor.p50_us / 1e3,
                        floor.p99_us / 1e3
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
            m.api.p50_us / 1e3,
            m.api.p99_us / 1e3,
            errors_cell
        );
    }
    println!(
        "goals: p50 ≤ {P50_GOAL} × the floor's, p99 ≤ {P99_GOAL} × the floor's, no error \
         (answers outside 2xx, socket errors)"
    );
    met
}
