//! What every Kubernetes runtime test starts from: the API stand-in, a
//! runtime over a real `kube::Client` to it, releases of the app `shop`,
//! and limits with a deadline, a guard a test can cancel, and the progress
//! steps recorded.

use chrono::Utc;
use serde_json::{json, Value};
use slipway_core::domain::{AppName, Env, Manifest, ReleaseId};
use slipway_core::events::Progress;
use slipway_worker::runtime::kubernetes::{KubeConfig, KubeRuntime};
use slipway_worker::runtime::{Failure, Guard, Instance, Limits, Pace, Steps, Target, Traffic};
use slipway_worker::testing::kube::StandIn;
use std::collections::BTreeMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Mutex;
use std::time::Duration;

pub const NAMESPACE: &str = "slipway-shop";
/// A value of the env that must never show outside its Secret.
pub const SECRET_VALUE: &str = "postgres://shop:hunter2@db/shop";

/// The stand-in and a runtime talking to it.
pub struct Kit {
    pub cluster: StandIn,
    pub runtime: KubeRuntime,
}

impl Kit {
    pub async fn start() -> Kit {
        Kit::with(KubeConfig::default()).await
    }

    pub async fn with(config: KubeConfig) -> Kit {
        let cluster = StandIn::start().await;
        cluster.set_ready_after(Duration::from_millis(100));
        let runtime = KubeRuntime::new(cluster.client().await, config);
        Kit { cluster, runtime }
    }

    /// The objects of `kind` in the app's namespace, by name.
    pub fn objects(&self, kind: &str) -> BTreeMap<String, Value> {
        self.cluster
            .objects(kind, Some(NAMESPACE))
            .into_iter()
            .map(|object| (name(&object), object))
            .collect()
    }

    /// The names of the objects of `kind` in the app's namespace.
    pub fn names(&self, kind: &str) -> Vec<String> {
        self.objects(kind).into_keys().collect()
    }
}

pub fn name(object: &Value) -> String {
    object["metadata"]["name"]
        .as_str()
        .unwrap_or_default()
        .to_owned()
}

pub fn app() -> AppName {
    AppName::parse("shop").unwrap()
}

pub fn release(id: &str) -> ReleaseId {
    ReleaseId::parse(id).unwrap()
}

/// A release of `shop` with these services.
pub fn target(release_id: &str, services: Value) -> Target {
    Target {
        app: app(),
        release: release(release_id),
        deployment: None,
        manifest: Manifest::from_json(&json!({ "services": services })).unwrap(),
        env: Env::parse(BTreeMap::from([(
            "DATABASE_URL".to_owned(),
            SECRET_VALUE.to_owned(),
        )]))
        .unwrap(),
        minimum: None,
        maximum: None,
    }
}

/// `web` (a port and a health check, 2 pods) and `worker` (1 pod), both
/// running `image`.
pub fn web_and_worker(release_id: &str, image: &str) -> Target {
    target(
        release_id,
        json!({
            "web": {
                "image": image,
                "port": 8000,
                "health": { "path": "/health", "grace": 1, "interval": 1, "timeout": 1 },
                "scale": { "count": 2 }
            },
            "worker": { "image": image, "command": "bin/worker", "scale": { "count": 1 } }
        }),
    )
}

/// `web` alone.
pub fn web_only(release_id: &str, image: &str) -> Target {
    target(
        release_id,
        json!({ "web": { "image": image, "port": 8000, "scale": { "count": 2 } } }),
    )
}

/// The drive's side of a convergence, as a test plays it.
#[derive(Default)]
pub struct Drive {
    pub cancelled: AtomicBool,
    pub fenced: AtomicBool,
    pub steps: Mutex<Vec<Progress>>,
}

impl Guard for Drive {
    fn fenced(&self) -> bool {
        self.fenced.load(Ordering::SeqCst)
    }
    fn shutting_down(&self) -> bool {
        false
    }
    fn cancelled(&self) -> bool {
        self.cancelled.load(Ordering::SeqCst)
    }
}

impl Steps for Drive {
    fn record(&self, step: Progress) {
        self.steps.lock().unwrap().push(step);
    }
}

impl Drive {
    pub fn steps(&self) -> Vec<Progress> {
        self.steps.lock().unwrap().clone()
    }

    /// Limits ending `within` from now; passing them reads as a deployment
    /// deadline of 600 s (the Deployments' progress deadline).
    pub fn limits(&self, within: Duration) -> Limits<'_> {
        Limits {
            deadline: Utc::now() + chrono::Duration::from_std(within).unwrap(),
            expired: Failure::Deadline { seconds: 600 },
            guard: Some(self),
            honour_cancel: true,
            steps: Some(self),
            pace: Pace {
                tick: Duration::from_millis(50),
                stop_grace: Duration::from_secs(10),
                failure_intervals: 3,
            },
            traffic: &NoTraffic,
        }
    }
}

/// The Kubernetes runtime routes nothing through this process.
pub struct NoTraffic;

impl Traffic for NoTraffic {
    fn announce(&self, _app: &AppName, _manifest: &Manifest) {}
    fn admit(&self, _instance: &Instance) {}
    fn drain<'a>(
        &'a self,
        _instance: &'a Instance,
        _timeout: Duration,
    ) -> Pin<Box<dyn Future<Output = usize> + Send + 'a>> {
        Box::pin(async { 0 })
    }
}

/// Long enough for any rollout of the stand-in that is going to succeed.
pub const ROLLOUT: Duration = Duration::from_secs(20);
