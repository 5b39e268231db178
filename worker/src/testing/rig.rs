//! [`Rig`]: a fresh database with one app, the local runtime in a temporary
//! dir, an engine driving deployments on it, and optionally the router
//! serving from the engine's table. Every instance is stopped when the rig
//! is dropped, also when a test fails.

use crate::rollout::{Engine, EngineConfig};
use crate::router::{Router, RouterConfig};
use crate::runtime::local::LocalRuntime;
use crate::runtime::{Instance, Runtime};
use slipway_core::domain::{AppName, DeploymentStatus, Manifest, ReleaseId};
use slipway_core::store::{Backend, Deployment, NewBuild, PromoteOptions, Store};
use slipway_core::testing::{wait_until, TestDatabase};
use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::oneshot;

/// How a [`Rig`] is set up before [`RigBuilder::start`].
pub struct RigBuilder {
    backend: Backend,
    app: AppName,
    engine: EngineConfig,
    router: Option<RouterConfig>,
}

impl RigBuilder {
    /// Tunes the engine: owner `w1`, a two-second stop grace, else the defaults.
    pub fn engine(mut self, tune: impl FnOnce(&mut EngineConfig)) -> RigBuilder {
        tune(&mut self.engine);
        self
    }

    /// Puts the router in front, on a free port of 127.0.0.1, with `tune`
    /// applied to its defaults.
    pub fn router(mut self, tune: impl FnOnce(&mut RouterConfig)) -> RigBuilder {
        let listen = SocketAddr::from(([127, 0, 0, 1], 0));
        let mut config = RouterConfig::new(listen);
        tune(&mut config);
        self.router = Some(config);
        self
    }

    /// Creates the database, the app, the runtime and the engine, and
    /// starts the router if one was asked for.
    pub async fn start(self) -> Rig {
        let db = TestDatabase::new(self.backend);
        let store = db.store();
        store
            .create_app(&self.app, None, "tester")
            .expect("create the app");
        let dir = tempfile::tempdir().expect("a temporary dir");
        let runtime = Arc::new(LocalRuntime::new(dir.path()).expect("the local runtime"));
        let engine = Arc::new(Engine::new(store.clone(), runtime.clone(), self.engine));
        let mut rig = Rig {
            store,
            app: self.app,
            runtime,
            engine,
            http: reqwest::Client::builder()
                .no_proxy()
                .build()
                .expect("an HTTP client"),
            router: None,
            dir,
            db,
        };
        if let Some(config) = self.router {
            rig.router = Some(rig.start_router(config).await);
        }
        rig
    }
}

/// A running rig; see the module doc.
pub struct Rig {
    pub store: Store,
    pub app: AppName,
    pub runtime: Arc<LocalRuntime>,
    pub engine: Arc<Engine<LocalRuntime>>,
    /// A client that never goes through a proxy.
    pub http: reqwest::Client,
    router: Option<(SocketAddr, oneshot::Sender<()>)>,
    dir: tempfile::TempDir,
    db: TestDatabase,
}

impl Drop for Rig {
    fn drop(&mut self) {
        if let Some((_, stop)) = self.router.take() {
            let _ = stop.send(());
        }
        super::stop_everything_in(self.dir.path());
    }
}

impl Rig {
    /// A rig of `app` on `backend`, without a router until asked for.
    pub fn builder(backend: Backend, app: AppName) -> RigBuilder {
        let mut engine = EngineConfig::new("w1");
        engine.stop_grace = Duration::from_secs(2);
        RigBuilder {
            backend,
            app,
            engine,
            router: None,
        }
    }

    async fn start_router(&self, config: RouterConfig) -> (SocketAddr, oneshot::Sender<()>) {
        let router = Router::bind(config).await.expect("bind the router");
        let address = router.local_addr().expect("the router's address");
        let (stop, stopped) = oneshot::channel();
        tokio::spawn(router.run(
            self.engine.traffic().clone(),
            self.store.clone(),
            self.runtime.clone(),
            async move {
                let _ = stopped.await;
            },
        ));
        (address, stop)
    }

    pub fn db(&self) -> &TestDatabase {
        &self.db
    }

