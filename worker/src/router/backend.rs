//! One instance as the router sees it (its state and requests in flight),
//! and the pool of a service's instances a request is given to: the
//! healthy one with the fewest requests in flight, ties taken in turn.

use crate::runtime::Instance;
use slipway_core::domain::{AppName, ServiceName};
use std::net::{Ipv4Addr, SocketAddr};
use std::sync::atomic::{AtomicU8, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Instant;
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
    pub(super) known_since: Instant,
}

impl Backend {
    pub(super) fn new(instance: &Instance, port: u16) -> Backend {
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
    pub(super) fn set(&self, to: State) {
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

    pub(super) async fn drained(&self) {
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
    pub(super) backends: Vec<Arc<Backend>>,
    pub(super) next: AtomicUsize,
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
