//! A stand-in for the Kubernetes API server, for tests of the Kubernetes
//! runtime: a real HTTP server on `127.0.0.1` that a real `kube::Client`
//! talks to through a kubeconfig file, plus a scripted Deployment
//! controller that makes ReplicaSets and Pods and moves them through the
//! states a test picks per container image ([`Behaviour`]).
//!
//! It serves namespaces, secrets, configmaps, services, pods (and their
//! `log`), Deployments and ReplicaSets: get, list, create, server-side
//! apply, JSON merge patch, replace, delete, deletecollection and watch,
//! with label selectors (`k=v`, `k!=v`, `k`, `!k`, `in`, `notin`) and field
//! selectors over dotted paths. Every change gets the next value of one
//! resourceVersion counter, and the whole history is kept, so a watch from
//! any version is answered (never 410 Gone). Deleting a namespace deletes
//! what is in it; deleting an object deletes what its `ownerReferences`
//! tie to it, at once. Every object gets a uid, a creationTimestamp, a
//! `generation` (bumped, for every kind, when `spec` changes) and
//! `managedFields` naming the field manager of each write. A write that
//! names a `metadata.resourceVersion` other than the stored one is a 409
//! Conflict; a write that changes nothing is no change (no new version).
//!
//! The controller rolls a Deployment out as the real one
//! does, respecting `maxSurge` and `maxUnavailable` (`Recreate` too), and
//! keeps its status and its `Available` and `Progressing` conditions,
//! including `ProgressDeadlineExceeded`; like the real API it leaves zero
//! counts out of a status.
//!
//! What it does not model:
//! - field-level ownership of server-side apply and its conflicts: an apply
//!   replaces the object's labels, annotations and every field but `status`
//!   (the controller's `deployment.kubernetes.io/` annotations are kept);
//!   `force` and `fieldManager` are only recorded (`managedFields`);
//! - admission, validation (beyond a name and a known kind) and defaulting
//!   beyond: a Deployment's replicas, strategy, progress deadline and
//!   history limit; a Secret's type and `stringData`; a Service's type and
//!   cluster IP; a namespace's phase and name label;
//! - RBAC and authentication: every request is allowed;
//! - scheduling, nodes, kubelets and probes: a pod's life is scripted by its
//!   images, `minReadySeconds` is ignored (ready is available), a paused
//!   Deployment still rolls, and graceful deletion does not exist (a
//!   deleted pod is gone at once, a namespace has no `Terminating` phase);
//! - strategic merge patch's list merging (it is a JSON merge patch), JSON
//!   patch (415), `dryRun`, subresources other than `log` (no `status`,
//!   `scale`, `exec`), following logs (`follow` returns what there is);
//! - pagination (`limit` and `continue` are ignored: a list is whole),
//!   `resourceVersionMatch`, protobuf, tables, and every kind not listed.

mod apply;
mod controller;
mod deployment_status;
mod logs;
mod meta;
mod pods;
mod resources;
mod rollout;
mod selector;
mod server;
mod store;
mod watch;

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};
use tokio::task::JoinHandle;

/// How the pods of a container image behave in the stand-in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Behaviour {
    /// Pending (`ContainerCreating`) for `after`, then Running and ready.
    Ready { after: Duration },
    /// Runs briefly, exits with code 1, waits in `CrashLoopBackOff`, and
    /// again, about every 100 ms, counting restarts; never ready.
    CrashLoop,
    /// Pending in `ErrImagePull`, then `ImagePullBackOff` (image not found).
    PullFails,
    /// Running, never ready.
    NeverReady,
    /// The stand-in's first pod of the image is evicted (phase Failed,
    /// reason Evicted) and replaced; later ones become ready.
    EvictedOnce,
    /// Pending, `PodScheduled=False` with reason `Unschedulable`.
    Unschedulable,
}

/// What tests set and read about the pods' script.
#[derive(Debug)]
struct Script {
    behaviours: HashMap<String, Behaviour>,
    ready_after: Duration,
    first_crash_loop_at: Option<Instant>,
}

/// The state the server, the controller and the test share.
#[derive(Debug)]
pub struct Shared {
    store: Mutex<store::Store>,
    logs: Mutex<logs::Logs>,
    requests: Mutex<Vec<(String, String)>>,
    script: Mutex<Script>,
    paused: AtomicBool,
}

/// Locks `mutex`, even when a panicking test thread poisoned it.
fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// Five random lowercase letters, as generated names end.
fn random_suffix() -> String {
    (0..5)
        .map(|_| char::from(b'a' + rand::random_range(0..26u8)))
        .collect()
}

