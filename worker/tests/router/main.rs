//! The router over real HTTP in front of real `slipway-testapp` processes on
//! the local runtime, with releases rolled out by the engine from a real
//! database: routing by host, the forwarding headers, draining, health
//! ejection, and the router's own answers when no instance can.

#[path = "../support/mod.rs"]
mod support;

mod faults;
mod rollouts;

use serde_json::{json, Value};
use slipway_core::domain::{AppName, DeploymentStatus, Manifest, ReleaseId};
use slipway_core::store::{Backend, NewBuild, PromoteOptions, Store};
use slipway_core::testing::TestDatabase;
use slipway_worker::rollout::{Engine, EngineConfig};
use slipway_worker::router::{Router, RouterConfig};
use slipway_worker::runtime::local::LocalRuntime;
use slipway_worker::runtime::{Instance, Runtime};
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::sync::oneshot;

use support::{eventually, TESTAPP};

pub struct Rig {
    pub store: Store,
    pub app: AppName,
    pub runtime: Arc<LocalRuntime>,
    pub engine: Arc<Engine<LocalRuntime>>,
    pub router: SocketAddr,
    pub http: reqwest::Client,
    stop_router: Option<oneshot::Sender<()>>,
    dir: tempfile::TempDir,
    _db: TestDatabase,
}

impl Drop for Rig {
    fn drop(&mut self) {
        if let Some(stop) = self.stop_router.take() {
            let _ = stop.send(());
        }
        support::stop_everything_in(self.dir.path());
    }
}

/// A database, a runtime, an engine and a router serving from the engine's
/// table, with `tune` applied to the router's defaults.
pub async fn rig(backend: Backend, tune: impl FnOnce(&mut RouterConfig)) -> Rig {
    let db = TestDatabase::new(backend);
    let store = db.store();
    let app = support::unique_app("routed");
    store.create_app(&app, None, "tester").unwrap();
    let dir = tempfile::tempdir().unwrap();
    let runtime = Arc::new(LocalRuntime::new(dir.path()).unwrap());
    let mut config = EngineConfig::new("w1");
    config.stop_grace = Duration::from_secs(2);
    let engine = Arc::new(Engine::new(store.clone(), runtime.clone(), config));
    let mut router = RouterConfig::new("127.0.0.1:0".parse().unwrap());
    router.refresh = Duration::from_millis(50);
    tune(&mut router);
    let router = Router::bind(router).await.unwrap();
    let address = router.local_addr().unwrap();
    let (stop_router, stopped) = oneshot::channel();
    tokio::spawn(router.run(
        engine.traffic().clone(),
        store.clone(),
        runtime.clone(),
        async move {
            let _ = stopped.await;
        },
    ));
    Rig {
        store,
        app,
        runtime,
        engine,
        router: address,
        http: reqwest::Client::builder().no_proxy().build().unwrap(),
        stop_router: Some(stop_router),
        dir,
        _db: db,
    }
}

/// A manifest of one `web` service running the test app with `flags`,
/// `count` instances, health-checked every second, with `extra` keys
/// merged into the service.
pub fn manifest(flags: &str, count: u32, extra: Value) -> Manifest {
    let mut service = json!({
        "command": format!("'{TESTAPP}' {flags}"),
        "port": 8000,
        "health": { "path": "/health", "grace": 0, "interval": 1, "timeout": 1 },
        "scale": { "count": count },
    });
    if let (Some(service), Value::Object(extra)) = (service.as_object_mut(), extra) {
        service.extend(extra);
    }
    Manifest::from_json(&json!({ "services": { "web": service } })).unwrap()
}

impl Rig {
    pub fn release(&self, manifest: Manifest) -> ReleaseId {
        let build = NewBuild {
            manifest,
            git: None,
            description: None,
        };
        let (_, release) = self
            .store
            .create_build(&self.app, &build, "tester")
            .unwrap();
        release.id
    }

    /// Promotes `release` and drives its deployment to its end.
    pub async fn deploy(&self, release: &ReleaseId) -> DeploymentStatus {
        let (_, d) = self
            .store
            .promote(&self.app, release, &PromoteOptions::default(), "tester")
            .unwrap();
        self.engine.drive(&d.id).await.unwrap();
        self.store.get_deployment(&self.app, &d.id).unwrap().status
    }

