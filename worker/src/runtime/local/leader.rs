//! The process behind an instance, and ending it: SIGTERM to its process
//! group, SIGKILL after the grace, a sweep of what it left behind.

use super::process;
use super::NOT_RUNNING;
use crate::runtime::RuntimeError;
use nix::sys::signal::Signal;
use std::time::Duration;
use tokio::sync::watch;
use tokio::time::Instant;

/// The longest wait between two looks of `stop` at whether the instance is gone.
const STOP_POLL: Duration = Duration::from_millis(20);
/// The first look after a signal: most processes are gone within a few ms,
/// so the looks start at 1 ms and double up to `STOP_POLL`.
const STOP_FIRST_POLL: Duration = Duration::from_millis(1);
/// How long after SIGKILL an instance may take to disappear before `stop` fails.
const KILL_WAIT: Duration = Duration::from_secs(5);

/// A process this runtime spawned; its reaper publishes how it ended.
#[derive(Clone, Debug)]
pub(super) struct Spawned {
    pub(super) pid: i32,
    pub(super) start_time: Option<u64>,
    /// `None` while running, then `exited with status 3` or the like.
    pub(super) exit: watch::Receiver<Option<String>>,
}

/// The process behind an instance id, as far as this runtime can tell.
#[derive(Clone, Debug)]
pub(super) enum Leader {
    Own(Spawned),
    Adopted { pid: i32, start_time: Option<u64> },
}

impl Leader {
    fn pid(&self) -> i32 {
        match self {
            Leader::Own(s) => s.pid,
            Leader::Adopted { pid, .. } => *pid,
        }
    }

    fn start_time(&self) -> Option<u64> {
        match self {
            Leader::Own(s) => s.start_time,
            Leader::Adopted { start_time, .. } => *start_time,
        }
    }

    /// `None` while running, else why it is gone.
    pub(super) fn gone(&self) -> Option<String> {
        match self {
            Leader::Own(s) => s.exit.borrow().clone(),
            Leader::Adopted { pid, start_time } => {
                (!process::is_running(*pid, *start_time)).then(|| NOT_RUNNING.to_owned())
            }
        }
    }
}

/// Stops the process group of `leader`: SIGTERM, SIGKILL after `grace`; Ok
/// once its leader is gone.
pub(super) async fn terminate(
    id: &str,
    leader: &Leader,
    grace: Duration,
) -> Result<(), RuntimeError> {
    let pid = leader.pid();
    if leader.gone().is_none() {
        term_then_kill(id, leader, grace).await?;
    }
    // The leader is gone, but what it started in the background may not be.
    // Safe only while the pid number is not someone else's: it is not reused
    // while any member of our group remains.
    if process::pid_not_reused(pid, leader.start_time()) {
        if let Err(error) = process::signal_group(pid, Signal::SIGKILL) {
            tracing::debug!(instance = %id, %error, "could not sweep the process group");
        }
    }
    Ok(())
}

async fn term_then_kill(id: &str, leader: &Leader, grace: Duration) -> Result<(), RuntimeError> {
    let pid = leader.pid();
    if !process::signal_group(pid, Signal::SIGTERM)? || wait_gone(leader, grace).await {
        return Ok(());
    }
    tracing::warn!(instance = %id, pid, ?grace, "still running after SIGTERM and the grace; sending SIGKILL");
    if !process::signal_group(pid, Signal::SIGKILL)? || wait_gone(leader, KILL_WAIT).await {
        return Ok(());
    }
    Err(RuntimeError::Transient(format!(
        "instance {id} (pid {pid}) was still running {}s after SIGKILL",
        KILL_WAIT.as_secs()
    )))
}

/// Polls until `leader` is gone; false if it still runs after `limit`.
async fn wait_gone(leader: &Leader, limit: Duration) -> bool {
    let deadline = Instant::now() + limit;
    let mut poll = STOP_FIRST_POLL;
    loop {
        if leader.gone().is_some() {
            return true;
        }
        if Instant::now() >= deadline {
            return false;
        }
        tokio::time::sleep(poll).await;
        poll = (poll * 2).min(STOP_POLL);
    }
}
