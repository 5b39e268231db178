//! Keeps the router's table current: host names from the store (each app's
//! active release and the one being rolled out; the names are made again
//! only when those change, each release's manifest read once), instances from the
//! runtime, and health checks of its own: a new instance serves once it
//! passes one (after its service's grace), a serving one is checked every
//! `interval` and taken out while it fails, an ejected one is checked at
//! every look until it passes again.

use super::table::{names_of, Backend, Key, State, Table};
use super::RouterConfig;
use crate::runtime::{Instance, Probe, Runtime};
use chrono::{TimeDelta, Utc};
use slipway_core::domain::{Health, Manifest, ReleaseId};
use slipway_core::store::{AppRoutes, Store};
use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::time::Instant;

pub(super) struct Feed<R> {
    table: Arc<Table>,
    store: Store,
    runtime: Arc<R>,
    every: Duration,
    /// When each serving instance is next checked.
    due: HashMap<String, Instant>,
    /// Instances with a check under way.
    checking: Arc<Mutex<HashSet<String>>>,
    /// The routes last read, and what was made of them.
    routed: Vec<AppRoutes>,
    healths: HashMap<(ReleaseId, Key), Health>,
    /// Releases never change: each manifest is read once.
    manifests: HashMap<ReleaseId, Manifest>,
}

impl<R: Runtime> Feed<R> {
    pub(super) fn new(
        table: Arc<Table>,
        store: Store,
        runtime: Arc<R>,
        config: &RouterConfig,
    ) -> Self {
        Feed {
            table,
            store,
            runtime,
            every: config.refresh,
            due: HashMap::new(),
            checking: Arc::default(),
            routed: Vec::new(),
            healths: HashMap::new(),
            manifests: HashMap::new(),
        }
    }

    pub(super) async fn run(mut self) {
        let mut ticks = tokio::time::interval(self.every);
        ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            ticks.tick().await;
            self.look().await;
        }
    }

    async fn look(&mut self) {
        let store = self.store.clone();
        let routes = match tokio::task::spawn_blocking(move || store.list_routes()).await {
            Ok(Ok(routes)) => routes,
            Ok(Err(error)) => return tracing::warn!(%error, "router cannot read the routes"),
            Err(error) => return tracing::warn!(%error, "router cannot read the routes"),
        };
        if routes != self.routed {
            if let Err(error) = self.read_manifests(&routes).await {
                return tracing::warn!(%error, "router cannot read the manifests");
            }
            let hosts = hosts(&routes, &self.manifests, &self.table.suffixes());
            self.table.set_hosts(hosts);
            self.healths = healths(&routes, &self.manifests);
            self.routed = routes;
        } else {
            self.table.expire_announced();
        }
        let listed_at = std::time::Instant::now();
        let instances = match self.runtime.every_instance().await {
            Ok(instances) => instances,
            Err(error) => return tracing::warn!(%error, "router cannot list instances"),
        };
        let backends = self.table.sync(&instances, listed_at);
        self.due
            .retain(|id, _| backends.iter().any(|b| &b.id == id));
        for backend in backends {
            let Some(instance) = instances.iter().find(|i| i.id == backend.id) else {
                continue;
            };
            let key = (instance.release.clone(), backend.key.clone());
            let Some(health) = self.healths.get(&key).cloned() else {
                continue;
            };
            if self.check_due(&backend, instance, &health) {
                self.check(backend, instance.clone(), health);
            }
        }
    }

    /// Reads the manifests of the releases in `routes` not yet known, and
    /// forgets those of releases no longer routed.
    async fn read_manifests(&mut self, routes: &[AppRoutes]) -> Result<(), String> {
        let routed: HashSet<&ReleaseId> = routes.iter().flat_map(|a| &a.releases).collect();
        self.manifests.retain(|id, _| routed.contains(id));
        let missing: Vec<ReleaseId> = routed
            .into_iter()
            .filter(|id| !self.manifests.contains_key(*id))
            .cloned()
            .collect();
        if missing.is_empty() {
            return Ok(());
        }
        let store = self.store.clone();
        let read = tokio::task::spawn_blocking(move || store.list_manifests(&missing)).await;
        let found = read
            .map_err(|e| e.to_string())?
            .map_err(|e| e.to_string())?;
        self.manifests.extend(found);
        Ok(())
    }

    fn check_due(&mut self, backend: &Backend, instance: &Instance, health: &Health) -> bool {
        let now = Instant::now();
        match backend.state() {
            State::Draining => false,
            State::Pending => {
                Utc::now() >= instance.started_at + TimeDelta::seconds(health.grace().into())
            }
            State::Ejected => true,
            State::Serving => {
                let interval = Duration::from_secs(health.interval().into());
                let next = self.due.entry(backend.id.clone()).or_insert(now + interval);
                if now < *next {
                    return false;
                }
                *next = now + interval;
                true
            }
        }
    }

    /// One health check, off the feed's path (a check may take up to the
    /// service's `timeout`).
    fn check(&self, backend: Arc<Backend>, instance: Instance, health: Health) {
        if !self
            .checking
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(backend.id.clone())
        {
            return;
        }
        let (runtime, checking) = (self.runtime.clone(), self.checking.clone());
        tokio::spawn(async move {
            match runtime.probe(&instance, Some(&health)).await {
                Probe::Healthy => backend.pass(),
                Probe::Unhealthy(why) | Probe::Gone(why) => {
                    if backend.state() == State::Serving {
                        tracing::warn!(instance = %backend.id, reason = %why,
                            "instance failed its health check; taken out until it passes");
                    }
                    backend.eject();
                }
            }
            checking
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .remove(&backend.id);
        });
    }
}

/// Every routed host name ([`names_of`] each release's manifest), the
/// active release's first.
fn hosts(
    routes: &[AppRoutes],
    manifests: &HashMap<ReleaseId, Manifest>,
    suffixes: &[String],
) -> HashMap<String, Key> {
    let mut hosts = HashMap::new();
    for app in routes {
        for manifest in app.releases.iter().filter_map(|r| manifests.get(r)) {
            for (host, key) in names_of(&app.app, manifest, suffixes) {
                hosts.entry(host).or_insert(key);
            }
        }
    }
    hosts
}

/// The health check of each routed service, per release.
fn healths(
    routes: &[AppRoutes],
    manifests: &HashMap<ReleaseId, Manifest>,
) -> HashMap<(ReleaseId, Key), Health> {
    let mut healths = HashMap::new();
    for app in routes {
        for release in &app.releases {
            let Some(manifest) = manifests.get(release) else {
                continue;
            };
            for (name, service) in manifest.services() {
                if let Some(health) = service.health() {
                    let key = (app.app.clone(), name.clone());
                    healths.insert((release.clone(), key), health.clone());
                }
            }
        }
    }
    healths
}
