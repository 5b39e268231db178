//! What a rollout keeps an eye on while it runs: its lease (renewed in the
//! background; lost means another worker drives it now), a cancel request,
//! and its deadline.

use super::progress::Progress;
use chrono::{DateTime, Utc};
use slipway_core::domain::DeploymentId;
use slipway_core::store::Store;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;
use tokio::task::JoinHandle;

/// Why a rollout step stopped short.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Stop {
    /// Another worker holds the lease now: leave the deployment to it.
    LeaseLost,
    /// The rollout failed: roll back (the reason is recorded and shown).
    Failed(String),
}

impl From<String> for Stop {
    fn from(reason: String) -> Self {
        Stop::Failed(reason)
    }
}

#[derive(Default)]
struct Flags {
    cancelled: AtomicBool,
    lease_lost: AtomicBool,
}

/// Renews the lease and polls for a cancel request until dropped.
pub struct Watch {
    flags: Arc<Flags>,
    task: JoinHandle<()>,
}

impl Watch {
    pub fn start(
        store: Store,
        deployment: DeploymentId,
        owner: String,
        lease_ttl: Duration,
        poll: Duration,
    ) -> Watch {
        let flags = Arc::new(Flags::default());
        let task = tokio::spawn(watch(
            store,
            deployment,
            owner,
            lease_ttl,
            poll,
            flags.clone(),
        ));
        Watch { flags, task }
    }

    pub fn cancelled(&self) -> bool {
        self.flags.cancelled.load(Ordering::Relaxed)
    }

    pub fn lease_lost(&self) -> bool {
        self.flags.lease_lost.load(Ordering::Relaxed)
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
    owner: String,
    lease_ttl: Duration,
    poll: Duration,
    flags: Arc<Flags>,
) {
    let ttl = chrono::TimeDelta::from_std(lease_ttl).unwrap_or(chrono::TimeDelta::seconds(15));
    let renew_every = lease_ttl / 3;
    let mut last_renewal = tokio::time::Instant::now();
    loop {
        tokio::time::sleep(poll).await;
        let (store, id, owner) = (store.clone(), deployment.clone(), owner.clone());
        let renew = last_renewal.elapsed() >= renew_every;
        let looked = tokio::task::spawn_blocking(move || {
            let kept = if renew {
                Some(store.renew_lease(&id, &owner, ttl)?)
            } else {
                None
            };
            let cancel = store.deployment(&id)?.cancel_requested;
            Ok::<_, slipway_core::store::StoreError>((kept, cancel))
        })
        .await;
        match looked {
            Ok(Ok((kept, cancel))) => {
                if renew {
                    last_renewal = tokio::time::Instant::now();
                }
                if kept == Some(false) {
                    flags.lease_lost.store(true, Ordering::Relaxed);
                    return;
                }
                if cancel {
                    flags.cancelled.store(true, Ordering::Relaxed);
                }
            }
            // The database is briefly away: keep going; if it stays away the
            // lease lapses and another worker takes over.
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
    pub deadline_text: String,
    pub watch: Option<&'a Watch>,
    pub honour_cancel: bool,
    pub progress: Option<&'a Progress>,
}

impl Limits<'_> {
    /// Tells people following the deployment about a step.
    pub fn progress(&self, data: impl FnOnce() -> serde_json::Value) {
        if let Some(progress) = self.progress {
            progress.record(data());
        }
    }

    pub fn check(&self) -> Result<(), Stop> {
        if let Some(watch) = self.watch {
            if watch.lease_lost() {
                return Err(Stop::LeaseLost);
            }
            if self.honour_cancel && watch.cancelled() {
                return Err(Stop::Failed("cancelled".into()));
            }
        }
        if Utc::now() >= self.deadline {
            return Err(Stop::Failed(self.deadline_text.clone()));
        }
        Ok(())
    }
}
