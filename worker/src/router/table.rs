//! Who receives traffic: host names map to services, services to their
//! instances, each with its count of requests in flight.
//!
//! Balancing is least-outstanding-requests, ties broken round robin: during
//! a rollout the pool mixes warm instances with ones that just started, and
//! a slow instance is sent less instead of an equal share. The same counts
//! tell a drain when an instance's last request has finished.

pub use super::backend::{Backend, InFlight, Key, Pool, State};
use crate::runtime::{Instance, Traffic};
use slipway_core::domain::{service_hosts, AppName, Manifest};
use std::collections::HashMap;
use std::sync::atomic::AtomicUsize;
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, Instant};

/// What a request's host names.
pub enum Route {
    /// No app answers there.
    Unknown,
    Service(Key, Arc<Pool>),
}

#[derive(Default)]
struct Snapshot {
    hosts: HashMap<String, Key>,
    pools: HashMap<Key, Arc<Pool>>,
}

/// The router's table: read on every request, written when hosts or
/// instances change.
pub struct Table {
    snapshot: RwLock<Arc<Snapshot>>,
    /// Every instance known, by id; the source pools are built from.
    backends: Mutex<HashMap<String, Arc<Backend>>>,
    /// Host names as the feed last read them from the store.
    read: Mutex<HashMap<String, Key>>,
    /// Host names a rollout of this process announced, until they expire:
    /// a release is routed from its rollout's start, not from the feed's
    /// next look.
    announced: Mutex<HashMap<String, (Key, Instant)>>,
    /// Generated names are `<service>.<app>.<suffix>` and `<app>.<suffix>`.
    suffixes: RwLock<Vec<String>>,
}

impl Default for Table {
    fn default() -> Table {
        Table {
            snapshot: RwLock::default(),
            backends: Mutex::default(),
            read: Mutex::default(),
            announced: Mutex::default(),
            suffixes: RwLock::new(vec!["localhost".to_owned()]),
        }
    }
}

/// How long an announced host name is kept without the feed reading it.
const ANNOUNCED_FOR: Duration = Duration::from_secs(10);

/// The host names of `app`'s services in `manifest`, under each of
/// `suffixes` ([`service_hosts`]), with the service each leads to.
pub fn names_of(app: &AppName, manifest: &Manifest, suffixes: &[String]) -> Vec<(String, Key)> {
    let suffixes: Vec<&str> = suffixes.iter().map(String::as_str).collect();
    service_hosts(app, manifest, &suffixes)
        .into_iter()
        .flat_map(|(name, _, hosts)| {
            let key: Key = (app.clone(), name.clone());
            hosts.into_iter().map(move |host| (host, key.clone()))
        })
        .collect()
}

impl Table {
    /// Where requests for `host` (lower case, no port) go.
    pub fn route(&self, host: &str) -> Route {
        let snapshot = self
            .snapshot
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .clone();
        match snapshot.hosts.get(host) {
            None => Route::Unknown,
            Some(key) => {
                let pool = snapshot.pools.get(key).cloned().unwrap_or_default();
                Route::Service(key.clone(), pool)
            }
        }
    }

    /// The names under which generated host names are served.
    pub fn set_suffixes(&self, suffixes: Vec<String>) {
        *self.suffixes.write().unwrap_or_else(|e| e.into_inner()) = suffixes;
    }

