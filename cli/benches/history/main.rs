//! Years of history: does an app with 1,000,000 releases and 100,000
//! deployments answer like one with 100 releases?
//!
//! 1. Seeds a fresh PostgreSQL schema in SQL (`seed.rs`): app `big` with
//!    1,000,000 releases, 100,000 builds and 100,000 deployments; app
//!    `small` with 100 releases, 10 builds and 10 deployments; `ANALYZE`.
//!    Prints how long that took.
//! 2. Runs the store's own history queries on `big` under `EXPLAIN
//!    (ANALYZE, FORMAT JSON)` (`Store::explain_history`) and fails when one
//!    scans releases, deployments or builds sequentially, reads or sorts
//!    more than 1,000 of their rows (`plans.rs`).
//! 3. Starts `slipway server api` (this build of the binary, PostgreSQL,
//!    `SLIPWAY_RATE_LIMIT=0`, `RUST_LOG=warn`) and times, on both apps,
//!    sequential requests (50 checked warm-up requests, then 500 timed):
//!    the releases list (first page; a page 900,000 releases back on `big`,
//!    the oldest page on `small`), a release by id and the diff of a
//!    release against the one before it (each over 100 releases spread
//!    through the history), the deployments list (first page and a page
//!    90,000 back on `big`, the oldest on `small`; 10 a page, as `small`
//!    has 10).
//!
//! Goal: the p99 of each call on `big` within 2× its p99 on `small`, every
//! plan passing. Prints the figures and exits non-zero when a goal is
//! missed; a failure panics. The server (and its Redis) are killed and the
//! schema dropped at the end, a panic included.
//!
//! `HISTORY_BENCH_DROP_INDEXES=deployments_by_release,releases_by_build`
//! drops those indexes after seeding: the history as it was before them.
//!
//! Needs PostgreSQL (`SLIPWAY_TEST_DATABASE_URL`, else 127.0.0.1:5432) and
//! `redis-server` on the PATH. Run: `cargo bench -p slipway-cli --bench
//! history` (about two minutes).

mod measure;
mod plans;
#[path = "../../tests/support/processes.rs"]
mod processes;
mod seed;
mod server;

use diesel::{Connection, PgConnection};
use measure::Call;
use seed::{Shape, EVERY};
use serde_json::Value;
use slipway_core::domain::{AppName, DeploymentId, ReleaseId};
use slipway_core::seal::Keyring;
use slipway_core::testing::TestDatabase;
use std::time::Instant;

const BIG: Shape = Shape {
    app: "big",
    releases: 1_000_000,
    offset: 0,
};
const SMALL: Shape = Shape {
    app: "small",
    releases: 100,
    offset: 100_000_000,
};
/// The goal: p99 on `big` at most this many times p99 on `small`.
const FACTOR: f64 = 2.0;
/// Deployments a page (`small` has 10).
const DEPLOYMENTS_PAGE: usize = 10;

/// The release whose id pages back: 900,000 down on `big`, so the page is
/// that deep; on `small` the one that leaves the oldest 20.
fn deep_release(shape: &Shape) -> i64 {
    (shape.releases - 900_000 + 1).max(21)
}

/// The deployment whose id pages back: 90,000 down on `big`; on `small`
/// the newest, leaving the 9 before it.
fn deep_deployment(shape: &Shape) -> i64 {
    match shape.deployments() - 90_000 + 1 {
        deep if deep > 1 => deep,
        _ => shape.deployments(),
    }
}

/// 100 releases spread through the history, the oldest and newest included.
fn sample(shape: &Shape) -> Vec<i64> {
    (0..100)
        .map(|k| 1 + k * (shape.releases - 1) / 99)
        .collect()
}

fn ids(value: &Value, list: &str) -> Vec<String> {
    value[list]
        .as_array()
        .map(|items| {
            items
                .iter()
                .map(|i| i["id"].as_str().unwrap_or("").to_owned())
                .collect()
        })
        .unwrap_or_default()
}

/// What is wrong with a page of `list` that should hold `count` items from
/// `first` down.
fn page(value: &Value, list: &str, first: &str, count: usize) -> Result<(), String> {
    let got = ids(value, list);
    if got.len() != count || got[0] != first {
        return Err(format!("wanted {count} {list} from {first}"));
    }
    Ok(())
}

