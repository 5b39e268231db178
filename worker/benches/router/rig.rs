//! A database (SQLite), a local runtime in a temp dir, an engine and a
//! router serving from the engine's table; every instance is stopped when
//! the rig is dropped, also on a panic.

use slipway_core::domain::{AppName, DeploymentStatus, ReleaseId};
use slipway_core::store::{Backend, NewBuild, PromoteOptions, Store};
use slipway_core::testing::TestDatabase;
use slipway_worker::rollout::{Engine, EngineConfig};
use slipway_worker::router::{Router, RouterConfig};
use slipway_worker::runtime::local::LocalRuntime;
use slipway_worker::runtime::Runtime;
use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::oneshot;

pub struct Rig {
    pub app: AppName,
    pub router: SocketAddr,
    store: Store,
    runtime: Arc<LocalRuntime>,
    engine: Engine<LocalRuntime>,
    http: reqwest::Client,
    stop_router: Option<oneshot::Sender<()>>,
    dir: tempfile::TempDir,
    _db: TestDatabase,
}

impl Drop for Rig {
    fn drop(&mut self) {
        if let Some(stop) = self.stop_router.take() {
            let _ = stop.send(());
        }
        // From a thread of its own: this may run inside the bench's runtime,
        // where blocking on another one is refused.
        let dir = self.dir.path().to_owned();
        let _ = std::thread::spawn(move || {
            let tokio = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("a runtime to stop the instances");
            let runtime = LocalRuntime::new(&dir).expect("the bench's runtime dir");
            tokio.block_on(runtime.stop_all(Duration::ZERO));
        })
        .join();
    }
}

impl Rig {
    pub async fn start() -> Rig {
        let db = TestDatabase::new(Backend::Sqlite);
        let store = db.store();
        let app = AppName::parse("bench").expect("app name");
        store.create_app(&app, None, "bench").expect("create app");
        let dir = tempfile::tempdir().expect("temp dir");
        let runtime = Arc::new(LocalRuntime::new(dir.path()).expect("local runtime"));
        let mut config = EngineConfig::new("bench");
        config.stop_grace = Duration::from_secs(2);
        let engine = Engine::new(store.clone(), runtime.clone(), config);
        let router = Router::bind(RouterConfig::new("127.0.0.1:0".parse().expect("address")))
            .await
            .expect("bind the router");
        let address = router.local_addr().expect("router address");
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
            app,
            router: address,
            store,
            runtime,
            engine,
            http: reqwest::Client::builder()
                .no_proxy()
                .build()
                .expect("http client"),
            stop_router: Some(stop_router),
            dir,
            _db: db,
        }
    }

    /// Where the bench may write its files; removed with the rig.
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    /// The `Host` of the `web` service.
    pub fn host(&self) -> String {
        format!("web.{}.localhost", self.app)
    }

    /// Runs `f` on the store off the runtime's threads, as the engine does:
    /// the router shares them, and a write (with its fsync) would hold one.
    async fn on_store<T: Send + 'static>(&self, f: impl FnOnce(&Store) -> T + Send + 'static) -> T {
        let store = self.store.clone();
        tokio::task::spawn_blocking(move || f(&store))
            .await
            .expect("a store call")
    }

    /// A release of one `web` service: the test app with `flags`, `count`
    /// instances, health-checked every second.
    pub async fn release(&self, flags: &str, count: u32) -> ReleaseId {
        let build = NewBuild {
            manifest: super::testapp::manifest(flags, count),
            git: None,
            description: None,
        };
        let app = self.app.clone();
        self.on_store(move |store| store.create_build(&app, &build, "bench"))
            .await
            .expect("build")
            .1
            .id
    }

    /// Promotes `release` and drives its deployment to its end: how it
    /// ended and how long that took.
    pub async fn deploy(&self, release: &ReleaseId) -> (DeploymentStatus, Duration) {
        let started = Instant::now();
        let (app, release) = (self.app.clone(), release.clone());
        let (_, d) = self
            .on_store(move |store| {
                store.promote(&app, &release, &PromoteOptions::default(), "bench")
            })
            .await
            .expect("promote");
        self.engine.drive(&d.id).await.expect("drive");
        let took = started.elapsed();
        let (app, id) = (self.app.clone(), d.id.clone());
        let status = self
            .on_store(move |store| store.get_deployment(&app, &id))
            .await
            .expect("deployment")
            .status;
        (status, took)
    }

    /// Waits until `/` through the router answers with `release`.
    pub async fn serves(&self, release: &ReleaseId) {
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let answer = self
                .http
                .get(format!("http://{}/", self.router))
                .header("host", self.host())
                .send()
                .await;
            if let Ok(answer) = answer {
                let ok = answer.status() == 200;
                if ok && answer.text().await.is_ok_and(|b| b == release.as_str()) {
                    return;
                }
            }
            assert!(
                Instant::now() < deadline,
                "the router does not serve {release} after 10 s"
            );
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
    }

    /// The ports of the app's running instances.
    pub async fn ports(&self) -> Vec<u16> {
        self.runtime
            .instances(&self.app)
            .await
            .expect("instances")
            .iter()
            .filter(|i| !i.stopping)
            .filter_map(|i| i.port)
            .collect()
    }
}
