//! The local runtime: each instance is a child process on this machine
//! (`sh -c <command>` in its own process group), for `slipway dev` and tests.
//!
//! Instances outlive the worker that started them: each one is recorded as a
//! JSON file under `state_dir/instances/`, so another worker process (say,
//! after this one was SIGKILLed) lists, probes and stops them. Output goes to
//! `state_dir/logs/<app>/<instance-id>.log`.

mod health;
mod process;
mod record;

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use chrono::Utc;
use nix::sys::signal::Signal;
use slipway_core::domain::{AppName, Health};
use tokio::sync::watch;
use tokio::time::Instant;

use crate::runtime::{Instance, InstanceSpec, Probe, Runtime, RuntimeError};
use record::{InstanceRecord, RecordDir};

/// The longest wait between two looks of `stop` at whether the instance is gone.
const STOP_POLL: Duration = Duration::from_millis(20);
/// The first look after a signal: most processes are gone within a few ms,
/// so the looks start at 1 ms and double up to `STOP_POLL`.
const STOP_FIRST_POLL: Duration = Duration::from_millis(1);
/// How long after SIGKILL an instance may take to disappear before `stop` fails.
const KILL_WAIT: Duration = Duration::from_secs(5);
/// The reason given for an instance that is not (or no longer) running.
const NOT_RUNNING: &str = "is no longer running";

/// Runs instances as child processes of this machine. See the module docs.
///
/// Dropping it leaves the instances running: they belong to the state dir,
/// not to this value. [`LocalRuntime::stop_all`] stops them.
#[derive(Debug)]
pub struct LocalRuntime {
    records: RecordDir,
    logs: PathBuf,
    http: reqwest::Client,
    /// Instances this value spawned, by id; the rest are adopted from records.
    children: Arc<Mutex<HashMap<String, Spawned>>>,
}

/// A process this runtime spawned; its reaper publishes how it ended.
#[derive(Clone, Debug)]
struct Spawned {
    pid: i32,
    start_time: Option<u64>,
    /// `None` while running, then `exited with status 3` or the like.
    exit: watch::Receiver<Option<String>>,
}

/// The process behind an instance id, as far as this runtime can tell.
#[derive(Clone, Debug)]
enum Target {
    Own(Spawned),
    Adopted { pid: i32, start_time: Option<u64> },
}

impl Target {
    fn pid(&self) -> i32 {
        match self {
            Target::Own(s) => s.pid,
            Target::Adopted { pid, .. } => *pid,
        }
    }

    fn start_time(&self) -> Option<u64> {
        match self {
            Target::Own(s) => s.start_time,
            Target::Adopted { start_time, .. } => *start_time,
        }
    }

    /// `None` while running, else why it is gone.
    fn gone(&self) -> Option<String> {
        match self {
            Target::Own(s) => s.exit.borrow().clone(),
            Target::Adopted { pid, start_time } => {
                (!process::is_running(*pid, *start_time)).then(|| NOT_RUNNING.to_owned())
            }
        }
    }
}

impl LocalRuntime {
    /// A runtime keeping its records and logs under `state_dir` (created if
    /// needed). Instances recorded there by earlier runtimes are adopted.
    pub fn new(state_dir: impl Into<PathBuf>) -> Result<LocalRuntime, RuntimeError> {
        let state_dir = state_dir.into();
        let instances = state_dir.join("instances");
        let logs = state_dir.join("logs");
        for dir in [&instances, &logs] {
            std::fs::create_dir_all(dir).map_err(|e| {
                RuntimeError::Failed(format!("cannot create {}: {e}", dir.display()))
            })?;
        }
        Ok(LocalRuntime {
            records: RecordDir::new(instances),
            logs,
            http: health::client()?,
            children: Arc::default(),
        })
    }

    /// Stops every recorded instance, of every app, concurrently (each with
    /// `grace` between SIGTERM and SIGKILL). Failures are logged, not returned:
    /// this is for shutting down, where nothing better can be done.
    pub async fn stop_all(&self, grace: Duration) {
        let records = match self.records.list().await {
            Ok(records) => records,
            Err(error) => {
                tracing::warn!(%error, "cannot list instances to stop");
                return;
            }
        };
        let stops = records.iter().map(|record| async move {
            let instance = record.instance();
            if let Err(error) = self.stop(&instance, grace).await {
                tracing::warn!(instance = %instance.id, %error, "could not stop instance");
            }
        });
        futures_util::future::join_all(stops).await;
    }

    fn children(&self) -> std::sync::MutexGuard<'_, HashMap<String, Spawned>> {
        // The map stays consistent even if a holder panicked: each operation is one insert/remove.
        self.children.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The process of `id`: ours, or from its record; `None` without either.
    async fn target(&self, id: &str) -> Result<Option<Target>, RuntimeError> {
        if let Some(spawned) = self.children().get(id).cloned() {
            return Ok(Some(Target::Own(spawned)));
        }
        let record = self.records.read(id).await.map_err(|e| {
            RuntimeError::Transient(format!("cannot read the record of instance {id}: {e}"))
        })?;
        Ok(record.map(|r| Target::Adopted {
            pid: r.pid,
            start_time: r.start_time,
        }))
    }

    /// Keeps `child` waited for, so it never lingers as a zombie that looks alive,
    /// and remembers how it ended.
    fn reap(&self, id: &str, launched: process::Launched) {
        let (tx, rx) = watch::channel(None);
        let mut child = launched.child;
        let instance = id.to_owned();
        tokio::spawn(async move {
            let status = child.wait().await;
            let how = process::describe_exit(&status);
            tracing::info!(%instance, "instance {how}");
            // No receiver left only means nobody asks any more.
            let _ = tx.send(Some(how));
        });
        let spawned = Spawned {
            pid: launched.pid,
            start_time: launched.start_time,
            exit: rx,
        };
        self.children().insert(id.to_owned(), spawned);
    }
}