    /// A release of `flags` with `count` instances, rolled out.
    pub async fn running(&self, flags: &str, count: u32, extra: Value) -> ReleaseId {
        let release = self.release(manifest(flags, count, extra));
        assert_eq!(self.deploy(&release).await, DeploymentStatus::Succeeded);
        release
    }

    pub fn host(&self, service: &str) -> String {
        format!("{service}.{}.localhost", self.app)
    }

    /// `GET path` through the router with `Host: host`.
    pub async fn get(&self, host: &str, path: &str) -> reqwest::Response {
        self.http
            .get(format!("http://{}{path}", self.router))
            .header("host", host)
            .send()
            .await
            .unwrap()
    }

    /// `GET path` on the `web` service in a task of its own: its status and body.
    pub fn spawn_get(&self, path: &str) -> tokio::task::JoinHandle<(u16, String)> {
        let (http, host) = (self.http.clone(), self.host("web"));
        let url = format!("http://{}{path}", self.router);
        tokio::spawn(async move {
            let response = http.get(url).header("host", host).send().await.unwrap();
            (response.status().as_u16(), response.text().await.unwrap())
        })
    }

    /// Status and body of `GET path` on the `web` service.
    pub async fn web(&self, path: &str) -> (u16, String) {
        let response = self.get(&self.host("web"), path).await;
        (response.status().as_u16(), response.text().await.unwrap())
    }

    /// Waits until the router sends `web` requests to `release`.
    pub async fn serves(&self, release: &ReleaseId) {
        eventually(
            "the router serves the release",
            || self.web("/"),
            |(status, body)| *status == 200 && body == release.as_str(),
        )
        .await;
    }

    pub async fn instances(&self) -> Vec<Instance> {
        self.runtime.instances(&self.app).await.unwrap()
    }
}

/// The error object of a router answer.
pub async fn error_of(response: reqwest::Response) -> (u16, Value) {
    let status = response.status().as_u16();
    let body: Value = response.json().await.unwrap();
    (status, body["error"].clone())
}

/// Sends `raw` to `address` and reads what comes back until the
/// connection closes or `until` appears.
pub async fn raw(address: SocketAddr, raw: &[u8], until: &str) -> String {
    let mut stream = TcpStream::connect(address).await.unwrap();
    stream.write_all(raw).await.unwrap();
    read_until(&mut stream, until).await
}

pub async fn read_until(stream: &mut TcpStream, until: &str) -> String {
    let mut got = Vec::new();
    let mut buf = [0_u8; 4096];
    let read = async {
        loop {
            let n = stream.read(&mut buf).await.unwrap_or(0);
            got.extend_from_slice(&buf[..n]);
            if n == 0 || String::from_utf8_lossy(&got).contains(until) {
                break;
            }
        }
    };
    let _ = tokio::time::timeout(Duration::from_secs(10), read).await;
    String::from_utf8_lossy(&got).into_owned()
}

#[tokio::test]
async fn requests_reach_the_service_named_by_the_host() {
    let rig = rig(Backend::Postgres, |config| {
        config.add_suffix("Apps.Example.test")
    })
    .await;
    let domains = json!({ "domains": ["Shop.Example.test"] });
    let release = rig.running("", 2, domains).await;
    rig.serves(&release).await;
    for host in [
        format!("web.{}.localhost:8000", rig.app),
        format!("{}.localhost", rig.app),
        "shop.example.test".to_owned(),
        "SHOP.example.test:80".to_owned(),
        format!("web.{}.apps.example.test", rig.app),
        format!("{}.apps.example.test", rig.app),
    ] {
        let response = rig.get(&host, "/").await;
        assert_eq!(response.status(), 200, "{host}");
        assert_eq!(response.text().await.unwrap(), release.as_str(), "{host}");
    }
    // Both instances take requests.
    let mut answered = std::collections::HashSet::new();
    for _ in 0..20 {
        answered.insert(rig.web("/env/SLIPWAY_INSTANCE").await.1);
    }
    assert_eq!(answered.len(), 2, "{answered:?}");
}

