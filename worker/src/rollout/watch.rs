//! What a rollout keeps an eye on while it runs: its lease (renewed in the
//! background; lost, or unconfirmed for too long, means act no more), the
//! worker shutting down, a cancel request, and its deadline.

use super::failure::Failure;
use super::progress::Progress;
use chrono::{DateTime, Utc};
use slipway_core::domain::DeploymentId;
use slipway_core::store::{Lease, Store, StoreError};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;
use tokio::task::JoinHandle;
use tokio::time::Instant;

/// Why a rollout step stopped short.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Stop {
    /// The lease is gone, or unconfirmed for too long: leave the deployment
    /// to whoever holds it now, touching nothing more.
    LeaseLost,
    /// This worker is shutting down: stop at this safe point and hand the
    /// deployment over.
    ShuttingDown,
    /// The rollout failed: roll back (the reason is recorded and shown).
    Failed(Failure),
}

impl From<Failure> for Stop {
    fn from(failure: Failure) -> Self {
        Stop::Failed(failure)
    }
}

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

    pub fn cancelled(&self) -> bool {
        self.flags.cancelled.load(Ordering::Relaxed)
    }

    /// Lost, or not confirmed for too long: act no more.
    pub fn fenced(&self) -> bool {
        let confirmed = Duration::from_millis(self.flags.confirmed_ms.load(Ordering::Relaxed));
        self.flags.lease_lost.load(Ordering::Relaxed)
            || self.flags.started.elapsed().saturating_sub(confirmed) > self.fence_after
    }

    pub fn shutting_down(&self) -> bool {
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

/// The bounds of one convergence: a deadline, and optionally a watch whose
/// cancel request counts (a rollback ignores cancels), and where its
/// progress is told.
pub struct Limits<'a> {
    pub deadline: DateTime<Utc>,
    /// What passing the deadline means.
    pub expired: Failure,
    pub watch: Option<&'a Watch>,
    pub honour_cancel: bool,
    pub progress: Option<&'a Progress>,
}

impl Limits<'_> {
    /// Tells people following the deployment about a step.
    pub fn progress(&self, step: impl FnOnce() -> slipway_core::events::Progress) {
        if let Some(progress) = self.progress {
            progress.record(step());
        }
    }

    /// Whether the drive may still act on the runtime: its lease holds and
    /// the worker is not stopping. Checked before every start and stop.
    pub fn fence(&self) -> Result<(), Stop> {
        if let Some(watch) = self.watch {
            if watch.fenced() {
                return Err(Stop::LeaseLost);
            }
            if watch.shutting_down() {
                return Err(Stop::ShuttingDown);
            }
        }
        Ok(())
    }

    /// [`Limits::fence`], then a cancel request and the deadline.
    pub fn check(&self) -> Result<(), Stop> {
        self.fence()?;
        if let Some(watch) = self.watch {
            if self.honour_cancel && watch.cancelled() {
                return Err(Stop::Failed(Failure::Cancelled));
            }
        }
        if Utc::now() >= self.deadline {
            return Err(Stop::Failed(self.expired.clone()));
        }
        Ok(())
    }
}
