//! Rollouts and rollbacks under load through the router: no request fails,
//! and an instance's requests in flight finish before it is stopped.

use super::support::{testapp, testapp_manifest};
use super::{rig, Rig};
use slipway_core::domain::DeploymentStatus;
use slipway_core::store::Backend;
use slipway_core::testing::ManifestBuilder;
use std::collections::HashSet;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::task::JoinHandle;

/// Requests sent in a loop over `connections` kept-alive connections.
struct Load {
    stop: Arc<AtomicBool>,
    tasks: Vec<JoinHandle<Tally>>,
}

#[derive(Debug, Default)]
struct Tally {
    ok: usize,
    failed: Vec<String>,
    /// The bodies answered (the releases that served).
    seen: HashSet<String>,
}

fn load(rig: &Rig, connections: usize, path: &str) -> Load {
    let stop = Arc::new(AtomicBool::new(false));
    let url = format!("http://{}{path}", rig.router());
    let tasks = (0..connections)
        .map(|_| {
            let (stop, url, host) = (stop.clone(), url.clone(), rig.host("web"));
            let http = rig.http.clone();
            tokio::spawn(async move {
                let mut tally = Tally::default();
                while !stop.load(Ordering::Relaxed) {
                    match http.get(&url).header("host", &host).send().await {
                        Ok(response) if response.status() == 200 => {
                            tally.ok += 1;
                            tally.seen.insert(response.text().await.unwrap_or_default());
                        }
                        Ok(response) => {
                            let status = response.status();
                            let body = response.text().await.unwrap_or_default();
                            tally.failed.push(format!("{status}: {body}"));
                        }
                        Err(error) => tally.failed.push(error.to_string()),
                    }
                }
                tally
            })
        })
        .collect();
    Load { stop, tasks }
}

impl Load {
    async fn finish(self) -> Tally {
        self.stop.store(true, Ordering::Relaxed);
        let mut all = Tally::default();
        for task in self.tasks {
            let tally = task.await.unwrap();
            all.ok += tally.ok;
            all.failed.extend(tally.failed);
            all.seen.extend(tally.seen);
        }
        all
    }
}

#[tokio::test]
async fn a_rollout_under_load_fails_no_request() {
    let rig = rig(Backend::Postgres, |_| {}).await;
    let first = rig.running(testapp_manifest("", 2)).await;
    rig.serves(&first).await;
    let load = load(&rig, 8, "/sleep/5");
    tokio::time::sleep(Duration::from_millis(300)).await;
    let second = rig
        .release(testapp_manifest("--healthy-after-ms 300", 2))
        .await;
    assert_eq!(
        rig.deploy(&second).await.status,
        DeploymentStatus::Succeeded
    );
    rig.serves(&second).await;
    let tally = load.finish().await;
    assert!(
        tally.failed.is_empty(),
        "{} failed: {:?}",
        tally.failed.len(),
        tally.failed
    );
    assert!(tally.ok > 100, "{tally:?}");
    let both: HashSet<String> = [first.to_string(), second.to_string()].into();
    assert_eq!(tally.seen, both, "both releases served during the rollout");
}

#[tokio::test]
async fn a_crashing_release_is_rolled_back_without_a_failed_request() {
    let rig = rig(Backend::Sqlite, |_| {}).await;
    let good = rig.running(testapp_manifest("", 2)).await;
    rig.serves(&good).await;
    let load = load(&rig, 8, "/sleep/5");
    let crashing = rig.release(testapp_manifest("--exit-after-ms 0", 2)).await;
    assert_eq!(
        rig.deploy(&crashing).await.status,
        DeploymentStatus::RolledBack
    );
    let tally = load.finish().await;
    assert!(
        tally.failed.is_empty(),
        "{} failed: {:?}",
        tally.failed.len(),
        tally.failed
    );
    assert_eq!(tally.seen, HashSet::from([good.to_string()]));
}

#[tokio::test]
async fn requests_in_flight_finish_before_their_instance_is_stopped() {
    let rig = rig(Backend::Sqlite, |_| {}).await;
    let first = rig.running(testapp_manifest("", 1)).await;
    rig.serves(&first).await;
    let slow = rig.spawn_get("/sleep/1500");
    tokio::time::sleep(Duration::from_millis(200)).await;
    let started = Instant::now();
    let second = rig.running(testapp_manifest("", 1)).await;
    // SIGTERM ends the test app at once: the answer proves it came first.
    assert_eq!(slow.await.unwrap(), (200, first.to_string()));
    assert!(
        started.elapsed() >= Duration::from_millis(1000),
        "the stop waited for the drain"
    );
    rig.serves(&second).await;
}

#[tokio::test]
async fn a_drain_ends_at_the_services_drain_time() {
    let rig = rig(Backend::Sqlite, |_| {}).await;
    let first = rig
        .running(ManifestBuilder::web(testapp("").drain(1)).build())
        .await;
    rig.serves(&first).await;
    let stuck = rig.spawn_get("/sleep/20000");
    tokio::time::sleep(Duration::from_millis(200)).await;
    let started = Instant::now();
    rig.running(ManifestBuilder::web(testapp("").drain(1)).build())
        .await;
    let took = started.elapsed();
    assert!(
        took < Duration::from_secs(8),
        "the drain ended after 1 s, took {took:?}"
    );
    assert_eq!(
        stuck.await.unwrap().0,
        502,
        "the instance was stopped under its request"
    );
}
