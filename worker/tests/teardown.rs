//! Tearing down deleted apps against real processes and real databases:
//! instances started on the local runtime are stopped after `delete_app`,
//! the rows go once none is left (and not before the settle time), other
//! apps are untouched, and a rollout cut short by the deletion stops.

mod support;

use slipway_core::domain::{AppName, DeploymentStatus, Env, ReleaseId, ServiceName};
use slipway_core::store::{Backend, NewBuild, PromoteOptions, Store, StoreError, APP_DELETED};
use slipway_core::testing::{wait_until, TestDatabase};
use slipway_worker::rollout::{Engine, EngineConfig};
use slipway_worker::runtime::local::{InstanceSpec, LocalRuntime};
use slipway_worker::runtime::Runtime;
use slipway_worker::teardown::{self, Pass};
use std::sync::Arc;
use std::time::Duration;

const GRACE: Duration = Duration::from_secs(2);

/// A database, a local runtime in a temp dir, and the apps `shop` (with a
/// build) and `other`. Dropping it stops whatever a test left running.
struct Rig {
    store: Store,
    shop: AppName,
    other: AppName,
    runtime: Arc<LocalRuntime>,
    dir: tempfile::TempDir,
    _db: TestDatabase,
}

impl Drop for Rig {
    fn drop(&mut self) {
        slipway_worker::testing::stop_everything_in(self.dir.path());
    }
}

fn rig(backend: Backend) -> Rig {
    let db = TestDatabase::new(backend);
    let store = db.store();
    let (shop, other) = (name("shop"), name("other"));
    for app in [&shop, &other] {
        store.create_app(app, None, "tester").unwrap();
    }
    let dir = tempfile::tempdir().unwrap();
    let runtime = Arc::new(LocalRuntime::new(dir.path()).unwrap());
    Rig {
        store,
        shop,
        other,
        runtime,
        dir,
        _db: db,
    }
}

fn name(s: &str) -> AppName {
    AppName::parse(s).unwrap()
}

impl Rig {
    fn release(&self, flags: &str, count: u32) -> ReleaseId {
        let build = NewBuild {
            manifest: support::testapp_manifest(flags, count),
            git: None,
            description: None,
        };
        let (_, release) = self.store.create_build(&self.shop, &build, "t").unwrap();
        release.id
    }

    /// Starts `sleep` as an instance of `app` straight on the runtime.
    async fn start(&self, app: &AppName, release: &ReleaseId) -> i32 {
        let spec = InstanceSpec {
            app: app.clone(),
            service: ServiceName::parse("web").unwrap(),
            release: release.clone(),
            command: Some("exec sleep 300".into()),
            port: None,
            env: Env::empty(),
        };
        let instance = self.runtime.start(&spec).await.unwrap();
        self.pid(&instance.id)
    }

    fn pid(&self, instance: &str) -> i32 {
        let path = self.dir.path().join(format!("instances/{instance}.json"));
        let record: serde_json::Value =
            serde_json::from_slice(&std::fs::read(path).unwrap()).unwrap();
        i32::try_from(record["pid"].as_i64().unwrap()).unwrap()
    }

    async fn pass(&self, settle: Duration) -> Pass {
        teardown::once(&self.store, self.runtime.as_ref(), GRACE, settle)
            .await
            .unwrap()
    }
}

/// Running and not a zombie.
fn alive(pid: i32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat")).is_ok_and(|stat| {
        let state = stat.rsplit_once(')').map(|(_, rest)| rest.trim_start());
        !matches!(state.and_then(|s| s.chars().next()), Some('Z' | 'X'))
    })
}