#[tokio::test]
async fn unknown_and_malformed_hosts_are_refused_without_naming_an_app() {
    let rig = rig(Backend::Sqlite, |_| {}).await;
    rig.running("", 1, json!({})).await;
    for host in [
        "nothing.localhost".to_owned(),
        format!("api.{}.localhost", rig.app),
        "127.0.0.1".to_owned(),
    ] {
        let (status, error) = error_of(rig.get(&host, "/").await).await;
        assert_eq!(status, 404, "{host}");
        assert_eq!(error["code"], "unknown_host");
        assert!(!error.to_string().contains(rig.app.as_str()), "{error}");
    }
    for head in ["Host: bad host\r\n", "Host: a@b.localhost\r\n", ""] {
        let request = format!("GET / HTTP/1.1\r\n{head}Connection: close\r\n\r\n");
        let answer = raw(rig.router, request.as_bytes(), "\r\n\r\n{").await;
        assert!(answer.starts_with("HTTP/1.1 400"), "{head:?}: {answer}");
        assert!(answer.contains("bad_host"), "{answer}");
    }
}

#[tokio::test]
async fn the_instance_learns_who_asked_under_which_id_and_trace() {
    let rig = rig(Backend::Sqlite, |_| {}).await;
    let release = rig.running("", 1, json!({})).await;
    rig.serves(&release).await;
    let traceparent = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";
    let response = rig
        .http
        .get(format!("http://{}/headers", rig.router))
        .header("host", rig.host("web"))
        .header("x-request-id", "ci-run-42")
        .header("x-forwarded-for", "203.0.113.9")
        .header("traceparent", traceparent)
        .header("connection", "keep-alive, x-hop")
        .header("x-hop", "dropped")
        .send()
        .await
        .unwrap();
    assert_eq!(response.headers()["x-request-id"], "ci-run-42");
    let head = response.text().await.unwrap().to_ascii_lowercase();
    assert!(head.contains("x-request-id: ci-run-42"), "{head}");
    assert!(
        head.contains("x-forwarded-for: 203.0.113.9, 127.0.0.1"),
        "{head}"
    );
    assert!(head.contains("x-forwarded-proto: http"), "{head}");
    assert!(
        head.contains(&format!("x-forwarded-host: web.{}.localhost", rig.app)),
        "{head}"
    );
    assert!(
        head.contains(&format!("traceparent: {traceparent}")),
        "{head}"
    );
    assert!(
        !head.contains("x-hop"),
        "a hop-by-hop header passed: {head}"
    );

    let response = rig.get(&rig.host("web"), "/headers").await;
    let made = response.headers()["x-request-id"]
        .to_str()
        .unwrap()
        .to_owned();
    assert_eq!(made.len(), 32, "{made}");
    let head = response.text().await.unwrap();
    assert!(
        head.contains(&made),
        "the instance sees the id the client gets: {head}"
    );
}

#[tokio::test]
async fn an_upgraded_connection_is_passed_through_both_ways() {
    let rig = rig(Backend::Sqlite, |_| {}).await;
    let release = rig.running("", 1, json!({})).await;
    rig.serves(&release).await;
    let mut stream = TcpStream::connect(rig.router).await.unwrap();
    let request = format!(
        "GET /echo HTTP/1.1\r\nHost: {}\r\nConnection: Upgrade\r\nUpgrade: echo\r\n\r\n",
        rig.host("web")
    );
    stream.write_all(request.as_bytes()).await.unwrap();
    let head = read_until(&mut stream, "\r\n\r\n").await;
    assert!(head.starts_with("HTTP/1.1 101"), "{head}");
    for message in ["ping", "pong and more"] {
        stream.write_all(message.as_bytes()).await.unwrap();
        assert_eq!(read_until(&mut stream, message).await, message);
    }
}

#[tokio::test]
async fn a_release_is_routed_from_its_rollouts_start_not_the_feeds_next_look() {
    // The feed looks once, before there is anything to route.
    let rig = rig(Backend::Sqlite, |config| {
        config.refresh = Duration::from_secs(3600)
    })
    .await;
    tokio::time::sleep(Duration::from_millis(100)).await;
    let release = rig.running("", 1, json!({})).await;
    assert_eq!(rig.web("/").await, (200, release.to_string()));
}
