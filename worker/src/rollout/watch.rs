//! What a rollout keeps an eye on while it runs: its lease (renewed in the
//! background; lost, or unconfirmed for too long, means act no more), the
//! worker shutting down, and a cancel request: the drive's [`Guard`], which
//! the runtime asks through its `Limits`.

use crate::runtime::Guard;
use slipway_core::domain::DeploymentId;
use slipway_core::store::{Lease, Store, StoreError};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
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

/// Renews the lease and polls for a cancel request until dropped.
pub struct Watch {
    flags: Arc<Flags>,
    /// Unconfirmed for longer than this, the drive fences itself.
    fence_after: Duration,
    task: JoinHandle<()>,
}

impl Watch {
    /// Watches over `lease` of `deployment`. A drive stops acting once the
    /// lease has not been confirmed for `lease_ttl` less a margin of a
    /// third, before anyone else can claim it: with the database away, no
    /// two drives ever act at once.
    pub fn start(
        store: Store,
        deployment: DeploymentId,
        lease: Lease,
        lease_ttl: Duration,
        poll: Duration,
        shutting_down: Arc<AtomicBool>,
    ) -> Watch {
        let flags = Arc::new(Flags {
            cancelled: AtomicBool::new(false),
            lease_lost: AtomicBool::new(false),
            confirmed_ms: AtomicU64::new(0),
            started: Instant::now(),
            shutting_down,
        });
        let task = tokio::spawn(watch(
            store,
            deployment,
            lease,
            lease_ttl,
            poll,
            flags.clone(),
        ));
        Watch {
            flags,
            fence_after: lease_ttl - lease_ttl / 3,
            task,
        }
    }
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
        self.task.abort();
    }
}

async fn watch(
    store: Store,
    deployment: DeploymentId,
    lease: Lease,
    lease_ttl: Duration,
    poll: Duration,
    flags: Arc<Flags>,
) {
    let ttl = chrono::TimeDelta::from_std(lease_ttl).unwrap_or(chrono::TimeDelta::seconds(15));
    let renew_every = lease_ttl / 3;
    let mut last_renewal = Instant::now();
    loop {
        tokio::time::sleep(poll).await;
        let (store, id, lease) = (store.clone(), deployment.clone(), lease.clone());
        let renew = last_renewal.elapsed() >= renew_every;
        // Taken before asking: the confirmation holds from when it was asked for.
        let asked = flags.started.elapsed();
        let looked = tokio::task::spawn_blocking(move || {
            let kept = if renew {
                Some(store.renew_lease(&id, &lease, ttl)?)
            } else {
                None
            };
            let cancel = store.get_deployment_by_id(&id)?.cancel_requested;
            Ok::<_, slipway_core::store::StoreError>((kept, cancel))
        })
        .await;
        match looked {
            Ok(Ok((kept, cancel))) => {
                if kept == Some(false) {
                    flags.lease_lost.store(true, Ordering::Relaxed);
                    return;
                }
                if renew {
                    last_renewal = Instant::now();
                    let ms = u64::try_from(asked.as_millis()).unwrap_or(u64::MAX);
                    flags.confirmed_ms.store(ms, Ordering::Relaxed);
                }
                if cancel {
                    flags.cancelled.store(true, Ordering::Relaxed);
                }
            }
            // A deleted deployment has lost its lease for good.
            Ok(Err(StoreError::NotFound(_))) => {
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