async fn deleted_apps_are_stopped_then_removed(backend: Backend) {
    let rig = rig(backend);
    let release = rig.release("", 1);
    let shop = [
        rig.start(&rig.shop, &release).await,
        rig.start(&rig.shop, &release).await,
    ];
    let other = rig.start(&rig.other, &release).await;
    assert!(shop.iter().chain([&other]).all(|pid| alive(*pid)));

    assert_eq!(
        rig.pass(Duration::ZERO).await,
        Pass::default(),
        "nothing deleted yet"
    );
    rig.store.delete_app(&rig.shop, "tester").unwrap();

    // Deleted a moment ago: instances stop, the rows (and the name) wait.
    let pass = rig.pass(Duration::from_secs(60)).await;
    assert_eq!(
        (pass.stopped, pass.waiting.clone()),
        (2, vec![rig.shop.clone()]),
        "{pass:?}"
    );
    assert!(pass.purged.is_empty());
    assert!(shop.iter().all(|pid| !alive(*pid)), "stopped: {shop:?}");
    assert!(rig.runtime.instances(&rig.shop).await.unwrap().is_empty());
    assert!(matches!(
        rig.store.create_app(&rig.shop, None, "t"),
        Err(StoreError::Conflict(_))
    ));
    let kept = |what: &str, app: &AppName| rig.dir.path().join(what).join(app.as_str()).exists();
    assert!(kept("apps", &rig.shop) && kept("logs", &rig.shop));

    let pass = rig.pass(Duration::ZERO).await;
    assert_eq!(pass.purged, vec![rig.shop.clone()], "{pass:?}");
    // What the runtime kept of it went too: a new `shop` inherits no files.
    assert!(!kept("apps", &rig.shop) && !kept("logs", &rig.shop));
    assert!(kept("apps", &rig.other), "another app keeps its own");
    assert!(rig.store.list_tombstones().unwrap().is_empty());
    assert_eq!(rig.pass(Duration::ZERO).await, Pass::default(), "once");
    // The rows are gone: a new `shop` starts empty.
    rig.store.create_app(&rig.shop, None, "t").unwrap();
    assert!(rig
        .store
        .list_releases(&rig.shop, 10, None)
        .unwrap()
        .is_empty());
    assert!(rig
        .store
        .list_builds(&rig.shop, 10, None)
        .unwrap()
        .is_empty());

    // Another app's instance never was touched.
    assert!(alive(other));
    assert_eq!(rig.runtime.instances(&rig.other).await.unwrap().len(), 1);
}

async fn a_rollout_of_a_deleted_app_stops_and_is_torn_down(backend: Backend) {
    let rig = rig(backend);
    // Never healthy within the test: the rollout is still under way when the
    // app is deleted.
    let release = rig.release("--healthy-after-ms 600000", 2);
    let (_, deployment) = rig
        .store
        .promote(&rig.shop, &release, &PromoteOptions::default(), "t")
        .unwrap();
    let mut config = EngineConfig::new("w1");
    config.lease_ttl = Duration::from_secs(2);
    config.stop_grace = GRACE;
    let engine = Engine::new(rig.store.clone(), rig.runtime.clone(), config);
    let id = deployment.id.clone();
    let drive = tokio::spawn(async move { engine.drive(&id).await });

    let instances = || async { rig.runtime.instances(&rig.shop).await.unwrap() };
    wait_until("the rollout to start an instance", instances, |i| {
        !i.is_empty()
    })
    .await;
    rig.store.delete_app(&rig.shop, "tester").unwrap();

    // The drive notices it lost the deployment and stops within its poll.
    let drove = tokio::time::timeout(Duration::from_secs(5), drive).await;
    let drove = drove.expect("the drive kept going after the deletion");
    assert!(drove.unwrap().is_ok());
    let ended = rig.store.get_deployment_by_id(&deployment.id).unwrap();
    assert_eq!(ended.status, DeploymentStatus::Failed);
    assert_eq!(ended.reason.as_deref(), Some(APP_DELETED));

    let pass = rig.pass(Duration::ZERO).await;
    assert_eq!(pass.purged, vec![rig.shop.clone()], "{pass:?}");
    assert!(pass.stopped >= 1, "{pass:?}");
    assert!(rig.runtime.instances(&rig.shop).await.unwrap().is_empty());
    assert!(
        rig.store.get_deployment_by_id(&deployment.id).is_err(),
        "rows removed"
    );
}

slipway_core::on_both_backends_async!(
    flavor = "multi_thread";
    deleted_apps_are_stopped_then_removed,
    a_rollout_of_a_deleted_app_stops_and_is_torn_down,
);
