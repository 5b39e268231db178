//! The fault suite against the real binary: workers stopped politely,
//! paused and cut off from Redis while they roll out, over PostgreSQL and a
//! Redis of the test's own (pausing it stalls only this test's clients).
//! Each asserts outcomes: the final status, how often the deployment was
//! claimed (its lease's fencing token), its final events, what runs, and
//! how long a hand-over took.

use crate::rollouts::{serving, Cluster};
use crate::support::{testapp_service, Api, Server};
use serde_json::{json, Value};
use slipway_core::domain::DeploymentId;
use slipway_core::store::Store;
use slipway_core::testing::{ManifestBuilder, TestDatabase, Wait};
use std::future::ready;
use std::time::{Duration, Instant};

/// One `web` service of `count` test apps that turn healthy `after_ms`
/// after start, checked from `grace` seconds on.
pub(crate) fn healthy_after(after_ms: u64, count: u32, grace: u32) -> Value {
    let web = testapp_service(&format!("--healthy-after-ms {after_ms}"));
    ManifestBuilder::web(web.count(count).grace(grace)).json()
}

/// Starts a deployment of `manifest` for app `shop`; its id.
pub(crate) async fn start_deploy(api: &Api, manifest: Value) -> String {
    let (status, started) = api
        .post("/apps/shop/deploy", json!({ "manifest": manifest }))
        .await;
    assert_eq!(status, 202, "{started}");
    started["deployment"]["id"].as_str().unwrap().to_owned()
}

async fn until_running(api: &Api, id: &str) {
    let path = format!("/apps/shop/deployments/{id}");
    Wait::new("the rollout to start")
        .within(Duration::from_secs(15))
        .until(|| api.get(&path), |d| d["status"] == "running")
        .await;
}

/// The deployment's claim count and its events of `kind`, from the database.
fn claims_and_events(store: &Store, id: &str, kind: &str) -> (i64, usize) {
    let id = DeploymentId::parse(id).unwrap();
    let claims = store.get_deployment_by_id(&id).unwrap().lease_epoch;
    let events = store.list_deployment_events(&id, 0).unwrap();
    (
        claims,
        events.iter().filter(|e| e.kind.as_str() == kind).count(),
    )
}

pub(crate) fn signal(server: &Server, signal: &str) {
    let pid = server.child.id().to_string();
    let sent = std::process::Command::new("kill")
        .args([&format!("-{signal}"), &pid])
        .status()
        .unwrap();
    assert!(sent.success(), "kill -{signal} {pid}");
}

/// A cluster with app `shop` running one healthy instance, and its worker.
async fn shop_with_one_release() -> (Cluster, Server) {
    shop_on(Cluster::start()).await
}

async fn shop_on(cluster: Cluster) -> (Cluster, Server) {
    let api = &cluster.api;
    assert_eq!(api.post("/apps", json!({ "name": "shop" })).await.0, 201);
    let worker = cluster.worker();
    let id = start_deploy(api, healthy_after(0, 1, 0)).await;
    let done = api.wait_final("shop", &id, Duration::from_secs(60)).await;
    assert_eq!(done["status"], "succeeded", "{done}");
    (cluster, worker)
}

/// Redis stalls for 3 s mid-rollout (`CLIENT PAUSE`): the queue hands the job
/// back as an orphan while the drive goes on; the job's second coming finds
/// the live lease and leaves it alone.
#[tokio::test(flavor = "multi_thread")]
async fn a_stalled_redis_does_not_drive_a_rollout_twice() {
    let (cluster, _worker) = shop_with_one_release().await;
    let api = &cluster.api;
    let id = start_deploy(api, healthy_after(6000, 2, 5)).await;
    until_running(api, &id).await;
    assert_eq!(cluster.redis.command("CLIENT PAUSE 3000 ALL"), "+OK");
    let done = api.wait_final("shop", &id, Duration::from_secs(60)).await;
    assert_eq!(done["status"], "succeeded", "{done}");
    let store = cluster.db.store();
    let (claims, finals) = claims_and_events(&store, &id, "deployment.succeeded");
    assert_eq!((claims, finals), (1, 1), "one drive, one final event");
    serving(cluster.data.path(), &done["release"], 2).await;
}