    pub fn suffixes(&self) -> Vec<String> {
        self.suffixes
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// Replaces the host names read from the store.
    pub fn set_hosts(&self, hosts: HashMap<String, Key>) {
        *self.read.lock().unwrap_or_else(|e| e.into_inner()) = hosts;
        self.merge_hosts();
    }

    /// Routes the host names of `app`'s `manifest` now, for a rollout about
    /// to start its instances, ahead of the feed's next look.
    /// Names already routed to the same services are only kept announced:
    /// a release of an app that runs leaves the table as it is.
    pub fn announce(&self, app: &AppName, manifest: &Manifest) {
        let until = Instant::now() + ANNOUNCED_FOR;
        let routed = {
            // Held while the table is looked at: a merge of the hosts
            // publishes with it held, so it is either done or takes these.
            let mut announced = self.announced.lock().unwrap_or_else(|e| e.into_inner());
            let snapshot = self.snapshot.read().unwrap_or_else(|e| e.into_inner());
            let mut routed = true;
            for (host, key) in names_of(app, manifest, &self.suffixes()) {
                routed &= snapshot.hosts.get(&host) == Some(&key);
                announced.insert(host, (key, until));
            }
            routed
        };
        if !routed {
            self.merge_hosts();
        }
    }

    /// Drops announced names past their time (the feed calls this at every
    /// look; republishing only when one expired).
    pub fn expire_announced(&self) {
        let now = Instant::now();
        let expired = self
            .announced
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .values()
            .any(|(_, until)| *until <= now);
        if expired {
            self.merge_hosts();
        }
    }

    /// Publishes the names read, plus those announced and not expired.
    fn merge_hosts(&self) {
        let mut hosts = self.read.lock().unwrap_or_else(|e| e.into_inner()).clone();
        // Held until published (see `announce`).
        let mut announced = self.announced.lock().unwrap_or_else(|e| e.into_inner());
        let now = Instant::now();
        announced.retain(|_, (_, until)| *until > now);
        for (host, (key, _)) in announced.iter() {
            hosts.entry(host.clone()).or_insert_with(|| key.clone());
        }
        let current = self
            .snapshot
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .clone();
        if current.hosts != hosts {
            let backends = self.backends.lock().unwrap_or_else(|e| e.into_inner());
            self.publish(hosts, &backends);
        }
    }

    /// Takes in what ran at `listed_at`: new instances with a port are
    /// added (not yet serving), instances being stopped drain, those gone
    /// are dropped (unless learnt of since: admitted after the listing).
    /// Returns every backend, for the health checks.
    pub fn sync(&self, instances: &[Instance], listed_at: Instant) -> Vec<Arc<Backend>> {
        let mut backends = self.backends.lock().unwrap_or_else(|e| e.into_inner());
        let before = backends.len();
        backends.retain(|id, backend| {
            backend.known_since > listed_at || instances.iter().any(|i| &i.id == id)
        });
        let mut changed = backends.len() != before;
        for instance in instances {
            let Some(port) = instance.port else { continue };
            let backend = backends.entry(instance.id.clone()).or_insert_with(|| {
                changed = true;
                Arc::new(Backend::new(instance, port))
            });
            if instance.stopping {
                backend.set(State::Draining);
            }
        }
        if changed {
            self.republish(&backends);
        }
        backends.values().cloned().collect()
    }

    /// Sends `instance` requests from now on: it was seen healthy.
    pub fn admit(&self, instance: &Instance) {
        let Some(port) = instance.port else { return };
        let mut backends = self.backends.lock().unwrap_or_else(|e| e.into_inner());
        let mut added = false;
        let backend = backends.entry(instance.id.clone()).or_insert_with(|| {
            added = true;
            Arc::new(Backend::new(instance, port))
        });
        backend.set(State::Serving);
        if added {
            self.republish(&backends);
        }
    }

    /// Sends `instance` no new requests, then waits (up to `timeout`) for
    /// those in flight to finish. Returns how many were still in flight at
    /// the timeout.
    pub async fn drain(&self, instance: &Instance, timeout: Duration) -> usize {
        let backend = {
            let backends = self.backends.lock().unwrap_or_else(|e| e.into_inner());
            match backends.get(&instance.id) {
                Some(backend) => backend.clone(),
                None => return 0,
            }
        };
        backend.set(State::Draining);
        match tokio::time::timeout(timeout, backend.drained()).await {
            Ok(()) => 0,
            Err(_) => backend.in_flight(),
        }
    }

    /// Rebuilds the pools from `backends`, the hosts as they are.
    fn republish(&self, backends: &HashMap<String, Arc<Backend>>) {
        let snapshot = self
            .snapshot
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .clone();
        self.publish(snapshot.hosts.clone(), backends);
    }

    fn publish(&self, hosts: HashMap<String, Key>, backends: &HashMap<String, Arc<Backend>>) {
        let mut pools: HashMap<Key, Vec<Arc<Backend>>> = HashMap::new();
        for backend in backends.values() {
            pools
                .entry(backend.key.clone())
                .or_default()
                .push(backend.clone());
        }
        let pools = pools
            .into_iter()
            .map(|(key, mut backends)| {
                backends.sort_by(|a, b| a.id.cmp(&b.id));
                let pool = Pool {
                    backends,
                    next: AtomicUsize::new(0),
                };
                (key, Arc::new(pool))
            })
            .collect();
        *self.snapshot.write().unwrap_or_else(|e| e.into_inner()) =
            Arc::new(Snapshot { hosts, pools });
    }
}

#[cfg(test)]
#[path = "table_tests.rs"]
mod tests;

/// The engine tells the router's table about its rollouts through the
/// runtime's [`Traffic`] boundary.
impl Traffic for Table {
    fn announce(&self, app: &AppName, manifest: &Manifest) {
        Table::announce(self, app, manifest);
    }

    fn admit(&self, instance: &Instance) {
        Table::admit(self, instance);
    }

    fn drain<'a>(
        &'a self,
        instance: &'a Instance,
        timeout: Duration,
    ) -> std::pin::Pin<Box<dyn std::future::Future<Output = usize> + Send + 'a>> {
        Box::pin(Table::drain(self, instance, timeout))
    }
}
