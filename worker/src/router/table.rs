//! Who receives traffic: host names map to services, services to their
//! instances, each with its count of requests in flight.
//!
//! Balancing is least-outstanding-requests, ties broken round robin: during
//! a rollout the pool mixes warm instances with ones that just started, and
//! a slow instance is sent less instead of an equal share. The same counts
//! tell a drain when an instance's last request has finished.

use crate::runtime::Instance;
use slipway_core::domain::{AppName, ServiceName};
use std::collections::HashMap;
use std::net::{Ipv4Addr, SocketAddr};
use std::sync::atomic::{AtomicU8, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, Instant};
use tokio::sync::Notify;

/// A routed service.
pub type Key = (AppName, ServiceName);

/// Whether an instance is sent requests.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum State {
    /// Not yet seen passing its health check.
    Pending,
    /// Healthy: sent requests.
    Serving,
    /// Failed a health check or refused a connection; back once healthy.
    Ejected,
    /// Being stopped: no new requests, for good.
    Draining,
}

impl State {
    fn from_u8(value: u8) -> State {
        match value {
            0 => State::Pending,
            1 => State::Serving,
            2 => State::Ejected,
            _ => State::Draining,
        }
    }
}

/// One instance as the router sees it.
#[derive(Debug)]
pub struct Backend {
    pub id: String,
    pub key: Key,
    pub addr: SocketAddr,
    state: AtomicU8,
    in_flight: AtomicUsize,
    /// Woken when `in_flight` drops to zero.
    idle: Notify,
    /// When the router learnt of it.
    known_since: Instant,
}

impl Backend {
    fn new(instance: &Instance, port: u16) -> Backend {
        Backend {
            id: instance.id.clone(),
            key: (instance.app.clone(), instance.service.clone()),
            addr: SocketAddr::from((Ipv4Addr::LOCALHOST, port)),
            state: AtomicU8::new(State::Pending as u8),
            in_flight: AtomicUsize::new(0),
            idle: Notify::new(),
            known_since: Instant::now(),
        }
    }

    pub fn state(&self) -> State {
        State::from_u8(self.state.load(Ordering::SeqCst))
    }

    pub fn in_flight(&self) -> usize {
        self.in_flight.load(Ordering::SeqCst)
    }

    /// Moves to `to` unless draining: a draining instance never comes back.
    fn set(&self, to: State) {
        let _ = self
            .state
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |now| {
                (State::from_u8(now) != State::Draining).then_some(to as u8)
            });
    }

    /// A health check passed: serving from now on (unless draining).
    pub fn pass(&self) {
        self.set(State::Serving);
    }

    /// Takes the instance out of rotation (it refused a connection or
    /// failed a check) until a health check passes again.
    pub fn eject(&self) {
        let _ = self.state.compare_exchange(
            State::Serving as u8,
            State::Ejected as u8,
            Ordering::SeqCst,
            Ordering::SeqCst,
        );
    }

    /// Counts a request in, unless the instance is not serving. The count
    /// goes up before the state is read again, so a drain that sees zero
    /// in flight after marking the instance cannot miss a request.
    fn enter(self: &Arc<Self>) -> Option<InFlight> {
        self.in_flight.fetch_add(1, Ordering::SeqCst);
        let guard = InFlight(self.clone());
        (self.state() == State::Serving).then_some(guard)
    }

    async fn drained(&self) {
        loop {
            let idle = self.idle.notified();
            tokio::pin!(idle);
            idle.as_mut().enable();
            if self.in_flight() == 0 {
                return;
            }
            idle.await;
        }
    }
}

/// A request in flight to a backend; dropping it counts the request out.
#[derive(Debug)]
pub struct InFlight(Arc<Backend>);

impl InFlight {
    pub fn backend(&self) -> &Arc<Backend> {
        &self.0
    }
}

impl Drop for InFlight {
    fn drop(&mut self) {
        if self.0.in_flight.fetch_sub(1, Ordering::SeqCst) == 1 {
            self.0.idle.notify_waiters();
        }
    }
}

/// The instances of one service, and where the next tie-break starts.
#[derive(Debug, Default)]
pub struct Pool {
    backends: Vec<Arc<Backend>>,
    next: AtomicUsize,
}

impl Pool {
    /// The serving backend with the fewest requests in flight, skipping
    /// `tried`; `None` when no instance can take the request.
    pub fn pick(&self, tried: &[Arc<Backend>]) -> Option<InFlight> {
        let count = self.backends.len();
        let start = self.next.fetch_add(1, Ordering::Relaxed);
        loop {
            let best = (0..count)
                .map(|n| &self.backends[(start + n) % count])
                .filter(|b| b.state() == State::Serving && !tried.iter().any(|t| Arc::ptr_eq(t, b)))
                .min_by_key(|b| b.in_flight())?;
            if let Some(guard) = best.enter() {
                return Some(guard);
            }
            // It stopped serving between the look and the count: look again.
        }
    }