/// SIGTERM mid-rollout: the worker stops at a safe point, gives its lease
/// back and exits; another worker continues at once, not after the lease.
#[tokio::test(flavor = "multi_thread")]
async fn a_worker_stopped_politely_hands_its_rollout_over_at_once() {
    let (cluster, mut first) = shop_with_one_release().await;
    let api = &cluster.api;
    let id = start_deploy(api, healthy_after(3000, 2, 2)).await;
    until_running(api, &id).await;
    let _second = cluster.worker();
    tokio::time::sleep(Duration::from_millis(300)).await;
    let asked = Instant::now();
    signal(&first, "TERM");
    Wait::new("the worker to exit after SIGTERM")
        .within(Duration::from_secs(10))
        .every(Duration::from_millis(10))
        .until(|| ready(first.child.try_wait().unwrap()), Option::is_some)
        .await;
    let exited = asked.elapsed();
    let store = cluster.db.store();
    let claims = || ready(claims_and_events(&store, &id, "deployment.succeeded").0);
    Wait::new("a take-over within 2 s of the exit")
        .within(Duration::from_secs(2))
        .every(Duration::from_millis(10))
        .until(claims, |claims| *claims >= 2)
        .await;
    let handed_over = asked.elapsed() - exited;
    let done = api.wait_final("shop", &id, Duration::from_secs(60)).await;
    assert_eq!(done["status"], "succeeded", "{done}");
    let (claims, finals) = claims_and_events(&store, &id, "deployment.succeeded");
    assert_eq!(
        (claims, finals),
        (2, 1),
        "handed over once, one final event"
    );
    serving(cluster.data.path(), &done["release"], 2).await;
    eprintln!("SIGTERM: exited after {exited:?}, taken over {handed_over:?} later");
}

/// A worker paused (SIGSTOP) past its lease: another worker takes over;
/// resumed, the first finds its lease unconfirmed and acts no more.
#[tokio::test(flavor = "multi_thread")]
async fn a_paused_worker_gives_way_and_does_not_act_when_resumed() {
    let (cluster, first) = shop_with_one_release().await;
    let api = &cluster.api;
    let id = start_deploy(api, healthy_after(3000, 2, 2)).await;
    until_running(api, &id).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    signal(&first, "STOP");
    let _second = cluster.worker();
    let store = cluster.db.store();
    // Lease 2 s, reconciler every second: taken over within about 4 s.
    let claims = || ready(claims_and_events(&store, &id, "deployment.succeeded").0);
    Wait::new("a take-over")
        .every(Duration::from_millis(50))
        .until(claims, |claims| *claims >= 2)
        .await;
    signal(&first, "CONT");
    let done = api.wait_final("shop", &id, Duration::from_secs(60)).await;
    assert_eq!(done["status"], "succeeded", "{done}");
    // Give the resumed worker time to do anything it still would.
    tokio::time::sleep(Duration::from_secs(2)).await;
    let (claims, finals) = claims_and_events(&store, &id, "deployment.succeeded");
    assert_eq!((claims, finals), (2, 1), "one take-over, one final event");
    serving(cluster.data.path(), &done["release"], 2).await;
}

/// PostgreSQL refuses connections for 5 s mid-rollout (longer than the 2 s
/// lease): the drive fences itself, the rollout resumes once the database
/// is back, and it ends once, with what it should run.
#[tokio::test(flavor = "multi_thread")]
async fn a_database_outage_mid_rollout_resumes_once_it_is_back() {
    let (cluster, _worker) = shop_on(Cluster::on(TestDatabase::postgres_database())).await;
    let api = &cluster.api;
    let id = start_deploy(api, healthy_after(3000, 2, 2)).await;
    until_running(api, &id).await;
    cluster.db.cut_off();
    tokio::time::sleep(Duration::from_secs(5)).await;
    cluster.db.restore();
    let done = api.wait_final("shop", &id, Duration::from_secs(60)).await;
    assert_eq!(done["status"], "succeeded", "{done}");
    let store = cluster.db.store();
    let (claims, finals) = claims_and_events(&store, &id, "deployment.succeeded");
    assert!(claims >= 2, "resumed by a new claim: {claims}");
    assert_eq!(finals, 1, "one final event");
    serving(cluster.data.path(), &done["release"], 2).await;
}

/// `DELETE /apps/{app}` mid-rollout: the app is gone for the API at once,
/// the drive stops, and the workers stop every instance it had, of both
/// releases.
#[tokio::test(flavor = "multi_thread")]
async fn a_deleted_app_stops_running_even_mid_rollout() {
    let (cluster, _worker) = shop_with_one_release().await;
    let api = &cluster.api;
    let id = start_deploy(api, healthy_after(3000, 2, 2)).await;
    until_running(api, &id).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    let data = cluster.data.path();
    assert!(
        crate::support::instances(data).len() >= 2,
        "old and new run"
    );
    let (status, body) = api.send(reqwest::Method::DELETE, "/apps/shop", None).await;
    assert_eq!(status, 204, "{body}");
    let (status, _) = api.send(reqwest::Method::GET, "/apps/shop", None).await;
    assert_eq!(status, 404, "gone at once");
    Wait::new("every instance to stop")
        .within(Duration::from_secs(20))
        .every(Duration::from_millis(50))
        .until(|| ready(crate::support::instances(data)), Vec::is_empty)
        .await;
    let store = cluster.db.store();
    let d = store
        .get_deployment_by_id(&DeploymentId::parse(&id).unwrap())
        .unwrap();
    assert_eq!(d.reason.as_deref(), Some("app deleted"), "{d:?}");
    // Nothing comes back: the supervisor leaves a deleted app alone.
    tokio::time::sleep(Duration::from_secs(1)).await;
    assert!(crate::support::instances(data).is_empty());
}
