//! Tearing down deleted apps, in every worker. `DELETE /apps/{app}` only
//! marks the app deleted (a tombstone) and ends its deployment; the
//! instances it left are stopped here, through the `Runtime`, and once none
//! is left the app's rows are removed for good. Several workers may run
//! this at once: stopping a stopped instance is fine, and the removal is
//! conditional, so one worker removes and the others find nothing.

use crate::runtime::{Runtime, TornDown};
use chrono::{TimeDelta, Utc};
use slipway_core::domain::AppName;
use slipway_core::store::{Store, StoreError, Tombstone};
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

/// SIGTERM to SIGKILL for a deleted app's instances: the rollout's default,
/// so a deleted app's processes finish requests as on any other stop.
pub const STOP_GRACE: Duration = Duration::from_secs(10);

/// How long after the deletion the rows are kept at least, even when no
/// instance is left: a drive that lost its lease to the deletion may be
/// starting one last instance, and notices within its poll (250 ms) and a
/// step. Removing the rows sooner would free the name while that instance
/// runs; a later pass stops what shows up meanwhile.
pub const SETTLE: Duration = Duration::from_secs(15);

/// What one pass did.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Pass {
    /// Instances stopped, over all deleted apps.
    pub stopped: usize,
    /// Apps whose rows this pass removed.
    pub purged: Vec<AppName>,
    /// Deleted apps still waiting: an instance left, or deleted too recently.
    pub waiting: Vec<AppName>,
}

#[derive(Debug, thiserror::Error)]
pub enum TeardownError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("a blocking task failed: {0}")]
    Task(#[from] tokio::task::JoinError),
}

/// Runs a pass every `every` until `shutdown` resolves. A failed pass is
/// logged and tried again: the tombstones stay until a pass succeeds.
pub async fn run<R: Runtime>(
    store: Store,
    runtime: Arc<R>,
    every: Duration,
    shutdown: impl Future<Output = ()>,
) {
    tokio::pin!(shutdown);
    loop {
        tokio::select! {
            () = &mut shutdown => return,
            () = tokio::time::sleep(every) => {}
        }
        match once(&store, runtime.as_ref(), STOP_GRACE, SETTLE).await {
            Ok(pass) if pass.stopped > 0 || !pass.purged.is_empty() => tracing::info!(
                stopped = pass.stopped,
                purged = ?pass.purged,
                waiting = ?pass.waiting,
                "tore down deleted apps"
            ),
            Ok(_) => {}
            Err(err) => tracing::warn!(error = %err, "teardown pass failed"),
        }
    }
}

/// One pass over every deleted app: stops its instances (each with `grace`
/// from SIGTERM to SIGKILL, all at once) and, when none is left and it was
/// deleted at least `settle` ago, removes its rows.
pub async fn once<R: Runtime>(
    store: &Store,
    runtime: &R,
    grace: Duration,
    settle: Duration,
) -> Result<Pass, TeardownError> {
    let tombstones = db(store, |s| s.list_tombstones()).await?;
    let settle = TimeDelta::from_std(settle).unwrap_or(TimeDelta::MAX);
    let mut pass = Pass::default();
    for tombstone in tombstones {
        let app = tombstone.app.clone();
        match tear_down(store, runtime, tombstone, grace, settle).await? {
            Outcome::Purged(stopped) => {
                pass.stopped += stopped;
                pass.purged.push(app);
            }
            Outcome::Waiting(stopped) => {
                pass.stopped += stopped;
                pass.waiting.push(app);
            }
        }
    }
    Ok(pass)
}

/// What became of one deleted app, with how many instances were stopped.
enum Outcome {
    Purged(usize),
    Waiting(usize),
}

#[tracing::instrument(skip_all, fields(slipway.app = %tombstone.app))]
async fn tear_down<R: Runtime>(
    store: &Store,
    runtime: &R,
    tombstone: Tombstone,
    grace: Duration,
    settle: TimeDelta,
) -> Result<Outcome, TeardownError> {
    let Tombstone { app, deleted_at } = tombstone;
    let TornDown { stopped, left } = match runtime.tear_down(&app, grace).await {
        Ok(torn) => torn,
        Err(err) => {
            // The runtime cannot tell what runs: keep the rows.
            tracing::warn!(error = %err, "cannot list the instances of a deleted app");
            return Ok(Outcome::Waiting(0));
        }
    };
    let cutoff = Utc::now() - settle;
    if left > 0 || deleted_at > cutoff {
        return Ok(Outcome::Waiting(stopped));
    }
    // Its directory, user and output go before the name is free again.
    if let Err(err) = runtime.forget_app(&app).await {
        tracing::warn!(error = %err, "cannot remove what the runtime keeps of a deleted app");
        return Ok(Outcome::Waiting(stopped));
    }
    // `false`: another worker removed them first.
    if db(store, move |s| s.purge_app(&app, cutoff)).await? {
        tracing::info!("removed the rows of a deleted app");
    }
    Ok(Outcome::Purged(stopped))
}

async fn db<T: Send + 'static>(
    store: &Store,
    f: impl FnOnce(&Store) -> Result<T, StoreError> + Send + 'static,
) -> Result<T, TeardownError> {
    let store = store.clone();
    Ok(tokio::task::spawn_blocking(move || f(&store)).await??)
}
