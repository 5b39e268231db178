//! What a rollout keeps an eye on while it runs: its lease (renewed in the
//! background; lost, or unconfirmed for too long, means act no more), the
//! worker shutting down, and a cancel request: the drive's [`Guard`], which
//! the runtime asks through its `Limits`.
//!
//! Cancel requests (and deployments deleted under a drive) are looked for by
//! one task per engine, for all of its drives in one query per `poll`: a
//! hundred rollouts at once cost one read every `poll`, not a hundred.

use crate::runtime::Guard;
use slipway_core::domain::DeploymentId;
use slipway_core::store::{Lease, Store, StoreError};
use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, Once, PoisonError, Weak};
use std::time::Duration;
use tokio::task::JoinHandle;
use tokio::time::Instant;

struct Flags {
    cancelled: AtomicBool,
    lease_lost: AtomicBool,
    /// Milliseconds after `started` when the lease was last confirmed.
    confirmed_ms: AtomicU64,
    started: Instant,
    /// Set by the engine for every drive when the worker begins to stop.
    shutting_down: Arc<AtomicBool>,
}

type Drives = Mutex<HashMap<DeploymentId, Arc<Flags>>>;

/// The drives of one engine, and the task that looks for their cancel
/// requests (started with the first drive; it ends once this is dropped).
pub struct Watches {
    store: Store,
    poll: Duration,
    lease_ttl: Duration,
    shutting_down: Arc<AtomicBool>,
    drives: Arc<Drives>,
    polling: Once,
}

impl Watches {
    /// Leases last `lease_ttl`; cancel requests are looked for every `poll`.
    pub fn new(
        store: Store,
        lease_ttl: Duration,
        poll: Duration,
        shutting_down: Arc<AtomicBool>,
    ) -> Watches {
        Watches {
            store,
            poll,
            lease_ttl,
            shutting_down,
            drives: Arc::default(),
            polling: Once::new(),
        }
    }

    /// Watches over `lease` of `deployment` until the [`Watch`] is dropped.
    /// A drive stops acting once the lease has not been confirmed for
    /// `lease_ttl` less a margin of a third, before anyone else can claim it:
    /// with the database away, no two drives ever act at once.
    pub fn start(&self, deployment: DeploymentId, lease: Lease) -> Watch {
        self.polling.call_once(|| {
            let drives = Arc::downgrade(&self.drives);
            tokio::spawn(look_for_cancels(self.store.clone(), self.poll, drives));
        });
        let flags = Arc::new(Flags {
            cancelled: AtomicBool::new(false),
            lease_lost: AtomicBool::new(false),
            confirmed_ms: AtomicU64::new(0),
            started: Instant::now(),
            shutting_down: self.shutting_down.clone(),
        });
        lock(&self.drives).insert(deployment.clone(), flags.clone());
        let renewing = tokio::spawn(renew(
            self.store.clone(),
            deployment.clone(),
            lease,
            self.lease_ttl,
            flags.clone(),
        ));
        Watch {
            flags,
            fence_after: self.lease_ttl - self.lease_ttl / 3,
            deployment,
            drives: self.drives.clone(),
            renewing,
        }
    }
}

/// One drive's watch: renews its lease until dropped.
pub struct Watch {
    flags: Arc<Flags>,
    /// Unconfirmed for longer than this, the drive fences itself.
    fence_after: Duration,
    deployment: DeploymentId,
    drives: Arc<Drives>,
    renewing: JoinHandle<()>,
}

impl Guard for Watch {
    fn cancelled(&self) -> bool {
        self.flags.cancelled.load(Ordering::Relaxed)
    }

    /// Lost, or not confirmed for too long: act no more.
    fn fenced(&self) -> bool {
        let confirmed = Duration::from_millis(self.flags.confirmed_ms.load(Ordering::Relaxed));
        self.flags.lease_lost.load(Ordering::Relaxed)
            || self.flags.started.elapsed().saturating_sub(confirmed) > self.fence_after
    }

    fn shutting_down(&self) -> bool {
        self.flags.shutting_down.load(Ordering::Relaxed)
    }
}

impl Drop for Watch {
    fn drop(&mut self) {
        self.renewing.abort();
        let mut drives = lock(&self.drives);
        // A later drive of the same deployment (after this one lost its
        // lease) has its own entry: leave that one be.
        if drives
            .get(&self.deployment)
            .is_some_and(|flags| Arc::ptr_eq(flags, &self.flags))
        {
            drives.remove(&self.deployment);
        }
    }
}

fn lock(drives: &Drives) -> std::sync::MutexGuard<'_, HashMap<DeploymentId, Arc<Flags>>> {
    drives.lock().unwrap_or_else(PoisonError::into_inner)
}

/// Renews the lease every third of its ttl; a confirmation holds from when
/// it was asked for.
async fn renew(
    store: Store,
    deployment: DeploymentId,
    lease: Lease,
    lease_ttl: Duration,
    flags: Arc<Flags>,
) {
    let ttl = chrono::TimeDelta::from_std(lease_ttl).unwrap_or(chrono::TimeDelta::seconds(15));
    loop {
        tokio::time::sleep(lease_ttl / 3).await;
        let (store, id, lease) = (store.clone(), deployment.clone(), lease.clone());
        let asked = flags.started.elapsed();
        match tokio::task::spawn_blocking(move || store.renew_lease(&id, &lease, ttl)).await {
            Ok(Ok(true)) => {
                let ms = u64::try_from(asked.as_millis()).unwrap_or(u64::MAX);
                flags.confirmed_ms.store(ms, Ordering::Relaxed);
            }
            Ok(Ok(false) | Err(StoreError::NotFound(_))) => {
                flags.lease_lost.store(true, Ordering::Relaxed);
                return;
            }
            // The database is briefly away: keep going; if it stays away the
            // drive fences itself and the lease lapses for another worker.
            Ok(Err(err)) => {
                tracing::warn!(error = %err, "cannot reach the database to renew the lease")
            }
            Err(err) => tracing::warn!(error = %err, "lease task failed"),
        }
    }
}

/// Every `poll`, one query for the cancel requests of all running drives; a
/// deployment no longer there (deleted) has lost its lease for good.
async fn look_for_cancels(store: Store, poll: Duration, drives: Weak<Drives>) {
    loop {
        tokio::time::sleep(poll).await;
        let Some(watched) = drives.upgrade().map(|drives| {
            let drives = lock(&drives);
            drives
                .iter()
                .map(|(id, f)| (id.clone(), f.clone()))
                .collect::<Vec<_>>()
        }) else {
            return;
        };
        if watched.is_empty() {
            continue;
        }
        let store = store.clone();
        let ids: Vec<DeploymentId> = watched.iter().map(|(id, _)| id.clone()).collect();
        match tokio::task::spawn_blocking(move || store.cancel_requests(&ids)).await {
            Ok(Ok(found)) => {
                for (id, flags) in &watched {
                    match found.get(id) {
                        Some(true) => flags.cancelled.store(true, Ordering::Relaxed),
                        Some(false) => {}
                        None => flags.lease_lost.store(true, Ordering::Relaxed),
                    }
                }
            }
            Ok(Err(err)) => {
                tracing::warn!(error = %err, "cannot reach the database to look for cancel requests")
            }
            Err(err) => tracing::warn!(error = %err, "cancel look-up task failed"),
        }
    }
}
