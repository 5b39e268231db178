//! The rollout engine on the Kubernetes runtime: `Engine::drive` over a real
//! database (SQLite) and the API stand-in. A release rolls out, a broken
//! one is rolled back with the pod and the reason recorded, a broken first
//! release is retired, and a rollback brings back a service its successor
//! dropped.

use crate::support::{app, Kit};
use serde_json::{json, Value};
use slipway_core::domain::{DeploymentStatus, Manifest, ReleaseId};
use slipway_core::store::{Backend, Deployment, NewBuild, PromoteOptions, Store};
use slipway_core::testing::TestDatabase;
use slipway_worker::rollout::{Engine, EngineConfig};
use slipway_worker::runtime::kubernetes::KubeRuntime;
use slipway_worker::testing::kube::Behaviour;
use std::sync::Arc;
use std::time::Duration;

const GOOD: &str = "ghcr.io/acme/shop:1";
const BAD: &str = "ghcr.io/acme/shop:broken";

/// The app `shop` in a fresh database, an engine on the Kubernetes runtime.
struct Stage {
    kit: Kit,
    store: Store,
    engine: Engine<KubeRuntime>,
    _db: TestDatabase,
}

impl Stage {
    async fn start() -> Stage {
        let kit = Kit::start().await;
        let db = TestDatabase::new(Backend::Sqlite);
        let store = db.store();
        store.create_app(&app(), None, "tester").expect("the app");
        let mut config = EngineConfig::new("w1");
        config.lease_ttl = Duration::from_secs(5);
        config.stop_grace = Duration::from_secs(2);
        config.rollback_timeout = Duration::from_secs(20);
        let engine = Engine::new(store.clone(), Arc::new(kit.runtime.clone()), config);
        Stage {
            kit,
            store,
            engine,
            _db: db,
        }
    }

    /// A build of these services: its release.
    fn release(&self, services: Value) -> ReleaseId {
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

    /// Drives `deployment` to its end: the deployment as it ended.
    async fn drive(&self, deployment: Deployment) -> Deployment {
        self.engine.drive(&deployment.id).await.expect("driven");
        self.store
            .get_deployment(&app(), &deployment.id)
            .expect("the deployment")
    }

    async fn deploy(&self, release: &ReleaseId) -> Deployment {
        let (_, deployment) = self
            .store
            .promote(&app(), release, &PromoteOptions::default(), "tester")
            .expect("promoted");
        self.drive(deployment).await
    }

    /// The release label of each Deployment, by name.
    fn deployed(&self) -> Vec<(String, String)> {
        self.kit
            .objects("Deployment")
            .into_iter()
            .map(|(name, d)| {
                let release = d["metadata"]["labels"]["slipway.dev/release"].clone();
                (name, release.as_str().unwrap_or_default().to_owned())
            })
            .collect()
    }
}

fn web_and_worker(image: &str) -> Value {
    json!({
        "web": { "image": image, "port": 8000, "scale": { "count": 2 } },
        "worker": { "image": image, "scale": { "count": 1 } }
    })
}

fn pairs(items: &[(&str, &ReleaseId)]) -> Vec<(String, String)> {
    items
        .iter()
        .map(|(name, release)| ((*name).to_owned(), release.to_string()))
        .collect()
}

#[tokio::test]
async fn a_crash_looping_release_is_rolled_back_naming_the_pod() {
    let stage = Stage::start().await;
    let first = stage.release(web_and_worker(GOOD));
    let deployed = stage.deploy(&first).await;
    assert_eq!(deployed.status, DeploymentStatus::Succeeded, "{deployed:?}");
    assert_eq!(
        stage.deployed(),
        pairs(&[("web", &first), ("worker", &first)])
    );

    stage.kit.cluster.behave(BAD, Behaviour::CrashLoop);
    let second = stage.release(web_and_worker(BAD));
    let rolled_back = stage.deploy(&second).await;
    assert_eq!(
        rolled_back.status,
        DeploymentStatus::RolledBack,
        "{rolled_back:?}"
    );
    let reason = rolled_back.reason.expect("a reason");
    assert!(reason.starts_with("web pod web-"), "{reason}");
    assert!(
        reason.ends_with("is in CrashLoopBackOff (last exit code 1)"),
        "{reason}"
    );
    assert_eq!(
        stage.deployed(),
        pairs(&[("web", &first), ("worker", &first)])
    );
    let app = stage.store.get_app(&app()).expect("the app");
    assert_eq!(app.active_release.as_ref(), Some(&first), "{app:?}");
}

#[tokio::test]
async fn a_first_release_that_cannot_pull_its_image_fails_and_is_retired() {
    let stage = Stage::start().await;
    stage.kit.cluster.behave(BAD, Behaviour::PullFails);
    let release = stage.release(web_and_worker(BAD));
    let failed = stage.deploy(&release).await;
    assert_eq!(failed.status, DeploymentStatus::Failed, "{failed:?}");
    let reason = failed.reason.expect("a reason");
    assert!(
        reason.contains(&format!("cannot pull image {BAD}")),
        "{reason}"
    );
    assert!(reason.contains("no previous release"), "{reason}");
    assert!(
        stage.deployed().is_empty(),
        "retired: {:?}",
        stage.deployed()
    );
    assert!(stage.kit.names("Service").is_empty());
}

#[tokio::test]
async fn rolling_back_brings_back_a_service_the_next_release_dropped() {
    let stage = Stage::start().await;
    let first = stage.release(web_and_worker(GOOD));
    assert_eq!(
        stage.deploy(&first).await.status,
        DeploymentStatus::Succeeded
    );
    let second = stage.release(json!({
        "web": { "image": "ghcr.io/acme/shop:2", "port": 8000, "scale": { "count": 2 } }
    }));
    assert_eq!(
        stage.deploy(&second).await.status,
        DeploymentStatus::Succeeded
    );
    assert_eq!(stage.deployed(), pairs(&[("web", &second)]));

    let (back, deployment) = stage
        .store
        .rollback(&app(), &first, &PromoteOptions::default(), "tester")
        .expect("a rollback release");
    let done = stage.drive(deployment).await;
    assert_eq!(done.status, DeploymentStatus::Succeeded, "{done:?}");
    assert_eq!(
        stage.deployed(),
        pairs(&[("web", &back.id), ("worker", &back.id)])
    );
    let worker = &stage.kit.objects("Deployment")["worker"];
    assert_eq!(worker["status"]["availableReplicas"], 1, "{worker}");
}