    pub fn is_empty(&self) -> bool {
        !self.backends.iter().any(|b| b.state() == State::Serving)
    }
}

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
#[derive(Default)]
pub struct Table {
    snapshot: RwLock<Arc<Snapshot>>,
    /// Every instance known, by id; the source pools are built from.
    backends: Mutex<HashMap<String, Arc<Backend>>>,
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

    /// Replaces the host names, when they changed.
    pub fn set_hosts(&self, hosts: HashMap<String, Key>) {
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
            let hosts = self
                .snapshot
                .read()
                .unwrap_or_else(|e| e.into_inner())
                .hosts
                .clone();
            self.publish(hosts, &backends);
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
            let hosts = self
                .snapshot
                .read()
                .unwrap_or_else(|e| e.into_inner())
                .hosts
                .clone();
            self.publish(hosts, &backends);
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
mod tests {
    use super::*;
    use chrono::Utc;

    fn instance(id: &str, port: u16) -> Instance {
        Instance {
            id: id.into(),
            app: "shop".parse().unwrap(),
            service: "web".parse().unwrap(),
            release: "R1".parse().unwrap(),
            port: Some(port),
            started_at: Utc::now(),
            stopping: false,
        }
    }

    fn table(instances: &[Instance]) -> (Table, Arc<Pool>) {
        let table = Table::default();
        let key: Key = ("shop".parse().unwrap(), "web".parse().unwrap());
        table.set_hosts(HashMap::from([("web.shop.localhost".to_string(), key)]));
        table.sync(instances, Instant::now());
        let Route::Service(_, pool) = table.route("web.shop.localhost") else {
            panic!("the host is routed");
        };
        (table, pool)
    }

    #[test]
    fn only_healthy_instances_are_picked_the_least_busy_first() {
        let (a, b) = (instance("a", 1), instance("b", 2));
        let (table, pool) = table(&[a.clone(), b.clone()]);
        assert!(pool.pick(&[]).is_none(), "nothing is healthy yet");
        table.admit(&a);
        let first = pool.pick(&[]).unwrap();
        assert_eq!(first.backend().id, "a");
        table.admit(&b);
        let second = pool.pick(&[]).unwrap();
        assert_eq!(second.backend().id, "b", "a is busier");
        drop(first);
        assert_eq!(pool.pick(&[]).unwrap().backend().id, "a");
        let tried = [second.backend().clone()];
        assert_eq!(pool.pick(&tried).unwrap().backend().id, "a");
    }

    #[test]
    fn unknown_hosts_route_nowhere() {
        let (table, _) = table(&[]);
        assert!(matches!(table.route("api.shop.localhost"), Route::Unknown));
    }

    #[tokio::test]
    async fn a_drain_waits_for_requests_in_flight_and_takes_no_new_ones() {
        let (a, b) = (instance("a", 1), instance("b", 2));
        let (table, pool) = table(&[a.clone(), b.clone()]);
        table.admit(&a);
        let request = pool.pick(&[]).unwrap();
        let drained = tokio::spawn({
            let table = Arc::new(table);
            let a = a.clone();
            async move {
                let left = table.drain(&a, Duration::from_secs(5)).await;
                (table, left)
            }
        });
        tokio::time::sleep(Duration::from_millis(50)).await;
        assert!(!drained.is_finished(), "a request is still in flight");
        assert!(
            pool.pick(&[]).is_none(),
            "a draining instance takes no request"
        );
        drop(request);
        let (table, left) = drained.await.unwrap();
        assert_eq!(left, 0);
        table.admit(&a);
        assert!(
            pool.pick(&[]).is_none(),
            "a drained instance never comes back"
        );
    }

    #[tokio::test]
    async fn a_drain_gives_up_at_its_timeout() {
        let a = instance("a", 1);
        let (table, pool) = table(std::slice::from_ref(&a));
        table.admit(&a);
        let _stuck = pool.pick(&[]).unwrap();
        assert_eq!(table.drain(&a, Duration::from_millis(20)).await, 1);
    }

    #[test]
    fn stopping_and_gone_instances_leave_the_pool() {
        let (a, mut b) = (instance("a", 1), instance("b", 2));
        let (table, _) = table(&[a.clone(), b.clone()]);
        table.admit(&a);
        table.admit(&b);
        b.stopping = true;
        let known = table.sync(&[b.clone()], Instant::now());
        assert_eq!(known.len(), 1);
        assert_eq!(known[0].state(), State::Draining);
        let Route::Service(_, pool) = table.route("web.shop.localhost") else {
            panic!("the host is routed");
        };
        assert!(pool.pick(&[]).is_none());
    }
}
