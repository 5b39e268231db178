//! What every engine-level test of the Kubernetes runtime starts from: the
//! app `shop` in a fresh SQLite database, the API stand-in, and
//! `Engine<KubeRuntime>` over both; builds, promotions and drives as the
//! product makes them, and what the cluster and the store hold afterwards.

use crate::support::{app, Kit};
use serde_json::{json, Value};
use slipway_core::domain::{DeploymentId, Manifest, ReleaseId};
use slipway_core::events::EventKind;
use slipway_core::store::{Backend, Deployment, NewBuild, PromoteOptions, Store};
use slipway_core::testing::TestDatabase;
use slipway_worker::rollout::{Engine, EngineConfig};
use slipway_worker::runtime::kubernetes::{KubeConfig, KubeRuntime};
use std::sync::Arc;
use std::time::Duration;

pub const GOOD: &str = "ghcr.io/acme/shop:1";
pub const BAD: &str = "ghcr.io/acme/shop:broken";

/// The app `shop` in a fresh database, an engine on the Kubernetes runtime.
pub struct Stage {
    pub kit: Kit,
    pub store: Store,
    pub engine: Arc<Engine<KubeRuntime>>,
    _db: TestDatabase,
}

/// The engine settings of `owner` in these tests: short enough to watch a
/// lease lapse, long enough for a busy machine.
pub fn config(owner: &str, lease_ttl: Duration) -> EngineConfig {
    let mut config = EngineConfig::new(owner);
    config.lease_ttl = lease_ttl;
    config.stop_grace = Duration::from_secs(2);
    config.rollback_timeout = Duration::from_secs(20);
    config
}

impl Stage {
    /// The stage with the engine `w1` and a 5 s lease.
    pub async fn start() -> Stage {
        Stage::with(config("w1", Duration::from_secs(5))).await
    }

    pub async fn with(config: EngineConfig) -> Stage {
        let kit = Kit::start().await;
        let db = TestDatabase::new(Backend::Sqlite);
        let store = db.store();
        store.create_app(&app(), None, "tester").expect("the app");
        let engine = Engine::new(store.clone(), Arc::new(kit.runtime.clone()), config);
        Stage {
            kit,
            store,
            engine: Arc::new(engine),
            _db: db,
        }
    }

    /// Another worker's engine on the same database and cluster, with its
    /// own API client.
    pub async fn other_engine(&self, config: EngineConfig) -> Engine<KubeRuntime> {
        let client = self.kit.cluster.client().await;
        let runtime = KubeRuntime::new(client, KubeConfig::default());
        Engine::new(self.store.clone(), Arc::new(runtime), config)
    }

    /// A build of these services: its release.
    pub fn release(&self, services: Value) -> ReleaseId {
        let build = NewBuild {
            manifest: Manifest::from_json(&json!({ "services": services })).unwrap(),
            git: None,
            description: None,
        };
        self.store
            .create_build(&app(), &build, "tester")
            .expect("the build")
            .1
            .id
    }

    /// Promotes `release`: its pending deployment, not driven yet.
    pub fn promote(&self, release: &ReleaseId, options: &PromoteOptions) -> Deployment {
        self.store
            .promote(&app(), release, options, "tester")
            .expect("promoted")
            .1
    }

    /// Drives `deployment` to its end: the deployment as it ended.
    pub async fn drive(&self, deployment: Deployment) -> Deployment {
        self.engine.drive(&deployment.id).await.expect("driven");
        self.deployment(&deployment.id)
    }

    /// Promotes `release` with the default options and drives it.
    pub async fn deploy(&self, release: &ReleaseId) -> Deployment {
        self.deploy_with(release, &PromoteOptions::default()).await
    }

    pub async fn deploy_with(&self, release: &ReleaseId, options: &PromoteOptions) -> Deployment {
        let deployment = self.promote(release, options);
        self.drive(deployment).await
    }

    /// The deployment as the store has it now.
    pub fn deployment(&self, id: &DeploymentId) -> Deployment {
        self.store.get_deployment_by_id(id).expect("the deployment")
    }

    /// The app's active release.
    pub fn active(&self) -> Option<ReleaseId> {
        self.store.get_app(&app()).expect("the app").active_release
    }

    /// The kinds of the deployment's events, oldest first.
    pub fn event_kinds(&self, id: &DeploymentId) -> Vec<EventKind> {
        self.events(id).into_iter().map(|(kind, _)| kind).collect()
    }

    /// The data of the deployment's `deployment.progress` events.
    pub fn progress(&self, id: &DeploymentId) -> Vec<Value> {
        self.events(id)
            .into_iter()
            .filter(|(kind, _)| *kind == EventKind::DeploymentProgress)
            .map(|(_, data)| data)
            .collect()
    }

    fn events(&self, id: &DeploymentId) -> Vec<(EventKind, Value)> {
        self.store
            .list_deployment_events(id, 0)
            .expect("the deployment's events")
            .into_iter()
            .map(|event| (event.kind, event.data))
            .collect()
    }

    /// The release label of each Deployment, by name.
    pub fn deployed(&self) -> Vec<(String, String)> {
        self.labelled("Deployment")
    }

    /// The release label of each Service, by name.
    pub fn services(&self) -> Vec<(String, String)> {
        self.labelled("Service")
    }

    fn labelled(&self, kind: &str) -> Vec<(String, String)> {
        self.kit
            .objects(kind)
            .into_iter()
            .map(|(name, object)| (name, release_of(&object)))
            .collect()
    }

    /// The names of the pods of `release` whose Ready condition is true.
    pub fn ready_pods(&self, release: &ReleaseId) -> Vec<String> {
        self.kit
            .objects("Pod")
            .into_iter()
            .filter(|(_, pod)| release_of(pod) == release.as_str() && is_ready(pod))
            .map(|(name, _)| name)
            .collect()
    }

    /// The `metadata.generation` of the Deployment `name`.
    pub fn generation(&self, name: &str) -> i64 {
        let deployment = &self.kit.objects("Deployment")[name];
        deployment["metadata"]["generation"]
            .as_i64()
            .unwrap_or_else(|| panic!("no generation: {deployment}"))
    }
}

/// The object's `slipway.dev/release` label.
pub fn release_of(object: &Value) -> String {
    object["metadata"]["labels"]["slipway.dev/release"]
        .as_str()
        .unwrap_or_default()
        .to_owned()
}

fn is_ready(pod: &Value) -> bool {
    pod["status"]["conditions"]
        .as_array()
        .is_some_and(|conditions| {
            conditions
                .iter()
                .any(|c| c["type"] == "Ready" && c["status"] == "True")
        })
}

/// `web` (a port, 2 pods) and `worker` (1 pod), both running `image`.
pub fn web_and_worker(image: &str) -> Value {
    json!({
        "web": { "image": image, "port": 8000, "scale": { "count": 2 } },
        "worker": { "image": image, "scale": { "count": 1 } }
    })
}

/// `(name, release)` pairs as [`Stage::deployed`] answers them.
pub fn pairs(items: &[(&str, &ReleaseId)]) -> Vec<(String, String)> {
    items
        .iter()
        .map(|(name, release)| ((*name).to_owned(), release.to_string()))
        .collect()
}
