//! Waiting for a release's rollouts: watches (never polls) the app's
//! Deployments, ReplicaSets and Pods, and after every change decides each
//! service's verdict with [`status::verdict`], telling newly ready pods on
//! the way. The limits are checked at least every `KubeConfig::poll`.

use super::cluster::{describe, transient, Says};
use super::mirror::Mirror;
use super::objects::{Objects, ServiceObjects, APP};
use super::status::{self, Verdict};
use super::KubeRuntime;
use crate::runtime::{Failure, Limits, Stop, Target};
use chrono::Utc;
use futures_util::future::FutureExt;
use futures_util::stream::{self, BoxStream, StreamExt};
use k8s_openapi::api::apps::v1::{Deployment, ReplicaSet};
use k8s_openapi::api::core::v1::Pod;
use kube::runtime::watcher::{self, watcher, Event};
use kube::runtime::WatchStreamExt;
use kube::ResourceExt;
use slipway_core::domain::ServiceName;
use slipway_core::events::Progress;
use std::collections::{BTreeMap, BTreeSet};

/// One watch event of one of the three watched kinds.
enum Change {
    Deployment(Event<Deployment>),
    ReplicaSet(Event<ReplicaSet>),
    Pod(Event<Pod>),
}

/// What the watches have told so far.
#[derive(Default)]
struct Watched {
    deployments: Mirror<Deployment>,
    replica_sets: Mirror<ReplicaSet>,
    pods: Mirror<Pod>,
}

impl Watched {
    fn apply(&mut self, change: Change) {
        match change {
            Change::Deployment(event) => self.deployments.apply(event),
            Change::ReplicaSet(event) => self.replica_sets.apply(event),
            Change::Pod(event) => self.pods.apply(event),
        }
    }

    fn listed(&self) -> bool {
        self.deployments.listed() && self.replica_sets.listed() && self.pods.listed()
    }
}

/// One rollout's wait: the ready pods already told, per service.
struct Judge<'a> {
    target: &'a Target,
    objects: &'a Objects,
    /// Each Deployment's generation as applied: an older one in the watch
    /// is the state before this rollout's change.
    generations: &'a BTreeMap<ServiceName, i64>,
    rules: &'a status::Rules,
    told: BTreeMap<ServiceName, BTreeSet<String>>,
}

impl KubeRuntime {
    /// Waits until every service of `objects` has rolled out (`Ok`), one
    /// has failed (`Failure::Rejected`), or the limits stop it.
    pub(super) async fn wait(
        &self,
        target: &Target,
        objects: &Objects,
        generations: &BTreeMap<ServiceName, i64>,
        limits: &Limits<'_>,
    ) -> Result<(), Stop> {
        let namespace = objects.namespace_name();
        let config = watcher::Config::default().labels(&format!("{APP}={}", target.app));
        let watches: Vec<BoxStream<'static, Result<Change, watcher::Error>>> = vec![
            watcher(self.cluster.watched(namespace), config.clone())
                .default_backoff()
                .map(|event| event.map(Change::Deployment))
                .boxed(),
            watcher(self.cluster.watched(namespace), config.clone())
                .default_backoff()
                .map(|event| event.map(Change::ReplicaSet))
                .boxed(),
            watcher(self.cluster.watched(namespace), config)
                .default_backoff()
                .map(|event| event.map(Change::Pod))
                .boxed(),
        ];
        let mut changes = stream::select_all(watches);
        let mut watched = Watched::default();
        let mut judge = Judge {
            target,
            objects,
            generations,
            rules: &self.config.rules,
            told: BTreeMap::new(),
        };
        loop {
            limits.check()?;
            // Time alone can decide too (pods unschedulable for too long),
            // so a quiet watch still leads to a verdict every `poll`.
            if let Ok(next) = tokio::time::timeout(self.config.poll, changes.next()).await {
                take(&mut watched, next, namespace)?;
                // Everything already arrived is taken in before judging.
                while let Some(next) = changes.next().now_or_never() {
                    take(&mut watched, next, namespace)?;
                }
            }
            if watched.listed() && judge.done(&watched, limits)? {
                return Ok(());
            }
        }
    }
}

