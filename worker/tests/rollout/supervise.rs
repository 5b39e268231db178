//! The supervisor against real processes: a crashed instance of the active
//! release is restarted after its backoff and reported (`app.crashed`, the
//! processes list); instances gone with a restart are brought back; an
//! instance that keeps crashing waits longer each time.

use crate::support::testapp_manifest;
use crate::{config, rig, serving, Rig};
use slipway_core::domain::ReleaseId;
use slipway_core::events::EventKind;
use slipway_core::store::{Backend, LogQuery, Process, ProcessStatus};
use slipway_core::testing::{wait_until, Wait};
use slipway_worker::rollout::{Engine, SuperviseConfig};
use slipway_worker::runtime::local::LocalRuntime;
use std::time::{Duration, Instant};

fn quick() -> SuperviseConfig {
    SuperviseConfig {
        every: Duration::from_millis(20),
        lease: Duration::from_secs(3),
        first_backoff: Duration::from_millis(300),
        max_backoff: Duration::from_millis(1200),
        steady_after: Duration::from_secs(60),
    }
}

/// Runs the supervisor of `rig`'s engine while `test` runs.
async fn supervised<T>(
    rig: &Rig,
    config: SuperviseConfig,
    test: impl std::future::Future<Output = T>,
) -> T {
    supervised_by(&rig.engine, config, test).await
}

/// Runs `engine`'s supervisor while `test` runs; it gives its apps up after.
async fn supervised_by<T>(
    engine: &Engine<LocalRuntime>,
    config: SuperviseConfig,
    test: impl std::future::Future<Output = T>,
) -> T {
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let supervisor = engine.supervise(config, async {
        let _ = stopped.await;
    });
    let test = async {
        let result = test.await;
        let _ = stop.send(());
        result
    };
    tokio::join!(supervisor, test).1
}

fn crashes(rig: &Rig) -> usize {
    rig.store
        .list_events(Some(&rig.app))
        .unwrap()
        .iter()
        .filter(|e| e.kind == EventKind::AppCrashed)
        .count()
}

/// Waits until the processes list satisfies `done`.
async fn until_processes(rig: &Rig, what: &str, done: impl Fn(&[Process]) -> bool) -> Vec<Process> {
    Wait::new(what)
        .within(Duration::from_secs(15))
        .every(Duration::from_millis(10))
        .until(
            || std::future::ready(rig.store.list_processes(&rig.app).unwrap()),
            |processes| done(processes),
        )
        .await
}

fn kill(rig: &Rig, instance: &str) {
    let record = rig.dir().join("instances").join(format!("{instance}.json"));
    let record: serde_json::Value =
        serde_json::from_slice(&std::fs::read(record).unwrap()).unwrap();
    let pid = record["pid"].as_i64().unwrap();
    let killed = std::process::Command::new("kill")
        .args(["-s", "KILL", "--", &format!("-{pid}")])
        .status()
        .unwrap();
    assert!(killed.success());
}

fn running(processes: &[Process], release: &ReleaseId, count: usize) -> bool {
    processes.len() == count
        && processes
            .iter()
            .all(|p| p.status == ProcessStatus::Running && &p.release == release)
}

#[tokio::test]
async fn a_crashed_instance_is_restarted_after_its_backoff_and_reported() {
    let rig = rig(Backend::Postgres).await;
    let release = rig
        .release(testapp_manifest("--healthy-after-ms 200", 2))
        .await;
    rig.deploy(&release).await;
    supervised(&rig, quick(), async {
        let before = until_processes(&rig, "running", |p| running(p, &release, 2)).await;
        assert!(before.iter().all(|p| p.restarts == 0 && p.port.is_some()));
        let victim = before[0].id.clone();
        kill(&rig, &victim);
        let killed = Instant::now();
        let seen = until_processes(&rig, "crashed", |p| {
            p.iter()
                .any(|p| p.id == victim && p.status == ProcessStatus::Crashed)
        })
        .await;
        assert!(
            killed.elapsed() < Duration::from_millis(300),
            "noticed at once: {seen:#?}"
        );
        let after = until_processes(&rig, "restarted", |p| {
            running(p, &release, 2) && p.iter().all(|p| p.id != victim)
        })
        .await;
        let took = killed.elapsed();
        assert!(
            took >= Duration::from_millis(300),
            "not before the backoff: {took:?}"
        );
        assert!(took < Duration::from_secs(3), "{took:?}");
        assert_eq!(
            after.iter().map(|p| p.restarts).max(),
            Some(1),
            "{after:#?}"
        );
        assert_eq!(crashes(&rig), 1);
        let event = rig.store.list_events(Some(&rig.app)).unwrap();
        let crash = event
            .iter()
            .find(|e| e.kind == EventKind::AppCrashed)
            .unwrap();
        assert_eq!(crash.data["instance"], victim.as_str());
        assert_eq!(crash.data["restarts"], 1);
        assert_eq!(crash.actor, "slipway");
    })
    .await;
    serving(&rig, &release, 2).await;
}

