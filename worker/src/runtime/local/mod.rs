//! The local runtime: each instance is a child process on this machine
//! (its command, run as `sh -c` would, in its own process group), for
//! `slipway dev` and tests.
//!
//! Instances outlive the worker that started them: each one is recorded as a
//! JSON file under `state_dir/instances/`, so another worker process (say,
//! after this one was SIGKILLed) lists, probes and stops them. Output goes to
//! `state_dir/logs/<app>/<instance-id>.log`. Both stay the worker's (mode
//! 0700); apps run in `state_dir/apps/<app>/`, as their own user when the
//! worker is root (see the `isolation` module).

mod command;
mod health;
mod isolation;
mod launch;
mod leader;
mod logs;
mod port;
mod process;
mod record;
pub mod switch;
mod waves;

pub use isolation::{protect_this_process, InvalidUidRange, UidRange, Users};
pub use waves::plan;

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use slipway_core::domain::{AppName, Env, Health, ReleaseId, ServiceName};

use crate::runtime::{
    Instance, Limits, LogChunk, Probe, Runtime, RuntimeError, Stop, Target, TornDown,
};
use isolation::AppHomes;
use launch::Launcher;
use leader::{terminate, Leader, Spawned};
use record::{InstanceRecord, RecordDir};
use slipway_core::domain::DeploymentId;
use switch::Switch;

/// The reason given for an instance that is not (or no longer) running.
pub(super) const NOT_RUNNING: &str = "is no longer running";

/// How old a listing of the records a rollout's look may answer from: the
/// supervisor lists them every 100 ms, so a look seldom reads the directory.
const RECENT_LISTING: Duration = Duration::from_millis(100);

/// What to start: one instance of one service of a release.
#[derive(Clone, Debug)]
pub struct InstanceSpec {
    pub app: AppName,
    pub service: ServiceName,
    pub release: ReleaseId,
    /// Run directly or by `sh -c` on the local runtime (see `command.rs`).
    pub command: Option<String>,
    /// The port the manifest declares (the local runtime assigns its own `$PORT`).
    pub port: Option<u16>,
    /// The release's env; its `Debug` shows keys only.
    pub env: Env,
}

/// Runs instances as child processes of this machine. See the module docs.
///
/// Dropping it leaves the instances running: they belong to the state dir,
/// not to this value. [`LocalRuntime::stop_all`] stops them.
#[derive(Debug)]
pub struct LocalRuntime {
    launcher: Arc<Launcher>,
    health: health::Checker,
    /// Held shared by every start until it ends (abandoned ones included),
    /// exclusively by `stop_all`, which so stops what they started too.
    starts: Arc<tokio::sync::RwLock<()>>,
}

impl LocalRuntime {
    /// A runtime keeping its records and logs under `state_dir` (created if
    /// needed), with apps under their own uids from the default range when
    /// this process is root. Instances recorded there by earlier runtimes are adopted.
    pub fn new(state_dir: impl Into<PathBuf>) -> Result<LocalRuntime, RuntimeError> {
        LocalRuntime::with_users(state_dir, Users::for_this_process(UidRange::DEFAULT))
    }

    /// A runtime over `state_dir` running apps as `users` say.
    pub fn with_users(
        state_dir: impl Into<PathBuf>,
        users: Users,
    ) -> Result<LocalRuntime, RuntimeError> {
        let state_dir = state_dir.into();
        let failed = |what: &str, e: std::io::Error| {
            RuntimeError::Failed(format!(
                "cannot set up {}: {what}: {e}",
                state_dir.display()
            ))
        };
        let instances = state_dir.join("instances");
        let logs = state_dir.join("logs");
        for dir in [&instances, &logs] {
            isolation::create_private_dir(dir).map_err(|e| failed("a private directory", e))?;
        }
        let records = RecordDir::new(instances);
        records
            .remove_stale_temp_files()
            .map_err(|e| failed("removing stale temporary records", e))?;
        let homes =
            AppHomes::new(&state_dir, users).map_err(|e| failed("the apps' directories", e))?;
        let switch = match users {
            Users::PerApp(range) => {
                let switch = Switch::for_this_process()?;
                tracing::info!(uids = %range, ?switch, "apps run under their own uids");
                Some(switch)
            }
            Users::Shared => None,
        };
        if let Some(warning) = users.warning() {
            tracing::warn!("{warning}");
        }
        Ok(LocalRuntime {
            launcher: Arc::new(Launcher {
                records,
                logs,
                homes,
                switch,
                children: Default::default(),
                stopping: Default::default(),
            }),
            health: health::Checker::default(),
            starts: Arc::default(),
        })
    }