/// Stops the process group of `target`: SIGTERM, SIGKILL after `grace`; Ok
/// once its leader is gone.
async fn terminate(id: &str, target: &Target, grace: Duration) -> Result<(), RuntimeError> {
    let pid = target.pid();
    if target.gone().is_none() {
        term_then_kill(id, target, grace).await?;
    }
    // The leader is gone, but what it started in the background may not be.
    // Safe only while the pid number is not someone else's: it is not reused
    // while any member of our group remains.
    if process::pid_not_reused(pid, target.start_time()) {
        if let Err(error) = process::signal_group(pid, Signal::SIGKILL) {
            tracing::debug!(instance = %id, %error, "could not sweep the process group");
        }
    }
    Ok(())
}

async fn term_then_kill(id: &str, target: &Target, grace: Duration) -> Result<(), RuntimeError> {
    let pid = target.pid();
    if !process::signal_group(pid, Signal::SIGTERM)? || wait_gone(target, grace).await {
        return Ok(());
    }
    tracing::warn!(instance = %id, pid, ?grace, "still running after SIGTERM and the grace; sending SIGKILL");
    if !process::signal_group(pid, Signal::SIGKILL)? || wait_gone(target, KILL_WAIT).await {
        return Ok(());
    }
    Err(RuntimeError::Transient(format!(
        "instance {id} (pid {pid}) was still running {}s after SIGKILL",
        KILL_WAIT.as_secs()
    )))
}

/// Polls until `target` is gone; false if it still runs after `limit`.
async fn wait_gone(target: &Target, limit: Duration) -> bool {
    let deadline = Instant::now() + limit;
    let mut poll = STOP_FIRST_POLL;
    loop {
        if target.gone().is_some() {
            return true;
        }
        if Instant::now() >= deadline {
            return false;
        }
        tokio::time::sleep(poll).await;
        poll = (poll * 2).min(STOP_POLL);
    }
}

fn log_path(logs: &Path, app: &AppName, id: &str) -> PathBuf {
    logs.join(app.as_str()).join(format!("{id}.log"))
}

impl Runtime for LocalRuntime {
    async fn start(&self, spec: &InstanceSpec) -> Result<Instance, RuntimeError> {
        let Some(command) = spec.command.as_deref() else {
            return Err(RuntimeError::Failed(format!(
                "service {} has no command; the local runtime runs `command`",
                spec.service
            )));
        };
        let id = process::new_id(spec)?;
        let port = process::free_port()?;
        let log = log_path(&self.logs, &spec.app, &id);
        if let Some(dir) = log.parent() {
            tokio::fs::create_dir_all(dir).await.map_err(|e| {
                RuntimeError::Transient(format!("cannot create {}: {e}", dir.display()))
            })?;
        }
        let launched = process::launch(spec, command, &id, port, &log)?;
        let record = InstanceRecord {
            id: id.clone(),
            app: spec.app.clone(),
            service: spec.service.clone(),
            release: spec.release.clone(),
            port,
            pid: launched.pid,
            start_time: launched.start_time,
            started_at: Utc::now(),
            log,
        };
        let pid = launched.pid;
        self.reap(&id, launched);
        if let Err(e) = self.records.write(&record).await {
            // Unrecorded, it could never be found again: do not leave it running.
            let target = self.target(&id).await.ok().flatten();
            if let Some(target) = target {
                let _ = terminate(&id, &target, Duration::ZERO).await;
            }
            self.children().remove(&id);
            return Err(RuntimeError::Transient(format!(
                "cannot record instance {id}: {e}"
            )));
        }
        tracing::info!(instance = %id, app = %spec.app, release = %spec.release, pid, port, "started instance");
        Ok(record.instance())
    }

    async fn instances(&self, app: &AppName) -> Result<Vec<Instance>, RuntimeError> {
        let records =
            self.records.list().await.map_err(|e| {
                RuntimeError::Transient(format!("cannot list instance records: {e}"))
            })?;
        Ok(records
            .iter()
            .filter(|r| &r.app == app)
            .map(InstanceRecord::instance)
            .collect())
    }

    async fn probe(&self, instance: &Instance, health: Option<&Health>) -> Probe {
        let target = match self.target(&instance.id).await {
            Ok(Some(target)) => target,
            Ok(None) => return Probe::Gone(NOT_RUNNING.to_owned()),
            Err(e) => return Probe::Unhealthy(e.to_string()),
        };
        if let Some(why) = target.gone() {
            return Probe::Gone(why);
        }
        match (health, instance.port) {
            (None, _) => Probe::Healthy,
            (Some(health), Some(port)) => health::check(&self.http, port, health).await,
            (Some(_), None) => Probe::Unhealthy("has no port to check".to_owned()),
        }
    }

    async fn stop(&self, instance: &Instance, grace: Duration) -> Result<(), RuntimeError> {
        let id = &instance.id;
        if let Some(target) = self.target(id).await? {
            terminate(id, &target, grace).await?;
        }
        self.records.remove(id).await.map_err(|e| {
            RuntimeError::Transient(format!("cannot remove the record of instance {id}: {e}"))
        })?;
        self.children().remove(id);
        tracing::info!(instance = %id, "stopped instance");
        Ok(())
    }
}