#[tokio::test]
async fn instances_gone_with_a_restart_are_brought_back_without_a_crash() {
    let rig = rig(Backend::Sqlite).await;
    let release = rig.release(testapp_manifest("", 2)).await;
    rig.deploy(&release).await;
    // A machine restart: every instance and its record are gone.
    rig.runtime.stop_all(Duration::ZERO).await;
    assert!(rig.instances().await.is_empty());
    supervised(&rig, quick(), async {
        until_processes(&rig, "restored", |p| running(p, &release, 2)).await;
    })
    .await;
    assert_eq!(crashes(&rig), 0);
    serving(&rig, &release, 2).await;
}

#[tokio::test]
async fn an_instance_that_keeps_crashing_waits_longer_each_time() {
    let rig = rig(Backend::Postgres).await;
    let release = rig
        .release(testapp_manifest("--exit-after-ms 50 --exit-code 3", 1))
        .await;
    let good = rig.release(testapp_manifest("", 1)).await;
    rig.deploy(&good).await;
    // Made the active release by hand: it crashes 50 ms after every start.
    rig.db().execute(&format!(
        "UPDATE apps SET active_release = '{release}' WHERE name = '{}'",
        rig.app
    ));
    rig.runtime.stop_all(Duration::ZERO).await;
    supervised(&rig, quick(), async {
        Wait::new("four crashes")
            .within(Duration::from_secs(15))
            .until(|| std::future::ready(crashes(&rig)), |n| *n >= 4)
            .await;
    })
    .await;
    let waits: Vec<u64> = rig
        .store
        .list_events(Some(&rig.app))
        .unwrap()
        .iter()
        .filter(|e| e.kind == EventKind::AppCrashed)
        .map(|e| e.data["restart_in_ms"].as_u64().unwrap())
        .collect();
    assert_eq!(
        waits[..4],
        [300, 600, 1200, 1200],
        "doubling up to the most"
    );
    let reason = rig
        .store
        .list_events(Some(&rig.app))
        .unwrap()
        .into_iter()
        .find(|e| e.kind == EventKind::AppCrashed)
        .unwrap()
        .data["reason"]
        .clone();
    assert_eq!(reason, "exited with status 3");
}

#[tokio::test]
async fn what_instances_write_is_shipped_line_by_line() {
    let rig = rig(Backend::Sqlite).await;
    let release = rig.release(testapp_manifest("", 2)).await;
    supervised(&rig, quick(), async {
        // Started while supervised: its output from the first line on.
        rig.deploy(&release).await;
        let all = LogQuery {
            limit: 100,
            ..LogQuery::default()
        };
        let logs = || std::future::ready(rig.store.list_logs(&rig.app, &all).unwrap());
        let lines = wait_until("a line from each instance", logs, |l| l.len() >= 2).await;
        let mut ids: Vec<_> = rig.instances().await.into_iter().map(|i| i.id).collect();
        let mut shipped: Vec<_> = lines.iter().map(|l| l.instance.clone()).collect();
        ids.sort();
        shipped.sort();
        assert_eq!(shipped, ids, "one line from each: {lines:#?}");
        for line in &lines {
            assert!(
                line.line.starts_with("testapp listening on 127.0.0.1:"),
                "{line:?}"
            );
            assert_eq!(line.service.as_str(), "web");
        }
        // Nothing is shipped twice.
        tokio::time::sleep(Duration::from_millis(300)).await;
        assert_eq!(rig.store.list_logs(&rig.app, &all).unwrap().len(), 2);
    })
    .await;
    // Another worker takes the app over: it goes on where the first stopped.
    let other = Engine::new(rig.store.clone(), rig.runtime.clone(), config("w2"));
    supervised_by(&other, quick(), async {
        let victim = rig.instances().await.remove(0).id;
        kill(&rig, &victim);
        let all = LogQuery {
            limit: 100,
            ..LogQuery::default()
        };
        let logs = || std::future::ready(rig.store.list_logs(&rig.app, &all).unwrap());
        wait_until("the restarted one's line", logs, |l| l.len() >= 3).await;
        tokio::time::sleep(Duration::from_millis(300)).await;
        let lines = rig.store.list_logs(&rig.app, &all).unwrap();
        assert_eq!(lines.len(), 3, "one more, none again: {lines:#?}");
    })
    .await;
}