    /// Stops every recorded instance, of every app, concurrently (each with
    /// `grace` between SIGTERM and SIGKILL), once the starts under way have
    /// ended; starts asked for meanwhile wait until it is done. Failures are
    /// logged, not returned: this is for shutting down, where nothing better
    /// can be done.
    pub async fn stop_all(&self, grace: Duration) {
        let _no_starts = self.starts.write().await;
        let records = match self.launcher.records.list(None).await {
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

    /// The process of `id`: ours, or from its record; `None` without either.
    async fn leader(&self, id: &str) -> Result<Option<Leader>, RuntimeError> {
        if let Some(spawned) = self.launcher.children().get(id).cloned() {
            return Ok(Some(Leader::Own(spawned)));
        }
        let record = self.launcher.records.read(id).await.map_err(|e| {
            RuntimeError::Transient(format!("cannot read the record of instance {id}: {e}"))
        })?;
        Ok(record.map(|r| Leader::Adopted {
            pid: r.pid,
            start_time: r.start_time,
        }))
    }
}

impl Runtime for LocalRuntime {
    async fn converge(&self, target: &Target, limits: &Limits<'_>) -> Result<(), Stop> {
        self.converge_waves(target, limits).await
    }

    async fn retire(
        &self,
        app: &AppName,
        release: &ReleaseId,
        deployment: &DeploymentId,
        limits: &Limits<'_>,
    ) -> Result<(), Stop> {
        self.retire_release(app, release, deployment, limits).await
    }

    async fn restore(
        &self,
        target: &Target,
        service: &ServiceName,
        missing: usize,
        limits: &Limits<'_>,
    ) -> Result<(), Stop> {
        self.start_missing(target, service, missing, limits).await
    }

    async fn forget(&self, instance: &Instance) -> Result<(), RuntimeError> {
        self.stop(instance, Duration::ZERO).await
    }

    async fn instances(&self, app: &AppName) -> Result<Vec<Instance>, RuntimeError> {
        self.recorded(Some(app)).await
    }

    async fn every_instance(&self) -> Result<Vec<Instance>, RuntimeError> {
        let all = self.recorded(None).await?;
        self.health.keep_only(|id| all.iter().any(|i| i.id == id));
        Ok(all)
    }

    async fn probe(&self, instance: &Instance, health: Option<&Health>) -> Probe {
        let leader = match self.leader(&instance.id).await {
            Ok(Some(leader)) => leader,
            Ok(None) => return Probe::Gone(NOT_RUNNING.to_owned()),
            Err(e) => return Probe::Unhealthy(e.to_string()),
        };
        if let Some(why) = leader.gone() {
            return Probe::Gone(why);
        }
        match (health, instance.port) {
            (None, _) => Probe::Healthy,
            (Some(health), Some(port)) => self.health.check(&instance.id, port, health).await,
            (Some(_), None) => Probe::Unhealthy("has no port to check".to_owned()),
        }
    }

    async fn read_log(&self, instance: &Instance, from: u64) -> Result<LogChunk, RuntimeError> {
        let path = launch::log_path(&self.launcher.logs, &instance.app, &instance.id);
        blocking(move || logs::read_from(&path, from)).await
    }

    /// One blocking task for all the reads.
    async fn read_logs(&self, reads: &[(&Instance, u64)]) -> Vec<Result<LogChunk, RuntimeError>> {
        let paths: Vec<(PathBuf, u64)> = reads
            .iter()
            .map(|(i, from)| (launch::log_path(&self.launcher.logs, &i.app, &i.id), *from))
            .collect();
        let read = tokio::task::spawn_blocking(move || {
            paths
                .iter()
                .map(|(path, from)| logs::read_from(path, *from))
                .collect::<Vec<_>>()
        })
        .await;
        match read {
            Ok(chunks) => chunks
                .into_iter()
                .map(|chunk| chunk.map_err(|e| RuntimeError::Transient(e.to_string())))
                .collect(),
            Err(e) => reads
                .iter()
                .map(|_| Err(RuntimeError::Transient(e.to_string())))
                .collect(),
        }
    }

    async fn tear_down(&self, app: &AppName, grace: Duration) -> Result<TornDown, RuntimeError> {
        self.stop_app(app, grace).await
    }

    async fn forget_app(&self, app: &AppName) -> Result<(), RuntimeError> {
        let launcher = self.launcher.clone();
        let app = app.clone();
        blocking(move || {
            launcher.homes.forget(&app)?;
            match std::fs::remove_dir_all(launcher.logs.join(app.as_str())) {
                Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(e),
                _ => Ok(()),
            }
        })
        .await
    }
}

impl LocalRuntime {
    /// The recorded instances of `app`, or of every app.
    async fn recorded(&self, app: Option<&AppName>) -> Result<Vec<Instance>, RuntimeError> {
        let records = self.launcher.records.list(app).await;
        self.as_instances(records)
    }

    /// The recorded instances of `app` as a rollout looks at them: as a
    /// listing at most [`RECENT_LISTING`] old found them, with this worker's
    /// own starts and stops since (see `RecordDir::list_recent`).
    async fn recently_recorded(&self, app: &AppName) -> Result<Vec<Instance>, RuntimeError> {
        let records = self.launcher.records.list_recent(app, RECENT_LISTING).await;
        self.as_instances(records)
    }

    fn as_instances(
        &self,
        records: std::io::Result<Vec<InstanceRecord>>,
    ) -> Result<Vec<Instance>, RuntimeError> {
        let records = records
            .map_err(|e| RuntimeError::Transient(format!("cannot list instance records: {e}")))?;
        let stopping = self.launcher.stopping();
        Ok(records
            .iter()
            .map(|r| Instance {
                stopping: stopping.contains(&r.id),
                ..r.instance()
            })
            .collect())
    }

    /// Starts one instance; returns once it is launched, not once healthy.
    /// Runs to its end even when the future is dropped, so no process is
    /// ever left without a record.
    pub async fn start(&self, spec: &InstanceSpec) -> Result<Instance, RuntimeError> {
        let Some(command) = spec.command.clone() else {
            return Err(RuntimeError::Failed(format!(
                "service {} has no command; the local runtime runs `command`",
                spec.service
            )));
        };
        let launcher = self.launcher.clone();
        let spec = spec.clone();
        let starting = self.starts.clone().read_owned().await;
        // Runs to its end even when this future is dropped: see `launch`.
        let started = tokio::task::spawn_blocking(move || {
            let _starting = starting;
            launcher.start_blocking(&spec, &command)
        })
        .await;
        started.map_err(|e| RuntimeError::Transient(format!("starting was interrupted: {e}")))?
    }

    /// Stops the instance gracefully: SIGTERM to its process group, SIGKILL
    /// after `grace`. Ok once it is gone, also when it was gone already; its
    /// record goes with it.
    pub async fn stop(&self, instance: &Instance, grace: Duration) -> Result<(), RuntimeError> {
        let id = &instance.id;
        // Shown as stopping until its record is gone, so nobody takes the
        // ended process for a crash meanwhile.
        self.launcher.stopping().insert(id.clone());
        let stopped = self.end(id, grace).await;
        self.launcher.stopping().remove(id);
        stopped?;
        tracing::info!(instance = %id, "stopped instance");
        // Off the stop's path: a rollout waits on its stops.
        let launcher = self.launcher.clone();
        let app = instance.app.clone();
        tokio::spawn(async move {
            if let Err(error) = prune_logs(&launcher, &app).await {
                tracing::warn!(%app, %error, "cannot prune old instance logs");
            }
        });
        Ok(())
    }

    /// Ends the instance's processes and forgets it.
    async fn end(&self, id: &str, grace: Duration) -> Result<(), RuntimeError> {
        self.health.forget(id);
        if let Some(leader) = self.leader(id).await? {
            terminate(id, &leader, grace).await?;
        }
        self.launcher.records.remove(id).await.map_err(|e| {
            RuntimeError::Transient(format!("cannot remove the record of instance {id}: {e}"))
        })?;
        self.launcher.children().remove(id);
        Ok(())
    }
}

/// Removes the log files of the app's stopped instances but the newest.
async fn prune_logs(launcher: &Launcher, app: &AppName) -> Result<(), RuntimeError> {
    let records = launcher
        .records
        .list(Some(app))
        .await
        .map_err(|e| RuntimeError::Transient(e.to_string()))?;
    let running: Vec<String> = records.into_iter().map(|r| r.id).collect();
    let dir = launcher.logs.join(app.as_str());
    blocking(move || logs::prune(&dir, &running)).await
}

/// Runs file work off the async threads; its failure is worth a retry.
async fn blocking<T: Send + 'static>(
    work: impl FnOnce() -> std::io::Result<T> + Send + 'static,
) -> Result<T, RuntimeError> {
    match tokio::task::spawn_blocking(work).await {
        Ok(Ok(value)) => Ok(value),
        Ok(Err(e)) => Err(RuntimeError::Transient(e.to_string())),
        Err(e) => Err(RuntimeError::Transient(e.to_string())),
    }
}