/// A running stand-in; dropping it stops the server and the controller.
#[derive(Debug)]
pub struct StandIn {
    url: String,
    kubeconfig: PathBuf,
    _dir: tempfile::TempDir,
    shared: Arc<Shared>,
    server: JoinHandle<()>,
    controller: JoinHandle<()>,
}

impl StandIn {
    /// Starts the server on `127.0.0.1:0` and the controller.
    pub async fn start() -> StandIn {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("a port for the stand-in");
        let url = format!(
            "http://{}",
            listener.local_addr().expect("the stand-in's address")
        );
        let dir = tempfile::tempdir().expect("a directory for the kubeconfig");
        let kubeconfig = dir.path().join("kubeconfig");
        std::fs::write(&kubeconfig, kubeconfig_text(&url)).expect("the kubeconfig written");
        let shared = Arc::new(Shared {
            store: Mutex::default(),
            logs: Mutex::default(),
            requests: Mutex::default(),
            script: Mutex::new(Script {
                behaviours: HashMap::new(),
                ready_after: Duration::from_millis(200),
                first_crash_loop_at: None,
            }),
            paused: AtomicBool::new(false),
        });
        let server = tokio::spawn(server::serve(listener, shared.clone()));
        let controller = tokio::spawn(controller::run(shared.clone()));
        StandIn {
            url,
            kubeconfig,
            _dir: dir,
            shared,
            server,
            controller,
        }
    }

    /// `http://127.0.0.1:<port>`.
    pub fn url(&self) -> String {
        self.url.clone()
    }

    /// A kubeconfig file whose current context is the stand-in, without auth.
    pub fn kubeconfig(&self) -> &Path {
        &self.kubeconfig
    }

    /// A `kube::Client` read from [`Self::kubeconfig`], as the runtime makes one.
    pub async fn client(&self) -> kube::Client {
        let kubeconfig = kube::config::Kubeconfig::read_from(&self.kubeconfig)
            .expect("the stand-in's kubeconfig");
        let options = kube::config::KubeConfigOptions::default();
        let config = kube::Config::from_custom_kubeconfig(kubeconfig, &options)
            .await
            .expect("a client config from the kubeconfig");
        kube::Client::try_from(config).expect("a kube client")
    }

    /// Makes the pods created from now on with a container of `image` behave so.
    pub fn behave(&self, image: &str, behaviour: Behaviour) {
        lock(&self.shared.script)
            .behaviours
            .insert(image.to_owned(), behaviour);
    }

    /// How long a pod of an image without a behaviour takes to be ready (200 ms at first).
    pub fn set_ready_after(&self, delay: Duration) {
        lock(&self.shared.script).ready_after = delay;
    }

    /// The objects of `kind` (`"Deployment"`), in `namespace` or everywhere.
    pub fn objects(&self, kind: &str, namespace: Option<&str>) -> Vec<serde_json::Value> {
        let all = (
            selector::LabelSelector::default(),
            selector::FieldSelector::default(),
        );
        lock(&self.shared.store).list(kind, namespace, &all.0, &all.1)
    }

    /// When the first pod of this stand-in went into `CrashLoopBackOff`.
    pub fn first_crash_loop_at(&self) -> Option<Instant> {
        lock(&self.shared.script).first_crash_loop_at
    }

    /// Every request so far, as `(method, path and query)`.
    pub fn requests(&self) -> Vec<(String, String)> {
        lock(&self.shared.requests).clone()
    }

    /// Freezes (`true`) or resumes the controller: no rollout step, no pod
    /// change, while the API keeps answering. Time does not stop: on resume,
    /// pods take the step their age calls for, and a progress deadline may
    /// have passed meanwhile.
    pub fn pause_controller(&self, paused: bool) {
        self.shared.paused.store(paused, Ordering::SeqCst);
    }
}

impl Drop for StandIn {
    fn drop(&mut self) {
        self.server.abort();
        self.controller.abort();
    }
}

fn kubeconfig_text(url: &str) -> String {
    format!(
        "apiVersion: v1\nkind: Config\ncurrent-context: standin\n\
         clusters:\n- name: standin\n  cluster:\n    server: {url}\n\
         users:\n- name: standin\n  user: {{}}\n\
         contexts:\n- name: standin\n  context:\n    cluster: standin\n    user: standin\n    namespace: default\n"
    )
}