/// Takes in one item of the watches: a change, or an error that either
/// passes (the watch recovers by itself, with backoff) or will not.
fn take(
    watched: &mut Watched,
    next: Option<Result<Change, watcher::Error>>,
    namespace: &str,
) -> Result<(), Stop> {
    let what = || format!("watching the rollout in {namespace}");
    match next {
        Some(Ok(change)) => watched.apply(change),
        Some(Err(
            watcher::Error::InitialListFailed(error) | watcher::Error::WatchStartFailed(error),
        )) if !transient(&error) => {
            let text = describe(&what(), &error, Says::Message);
            return Err(Stop::Failed(Failure::Runtime(text)));
        }
        Some(Err(error)) => tracing::warn!(%error, "{}; watching again", what()),
        None => {
            let text = format!("{}: the watch ended", what());
            return Err(Stop::Failed(Failure::Runtime(text)));
        }
    }
    Ok(())
}

impl Judge<'_> {
    /// Whether every service has rolled out; fails on the first broken one.
    fn done(&mut self, watched: &Watched, limits: &Limits<'_>) -> Result<bool, Stop> {
        let now = Utc::now();
        let mut done = true;
        for service in &self.objects.services {
            let name = service.name.as_str();
            let current = watched.deployments.items().iter().find(|d| {
                d.name_any() == name
                    && d.metadata.generation.unwrap_or(0) >= self.generations[&service.name]
            });
            let Some(deployment) = current else {
                done = false;
                continue;
            };
            let ready = self.tell_ready(service, deployment, watched, limits);
            let replica_sets = watched.replica_sets.items();
            let pods = watched.pods.items();
            match status::verdict(deployment, replica_sets, pods, now, self.rules) {
                // The Deployment's counts can be ahead of the pods' watch:
                // done once its pods are seen ready too, and told.
                Verdict::Complete if ready >= service.count => {}
                Verdict::Complete => done = false,
                Verdict::Waiting(what) => {
                    tracing::trace!(service = name, what, "rolling out");
                    done = false;
                }
                Verdict::Failed(broken) => {
                    // The limits count first: the Deployments' progress
                    // deadline is the rollout's own, so both can pass within
                    // one poll, and then the reason is the rollout's deadline.
                    limits.check()?;
                    return Err(Stop::Failed(Failure::Rejected {
                        service: service.name.clone(),
                        pod: broken.pod,
                        why: broken.why,
                    }));
                }
            }
        }
        Ok(done)
    }

    /// Tells the pods of the new ReplicaSet that became ready since last
    /// told; answers how many are ready now.
    fn tell_ready(
        &mut self,
        service: &ServiceObjects,
        deployment: &Deployment,
        watched: &Watched,
        limits: &Limits<'_>,
    ) -> usize {
        let Some(new) = status::new_replica_set(deployment, watched.replica_sets.items()) else {
            return 0;
        };
        let ready: BTreeSet<String> = watched
            .pods
            .items()
            .iter()
            .filter(|pod| runs_in(pod, new) && is_ready(pod))
            .map(ResourceExt::name_any)
            .collect();
        let told = self.told.entry(service.name.clone()).or_default();
        let newly: Vec<String> = ready.difference(told).cloned().collect();
        if !newly.is_empty() {
            told.extend(newly.iter().cloned());
            limits.progress(|| Progress::Healthy {
                service: service.name.clone(),
                release: self.target.release.clone(),
                instances: newly,
                healthy: ready.len(),
                count: service.count,
            });
        }
        ready.len()
    }
}

/// The pod belongs to the ReplicaSet: owned by it, or of its template.
fn runs_in(pod: &Pod, replica_set: &ReplicaSet) -> bool {
    const HASH: &str = "pod-template-hash";
    let owned = replica_set
        .metadata
        .uid
        .as_deref()
        .is_some_and(|uid| pod.owner_references().iter().any(|owner| owner.uid == uid));
    let same_template = match (pod.labels().get(HASH), replica_set.labels().get(HASH)) {
        (Some(pod), Some(set)) => pod == set,
        _ => false,
    };
    owned || same_template
}

/// Not being stopped, and its Ready condition is true.
pub(super) fn is_ready(pod: &Pod) -> bool {
    pod.metadata.deletion_timestamp.is_none()
        && pod
            .status
            .as_ref()
            .and_then(|status| status.conditions.as_ref())
            .is_some_and(|conditions| {
                conditions
                    .iter()
                    .any(|c| c.type_ == "Ready" && c.status == "True")
            })
}
