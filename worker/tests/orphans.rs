//! No process without a record: `LocalRuntime::start` futures dropped at
//! random points (by timeouts, and by a `try_join_all` that another start's
//! failure ends, as a rollout wave does) must never leave a process running
//! that no record names, nor a temporary record file.

mod support;

use std::collections::BTreeSet;
use std::path::Path;
use std::time::Duration;

use futures_util::future::{join_all, try_join_all, BoxFuture, FutureExt};
use rand::Rng;
use slipway_core::domain::{AppName, Env};
use slipway_core::testing::wait_until;
use slipway_worker::runtime::local::LocalRuntime;
use slipway_worker::runtime::{Instance, Runtime, RuntimeError};
use support::{files_ending, processes_of, spec, unique_app, Reaper};

/// Starts abandoned per round and way of abandoning.
const STARTS: usize = 25;
const ROUNDS: usize = 3;
/// Abandoning after up to this long hits every await point of a start.
const MAX_DELAY_US: u64 = 4000;

fn random_delay() -> Duration {
    Duration::from_micros(rand::rng().random_range(0..MAX_DELAY_US))
}

/// One start of `sleep 99999` for `app`.
fn start<'a>(rt: &'a LocalRuntime, app: &AppName) -> BoxFuture<'a, Result<Instance, RuntimeError>> {
    let spec = spec(app, "sleep 99999", Env::empty());
    async move { rt.start(&spec).await }.boxed()
}

/// What runs of an app, against what its records say.
#[derive(Debug)]
struct Census {
    /// Process groups with live processes that no record names: must stay empty.
    unrecorded: BTreeSet<i32>,
    /// Process groups with live processes of the app.
    groups: BTreeSet<i32>,
    /// Pids the app's records name.
    recorded: BTreeSet<i32>,
}

async fn census(rt: &LocalRuntime, app: &AppName, dir: &Path) -> Census {
    let groups: BTreeSet<i32> = processes_of(app.as_str()).iter().map(|p| p.pgid).collect();
    let ids: Vec<String> = rt
        .instances(app)
        .await
        .expect("list")
        .into_iter()
        .map(|i| i.id)
        .collect();
    let recorded: BTreeSet<i32> = ids
        .iter()
        .filter_map(|id| std::fs::read(dir.join("instances").join(format!("{id}.json"))).ok())
        .filter_map(|bytes| serde_json::from_slice::<serde_json::Value>(&bytes).ok())
        .filter_map(|record| record["pid"].as_i64().and_then(|p| i32::try_from(p).ok()))
        .collect();
    Census {
        unrecorded: groups.difference(&recorded).copied().collect(),
        groups,
        recorded,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn abandoned_starts_leave_no_process_without_a_record() {
    let dir = tempfile::tempdir().expect("temp dir");
    let rt = LocalRuntime::new(dir.path()).expect("runtime");
    let app = unique_app("orphans");
    let reaper = Reaper::new(&[&app]);

    let mut returned = 0;
    for _ in 0..ROUNDS {
        // Each start given up after a random moment.
        let timed = (0..STARTS).map(|_| tokio::time::timeout(random_delay(), start(&rt, &app)));
        returned += join_all(timed)
            .await
            .into_iter()
            .filter(|r| matches!(r, Ok(Ok(_))))
            .count();

        // A service that fails at a random moment ends the wave's `try_join_all`,
        // dropping every start still under way.
        let failing = async {
            tokio::time::sleep(random_delay()).await;
            Err::<Instance, _>(RuntimeError::Failed("exited with status 1".to_owned()))
        }
        .boxed();
        let wave = (0..STARTS).map(|_| start(&rt, &app)).chain([failing]);
        let outcome = try_join_all(wave).await;
        assert!(outcome.is_err(), "the failing start ends the wave");
    }

    // Starts that were given up may still be finishing; none may stay unrecorded.
    let Census {
        groups, recorded, ..
    } = wait_until(
        "every live process of the app in a recorded instance's group",
        || census(&rt, &app, dir.path()),
        |c| !c.groups.is_empty() && c.unrecorded.is_empty(),
    )
    .await;
    // The hazard was there: more processes run than starts returned.
    assert!(
        groups.len() > returned,
        "{} groups, {returned} starts returned: no start was abandoned after its launch",
        groups.len()
    );
    assert!(recorded.len() >= groups.len(), "{recorded:?} {groups:?}");

    // What the records name, stop_all stops, once the starts still under way
    // (abandoned ones go on in the background) have ended: nothing is left.
    rt.stop_all(Duration::ZERO).await;
    let temp = files_ending(&dir.path().join("instances"), ".tmp");
    assert!(temp.is_empty(), "temporary records left: {temp:?}");
    wait_until(
        "no process of the app left after stop_all",
        || async { processes_of(app.as_str()) },
        Vec::is_empty,
    )
    .await;
    assert_eq!(reaper.kill_all(), 0);
}

#[tokio::test]
async fn a_new_runtime_removes_stale_temporary_records_only() {
    let dir = tempfile::tempdir().expect("temp dir");
    let instances = dir.path().join("instances");
    std::fs::create_dir_all(&instances).expect("dir");
    let stale = instances.join(".web-r1-abc123.json.tmp");
    let fresh = instances.join(".web-r2-def456.json.tmp");
    for path in [&stale, &fresh] {
        std::fs::write(path, b"{\"half\":").expect("temp file");
    }
    // As a worker killed between writing and renaming a minute ago left it.
    let old = std::time::SystemTime::now() - Duration::from_secs(120);
    std::fs::File::options()
        .write(true)
        .open(&stale)
        .and_then(|f| f.set_modified(old))
        .expect("backdate");

    let rt = LocalRuntime::new(dir.path()).expect("runtime");
    assert!(!stale.exists(), "a stale temp record is removed");
    // A younger one may be another worker's write in progress.
    assert!(fresh.exists());
    assert!(rt
        .instances(&unique_app("temp"))
        .await
        .expect("list")
        .is_empty());
}