fn calls() -> Vec<Call> {
    let shapes = [&BIG, &SMALL];
    let each = |f: &dyn Fn(&Shape) -> Vec<String>| shapes.map(f);
    let releases = |s: &Shape| format!("/apps/{}/releases", s.app);
    let deployments = |s: &Shape| format!("/apps/{}/deployments?limit={DEPLOYMENTS_PAGE}", s.app);
    vec![
        Call {
            name: "releases: first page",
            paths: each(&|s| vec![releases(s)]),
            check: Box::new(move |app: usize, _: usize, v: &Value| {
                page(
                    v,
                    "releases",
                    &shapes[app].release(shapes[app].releases),
                    20,
                )
            }),
        },
        Call {
            name: "releases: page before",
            paths: each(&|s| {
                vec![format!(
                    "{}?before={}",
                    releases(s),
                    s.release(deep_release(s))
                )]
            }),
            check: Box::new(move |app: usize, _: usize, v: &Value| {
                let s = shapes[app];
                page(v, "releases", &s.release(deep_release(s) - 1), 20)
            }),
        },
        Call {
            name: "release by id",
            paths: each(&|s| {
                let path = releases(s);
                sample(s)
                    .iter()
                    .map(|&i| format!("{path}/{}", s.release(i)))
                    .collect()
            }),
            check: Box::new(move |app: usize, index: usize, v: &Value| {
                let s = shapes[app];
                let wanted = s.release(sample(s)[index]);
                if v["id"] != wanted.as_str() || v["env"]["LOG_LEVEL"].is_null() {
                    return Err(format!("wanted {wanted} with its env"));
                }
                Ok(())
            }),
        },
        Call {
            name: "release diff",
            paths: each(&|s| {
                let path = releases(s);
                let pairs = sample(s).into_iter().map(|i| i.max(2));
                pairs
                    .map(|i| format!("{path}/{}/diff?against={}", s.release(i), s.release(i - 1)))
                    .collect()
            }),
            check: Box::new(move |app: usize, index: usize, v: &Value| {
                let s = shapes[app];
                let i = sample(s)[index].max(2);
                if v["release"] != s.release(i).as_str()
                    || v["against"] != s.release(i - 1).as_str()
                {
                    return Err(format!("wanted the diff of release {i} against {}", i - 1));
                }
                Ok(())
            }),
        },
        Call {
            name: "deployments: first page",
            paths: each(&|s| vec![deployments(s)]),
            check: Box::new(move |app: usize, _: usize, v: &Value| {
                let s = shapes[app];
                page(
                    v,
                    "deployments",
                    &s.deployment(s.deployments()),
                    DEPLOYMENTS_PAGE,
                )
            }),
        },
        Call {
            name: "deployments: page before",
            paths: each(&|s| {
                let before = s.deployment(deep_deployment(s));
                vec![format!("{}&before={before}", deployments(s))]
            }),
            check: Box::new(move |app: usize, _: usize, v: &Value| {
                let s = shapes[app];
                let deep = deep_deployment(s);
                let count = DEPLOYMENTS_PAGE.min(deep as usize - 1);
                page(v, "deployments", &s.deployment(deep - 1), count)
            }),
        },
    ]
}

/// `HISTORY_BENCH_DROP_INDEXES`: indexes (comma-separated) dropped after
/// seeding, to measure the history as it was without them.
fn dropped_indexes() -> Vec<String> {
    let names = std::env::var("HISTORY_BENCH_DROP_INDEXES").unwrap_or_default();
    let names: Vec<String> = names
        .split(',')
        .map(str::trim)
        .filter(|n| !n.is_empty())
        .map(str::to_owned)
        .collect();
    for name in &names {
        let valid = name.chars().all(|c| c.is_ascii_lowercase() || c == '_');
        assert!(
            valid,
            "HISTORY_BENCH_DROP_INDEXES: `{name}` is no index name (a-z and _)"
        );
    }
    names
}

/// The seeded rows read back through the store: envs open, statuses right.
fn verify(db: &TestDatabase) {
    let store = db.store();
    let big = AppName::parse(BIG.app).unwrap();
    let id = ReleaseId::parse(&BIG.release(500_000)).unwrap();
    let release = store.get_release(&big, &id).expect("a seeded release");
    let env = release.env.expect("its env");
    assert_eq!(env.as_map().len(), 3, "the seeded env opens");
    let listed = store.list_releases(&big, 20, None).expect("list releases");
    assert_eq!(listed[0].status.as_str(), "active", "the newest is active");
    let deployment = DeploymentId::parse(&BIG.deployment(50)).unwrap();
    let failed = store
        .get_deployment(&big, &deployment)
        .expect("a deployment");
    assert_eq!(failed.status.as_str(), "failed");
}

fn main() {
    if std::env::args().any(|a| a == "--list") {
        return; // `cargo test --benches` lists benches; nothing to list
    }
    let db = TestDatabase::postgres();
    drop(db.store()); // migrated
    let keys = Keyring::from_base64(db.secret_key(), None).expect("the schema's key");
    let mut conn = PgConnection::establish(db.url()).expect("connect to the bench's schema");
    println!(
        "seeding: `{}` {} releases, `{}` {} releases, a build and a deployment every {EVERY}",
        BIG.app, BIG.releases, SMALL.app, SMALL.releases
    );
    let dropped = dropped_indexes();
    let started = Instant::now();
    seed::seed(&mut conn, &keys, &[&BIG, &SMALL], &dropped);
    println!(
        "seeded and analyzed in {:.1} s",
        started.elapsed().as_secs_f64()
    );
    if !dropped.is_empty() {
        println!("WITHOUT the indexes {}", dropped.join(", "));
    }
    verify(&db);

    println!("\nquery plans on `{}` (EXPLAIN ANALYZE):", BIG.app);
    let big = AppName::parse(BIG.app).unwrap();
    let release = ReleaseId::parse(&BIG.release(deep_release(&BIG))).unwrap();
    let deployment = DeploymentId::parse(&BIG.deployment(deep_deployment(&BIG))).unwrap();
    let explained = db.store().explain_history(&big, &release, &deployment);
    let plans_pass = plans::check(&explained.expect("explain the history queries"));

    println!(
        "\nthrough the API: {} warm-up then {} timed requests per call and app",
        measure::WARM_UP,
        measure::RUNS
    );
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let timings = runtime.block_on(async {
        let api = server::Api::start(db.url(), db.secret_key()).await;
        measure::run(&api, &calls()).await
    });
    let met = measure::table(&timings, FACTOR);
    if !plans_pass {
        eprintln!("\nhistory: a query plan reads an app's whole history");
    }
    if !met {
        eprintln!("\nhistory: a call on `big` missed {FACTOR}× its p99 on `small`");
    }
    if !(plans_pass && met) {
        // `exit` runs no destructors: drop the seeded schema first.
        drop(db);
        std::process::exit(1);
    }
}