    /// The runtime's state dir (instance records under `instances/`); also
    /// where a test or bench may write its files. Removed with the rig.
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    /// Runs `f` on the store off the runtime's threads, as the engine does:
    /// the router shares them, and a write (with its fsync) would hold one.
    async fn on_store<T: Send + 'static>(&self, f: impl FnOnce(&Store) -> T + Send + 'static) -> T {
        let store = self.store.clone();
        tokio::task::spawn_blocking(move || f(&store))
            .await
            .expect("a store call")
    }

    /// A build of `manifest`: its release.
    pub async fn release(&self, manifest: Manifest) -> ReleaseId {
        let build = NewBuild {
            manifest,
            git: None,
            description: None,
        };
        let app = self.app.clone();
        self.on_store(move |store| store.create_build(&app, &build, "tester"))
            .await
            .expect("create the build")
            .1
            .id
    }

    /// Promotes `release`: the deployment, not yet driven.
    pub async fn promote(&self, release: &ReleaseId, options: PromoteOptions) -> Deployment {
        let (app, release) = (self.app.clone(), release.clone());
        self.on_store(move |store| store.promote(&app, &release, &options, "tester"))
            .await
            .expect("promote")
            .1
    }

    /// Promotes `release` and drives its deployment to its end: the
    /// deployment as it ended.
    pub async fn deploy(&self, release: &ReleaseId) -> Deployment {
        self.deploy_with(release, PromoteOptions::default()).await
    }

    /// [`Rig::deploy`] with promote `options`.
    pub async fn deploy_with(&self, release: &ReleaseId, options: PromoteOptions) -> Deployment {
        let deployment = self.promote(release, options).await;
        self.engine.drive(&deployment.id).await.expect("drive");
        let (app, id) = (self.app.clone(), deployment.id);
        self.on_store(move |store| store.get_deployment(&app, &id))
            .await
            .expect("the deployment")
    }

    /// A release of `manifest`, rolled out; panics unless it succeeded.
    pub async fn running(&self, manifest: Manifest) -> ReleaseId {
        let release = self.release(manifest).await;
        let deployment = self.deploy(&release).await;
        assert_eq!(
            deployment.status,
            DeploymentStatus::Succeeded,
            "{deployment:?}"
        );
        release
    }

    /// The app's active release.
    pub fn active(&self) -> Option<ReleaseId> {
        self.store
            .get_app(&self.app)
            .expect("the app")
            .active_release
    }

    /// The app's instances, stopping ones included.
    pub async fn instances(&self) -> Vec<Instance> {
        self.runtime
            .instances(&self.app)
            .await
            .expect("the instances")
    }

    /// The ports of the app's instances that are not stopping.
    pub async fn ports(&self) -> Vec<u16> {
        let instances = self.instances().await;
        instances
            .iter()
            .filter(|i| !i.stopping)
            .filter_map(|i| i.port)
            .collect()
    }

    /// The router's address; panics on a rig built without one.
    pub fn router(&self) -> SocketAddr {
        self.router.as_ref().expect("a rig built with a router").0
    }

    /// The `Host` of `service`: `<service>.<app>.localhost`.
    pub fn host(&self, service: &str) -> String {
        format!("{service}.{}.localhost", self.app)
    }

    /// `GET path` through the router with `Host: host`.
    pub async fn get(&self, host: &str, path: &str) -> reqwest::Response {
        self.http
            .get(format!("http://{}{path}", self.router()))
            .header("host", host)
            .send()
            .await
            .expect("the router answers")
    }

    /// Status and body of `GET path` on the `web` service.
    pub async fn web(&self, path: &str) -> (u16, String) {
        let response = self.get(&self.host("web"), path).await;
        let status = response.status().as_u16();
        (status, response.text().await.expect("the body"))
    }

    /// `GET path` on the `web` service in a task of its own: its status and body.
    pub fn spawn_get(&self, path: &str) -> tokio::task::JoinHandle<(u16, String)> {
        let (http, host) = (self.http.clone(), self.host("web"));
        let url = format!("http://{}{path}", self.router());
        tokio::spawn(async move {
            let response = http.get(url).header("host", host).send().await.unwrap();
            (response.status().as_u16(), response.text().await.unwrap())
        })
    }

    /// Waits until the router sends the `web` service's requests for `/`
    /// to `release`.
    pub async fn serves(&self, release: &ReleaseId) {
        let look = || async {
            let response = self
                .http
                .get(format!("http://{}/", self.router()))
                .header("host", self.host("web"))
                .send()
                .await?;
            let status = response.status().as_u16();
            Ok::<_, reqwest::Error>((status, response.text().await?))
        };
        let what = format!("the router to serve {release}");
        let _ = wait_until(
            &what,
            look,
            |answer| matches!(answer, Ok((200, body)) if body == release.as_str()),
        )
        .await;
    }
}
