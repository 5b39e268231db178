//! Rollouts end to end: `slipway dev` (one process) and `slipway server api`
//! with several `slipway server worker`s over PostgreSQL and Redis, running
//! `slipway-testapp` instances as the apps.

use crate::support::{
    answer, dev_server, instances, slipway, start, testapp, testapp_manifest, Api, Redis, Server,
};
use serde_json::{json, Value};
use slipway_core::testing::{TestDatabase, Wait};
use std::future::ready;
use std::path::Path;
use std::time::{Duration, Instant};

/// `slipway dev` in a fresh data dir, with its API.
fn dev(data: &Path) -> (Server, Api) {
    let (server, token) = dev_server(data);
    let api = Api::new(&server.url, &token);
    (server, api)
}

/// Deploys and waits; returns the final deployment.
async fn deploy(api: &Api, flags: &str, count: u32, extra: Value) -> Value {
    let mut body = json!({ "manifest": testapp_manifest(flags, count) });
    body.as_object_mut()
        .unwrap()
        .extend(extra.as_object().unwrap().clone());
    let (status, started) = api.post("/apps/shop/deploy", body).await;
    assert_eq!(status, 202, "{started}");
    assert_eq!(started["deployment"]["status"], "pending");
    let id = started["deployment"]["id"].as_str().unwrap().to_owned();
    api.wait_final("shop", &id, Duration::from_secs(60)).await
}

/// Every instance runs `release` and answers HTTP with it.
pub(crate) async fn serving(data: &Path, release: &Value, count: usize) {
    let found = instances(data);
    assert_eq!(found.len(), count, "{found:#?}");
    for instance in &found {
        assert_eq!(&instance["release"], release);
        assert_eq!(&Value::String(answer(instance).await), release);
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn dev_promotes_healthy_releases_and_rolls_back_bad_ones() {
    let dir = tempfile::tempdir().unwrap();
    let (_server, api) = dev(dir.path());
    assert_eq!(api.post("/apps", json!({ "name": "shop" })).await.0, 201);

    // A healthy release with 3 instances becomes active.
    let good = deploy(&api, "--healthy-after-ms 300", 3, json!({})).await;
    assert_eq!(good["status"], "succeeded", "{good}");
    let app = api.get("/apps/shop").await;
    assert_eq!(app["active_release"], good["release"]);
    serving(dir.path(), &good["release"], 3).await;
    let releases = api.get("/apps/shop/releases").await;
    assert_eq!(releases["releases"][0]["status"], "active");

    // A release whose command exits at once is rolled back, fast, and the
    // old release still answers on its instances.
    let started = Instant::now();
    let crashed = deploy(&api, "--exit-after-ms 0", 3, json!({})).await;
    assert_eq!(crashed["status"], "rolled_back", "{crashed}");
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "{:?}",
        started.elapsed()
    );
    assert_eq!(
        api.get("/apps/shop").await["active_release"],
        good["release"]
    );
    serving(dir.path(), &good["release"], 3).await;
    let releases = api.get("/apps/shop/releases").await;
    assert_eq!(releases["releases"][0]["status"], "failed");
    assert_eq!(releases["releases"][1]["status"], "active");

    // A failing health check is rolled back well before the deadline.
    let started = Instant::now();
    let sick = deploy(&api, "--health-status 500", 2, json!({})).await;
    assert_eq!(sick["status"], "rolled_back", "{sick}");
    assert!(sick["reason"].as_str().unwrap().contains("500"), "{sick}");
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "{:?}",
        started.elapsed()
    );

    // Never healthy, with a 10 s deadline: rolled back at the deadline.
    let slow = json!({ "services": { "web": {
        "command": format!("'{}' --healthy-after-ms 60000", testapp()),
        "port": 8000,
        "health": { "path": "/health", "grace": 0, "interval": 60, "timeout": 1 },
    }}});
    let started = Instant::now();
    let body = json!({ "manifest": slow, "deadline_seconds": 10 });
    let (status, late) = api.post("/apps/shop/deploy", body).await;
    assert_eq!(status, 202, "{late}");
    let id = late["deployment"]["id"].as_str().unwrap();
    let late = api.wait_final("shop", id, Duration::from_secs(30)).await;
    let took = started.elapsed();
    assert_eq!(late["status"], "rolled_back", "{late}");
    assert!(
        late["reason"].as_str().unwrap().contains("deadline"),
        "{late}"
    );
    assert!(
        took >= Duration::from_secs(9) && took < Duration::from_secs(20),
        "{took:?}"
    );
    serving(dir.path(), &good["release"], 3).await;

    // The history keeps every attempt, newest first.
    let history = api.get("/apps/shop/deployments").await;
    let statuses: Vec<_> = history["deployments"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["status"].clone())
        .collect();
    assert_eq!(
        statuses,
        ["rolled_back", "rolled_back", "rolled_back", "succeeded"]
    );

    // Stopped gracefully, dev stops its apps' instances; started again, it
    // brings the active release back up.
    let mut server = _server;
    let pid = server.child.id().to_string();
    let killed = std::process::Command::new("kill")
        .args(["-TERM", &pid])
        .status()
        .unwrap();
    assert!(killed.success());
    let exited = server.child.wait().unwrap();
    assert!(exited.success(), "{exited:?}");
    assert!(
        instances(dir.path()).is_empty(),
        "instances stopped with dev"
    );
    let (_again, api) = dev(dir.path());
    Wait::new("the active release restored")
        .within(Duration::from_secs(20))
        .every(Duration::from_millis(100))
        .until(|| ready(instances(dir.path())), |found| found.len() >= 3)
        .await;
    tokio::time::sleep(Duration::from_millis(200)).await;
    serving(dir.path(), &good["release"], 3).await;
    assert_eq!(
        api.get("/apps/shop").await["active_release"],
        good["release"]
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn two_promotes_at_once_one_wins_and_the_stream_ends_final() {
    let dir = tempfile::tempdir().unwrap();
    let (_server, api) = dev(dir.path());
    assert_eq!(api.post("/apps", json!({ "name": "shop" })).await.0, 201);
    let (status, built) = api
        .post(
            "/apps/shop/builds",
            json!({ "manifest": testapp_manifest("--healthy-after-ms 500", 1) }),
        )
        .await;
    assert_eq!(status, 201, "{built}");
    let path = format!(
        "/apps/shop/releases/{}/promote",
        built["release"]["id"].as_str().unwrap()
    );
    let (a, b) = tokio::join!(api.post(&path, json!({})), api.post(&path, json!({})));
    let mut statuses = [a.0, b.0];
    statuses.sort();
    assert_eq!(statuses, [202, 409], "{a:?} {b:?}");
    let (winner, loser) = if a.0 == 202 { (a.1, b.1) } else { (b.1, a.1) };
    let id = winner["deployment"]["id"].as_str().unwrap();
    assert!(
        loser["error"]["message"].as_str().unwrap().contains(id),
        "names the running one: {loser}"
    );

    // The event stream replays and follows the deployment, and ends with it.
    let response = reqwest::Client::new()
        .get(format!("{}/apps/shop/deployments/{id}/events", api.url))
        .bearer_auth(&api.token)
        .send()
        .await
        .unwrap();
    assert_eq!(response.headers()["content-type"], "text/event-stream");
    let body = tokio::time::timeout(Duration::from_secs(30), response.text())
        .await
        .unwrap()
        .unwrap();
    let kinds: Vec<_> = body
        .lines()
        .filter_map(|l| l.strip_prefix("event: "))
        .collect();
    // The rollout's progress comes between the state changes.
    let (progress, states): (Vec<&str>, Vec<&str>) =
        kinds.iter().partition(|k| **k == "deployment.progress");
    assert_eq!(
        states,
        [
            "deployment.created",
            "deployment.started",
            "deployment.succeeded"
        ]
    );
    assert!(!progress.is_empty(), "{body}");
    assert_eq!(kinds.last(), Some(&"deployment.succeeded"), "{body}");
}

/// The production shape: one API and workers as separate processes over
/// PostgreSQL and a Redis of the test's own. Webhooks may target this
/// machine (the test receivers listen on 127.0.0.1).
pub(crate) struct Cluster {
    pub api: Api,
    pub data: tempfile::TempDir,
    pub db: TestDatabase,
    pub redis: Redis,
    _api_server: Server,
}

const TOKEN: &str = "cluster-test-token-0123456789";

impl Cluster {
    pub fn start() -> Cluster {
        Cluster::on(TestDatabase::postgres())
    }

    /// A cluster over `db`.
    pub fn on(db: TestDatabase) -> Cluster {
        let redis = Redis::start();
        let data = tempfile::tempdir().unwrap();
        let mut command = slipway(&["server", "api"]);
        command
            .env("SLIPWAY_DATABASE_URL", db.url())
            .env("SLIPWAY_REDIS_URL", &redis.url)
            .env("SLIPWAY_ADMIN_TOKEN", TOKEN)
            .env("SLIPWAY_WEBHOOK_ALLOW_PRIVATE", "true");
        let (server, _) = start(command, "address=", "address=");
        let api = Api::new(&server.url, TOKEN);
        Cluster {
            api,
            data,
            db,
            redis,
            _api_server: server,
        }
    }

    /// A worker process sharing the runtime's state dir (the same machine).
    pub fn worker(&self) -> Server {
        self.worker_with(&[])
    }

    pub fn worker_with(&self, env: &[(&str, &str)]) -> Server {
        let mut command = slipway(&["server", "worker"]);
        command
            .env("SLIPWAY_DATABASE_URL", self.db.url())
            .env("SLIPWAY_REDIS_URL", &self.redis.url)
            .env("SLIPWAY_DATA_DIR", self.data.path())
            .env("SLIPWAY_WORKER_LEASE_SECONDS", "2")
            .env("SLIPWAY_WEBHOOK_ALLOW_PRIVATE", "true")
            .envs(env.iter().copied());
        start(command, "worker started", "worker started").0
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_worker_killed_mid_rollout_is_replaced_by_another() {
    let cluster = Cluster::start();
    let api = &cluster.api;
    assert_eq!(api.post("/apps", json!({ "name": "shop" })).await.0, 201);
    let mut first = cluster.worker();
    let good = deploy(api, "", 1, json!({})).await;
    assert_eq!(good["status"], "succeeded", "{good}");

    // Healthy 2 s after start: mid-rollout long enough to kill the worker,
    // and 1 s inside the 3 s health window (grace 0, 3 intervals of 1 s).
    let body = json!({ "manifest": testapp_manifest("--healthy-after-ms 2000", 2) });
    let (status, started) = api.post("/apps/shop/deploy", body).await;
    assert_eq!(status, 202, "{started}");
    let id = started["deployment"]["id"].as_str().unwrap().to_owned();
    // Wait until the first worker is mid-rollout, then SIGKILL it.
    let path = format!("/apps/shop/deployments/{id}");
    Wait::new("the rollout to start")
        .every(Duration::from_millis(50))
        .until(|| api.get(&path), |d| d["status"] == "running")
        .await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    first.child.kill().unwrap();
    first.child.wait().unwrap();

    let _second = cluster.worker();
    let done = api.wait_final("shop", &id, Duration::from_secs(60)).await;
    assert_eq!(done["status"], "succeeded", "{done}");
    assert_eq!(
        api.get("/apps/shop").await["active_release"],
        done["release"]
    );
    serving(cluster.data.path(), &done["release"], 2).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_pending_deployment_survives_a_flushed_redis() {
    let cluster = Cluster::start();
    let api = &cluster.api;
    assert_eq!(api.post("/apps", json!({ "name": "shop" })).await.0, 201);
    // No worker yet: the deployment waits, its job in Redis.
    let body = json!({ "manifest": testapp_manifest("", 1) });
    let (status, started) = api.post("/apps/shop/deploy", body).await;
    assert_eq!(status, 202, "{started}");
    let id = started["deployment"]["id"].as_str().unwrap().to_owned();
    assert_eq!(cluster.redis.command("FLUSHALL"), "+OK");
    assert_eq!(cluster.redis.command("DBSIZE"), ":0", "the job is gone");

    let _worker = cluster.worker();
    let done = api.wait_final("shop", &id, Duration::from_secs(60)).await;
    assert_eq!(done["status"], "succeeded", "{done}");
    serving(cluster.data.path(), &done["release"], 1).await;
}
