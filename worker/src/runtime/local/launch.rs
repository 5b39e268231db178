//! Starting an instance: prepare its app's directory and user, launch the
//! process, write its record, hand it to a reaper.
//!
//! All of it is one blocking function without await points, run on tokio's
//! blocking pool. `LocalRuntime::start` only awaits its result, so a caller
//! that drops `start` (a `try_join_all` ended by another service's failure, a
//! timeout) cannot stop it between the launch and the record: every process
//! this runtime launches has a record, or is killed before `start` returns.

use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::sync::{Mutex, MutexGuard, PoisonError};

use chrono::Utc;
use nix::sys::signal::Signal;
use slipway_core::domain::AppName;
use tokio::sync::watch;

use super::isolation::AppHomes;
use super::port::{self, PortClaim};
use super::process::{self, Launched, Placement};
use super::record::{InstanceRecord, RecordDir};
use super::switch::Switch;
use super::InstanceSpec;
use super::Spawned;
use crate::runtime::{Instance, RuntimeError};

/// Ports chosen before a start gives up: each is one another start held.
const CLAIM_TRIES: usize = 16;

/// What starting needs, shared with the blocking tasks that start instances.
#[derive(Debug)]
pub(super) struct Launcher {
    pub records: RecordDir,
    pub logs: PathBuf,
    pub homes: AppHomes,
    /// Set when apps run under their own uids.
    pub switch: Option<Switch>,
    /// Instances this runtime spawned, by id; the rest are adopted from records.
    pub children: Mutex<HashMap<String, Spawned>>,
    /// Instances this runtime is stopping now, by id.
    pub stopping: Mutex<HashSet<String>>,
}

impl Launcher {
    pub fn stopping(&self) -> MutexGuard<'_, HashSet<String>> {
        // As for `children`: each operation is one insert or remove.
        self.stopping.lock().unwrap_or_else(PoisonError::into_inner)
    }

    pub fn children(&self) -> MutexGuard<'_, HashMap<String, Spawned>> {
        // The map stays consistent even if a holder panicked: each operation is one insert/remove.
        self.children.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Launches and records one instance of `spec`. Blocking; must run inside
    /// the tokio runtime (the child and its reaper belong to it).
    pub fn start_blocking(
        &self,
        spec: &InstanceSpec,
        command: &str,
    ) -> Result<Instance, RuntimeError> {
        let id = process::new_id(spec)?;
        // Held until the record below is written, then the record holds it.
        let (port, _claim) = self.claim_free_port()?;
        let home = self.homes.prepare(&spec.app).map_err(|e| {
            RuntimeError::Transient(format!(
                "cannot prepare the directory of app {}: {e}",
                spec.app
            ))
        })?;
        let log = log_path(&self.logs, &spec.app, &id);
        if let Some(dir) = log.parent() {
            std::fs::create_dir_all(dir).map_err(|e| {
                RuntimeError::Transient(format!("cannot create {}: {e}", dir.display()))
            })?;
        }
        let at = Placement {
            id: &id,
            port,
            log: &log,
            home: &home,
            switch: self.switch.as_ref(),
        };
        let launched = process::launch(spec, command, &at)?;
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
        if let Err(e) = self.records.write_blocking(&record) {
            // Unrecorded, it could never be found again: do not leave it running.
            if let Err(error) = process::signal_group(pid, Signal::SIGKILL) {
                tracing::warn!(instance = %id, %error, "cannot kill an instance that has no record");
            }
            let mut child = launched.child;
            tokio::spawn(async move {
                let _ = child.wait().await;
            });
            return Err(RuntimeError::Transient(format!(
                "cannot record instance {id}: {e}"
            )));
        }
        self.reap(&id, launched);
        tracing::info!(instance = %id, app = %spec.app, release = %spec.release, pid, port, uid = ?home.uid, "started instance");
        Ok(record.instance())
    }

    /// A free port and its claim: not recorded, not claimed by a start under
    /// way (this worker's or another's), nothing listening on it.
    fn claim_free_port(&self) -> Result<(u16, PortClaim), RuntimeError> {
        // The records are read once the port is claimed, not before: a
        // start that held the claim until its record was written has a record
        // by then. What they hold is skipped by the next tries.
        let mut taken = HashSet::new();
        for _ in 0..CLAIM_TRIES {
            let port = port::free_port(&taken)?;
            taken.insert(port);
            let claim = port::claim(port)
                .map_err(|e| RuntimeError::Transient(format!("cannot claim port {port}: {e}")))?;
            let Some(claim) = claim else { continue };
            let recorded = self.records.ports_blocking().map_err(|e| {
                RuntimeError::Transient(format!("cannot read the instance records: {e}"))
            })?;
            if !recorded.contains(&port) {
                return Ok((port, claim));
            }
            taken.extend(recorded);
        }
        Err(RuntimeError::Transient(format!(
            "no free port claimed in {CLAIM_TRIES} tries"
        )))
    }

    /// Keeps `child` waited for, so it never lingers as a zombie that looks alive,
    /// and remembers how it ended.
    fn reap(&self, id: &str, launched: Launched) {
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

pub(super) fn log_path(logs: &Path, app: &AppName, id: &str) -> PathBuf {
    logs.join(app.as_str()).join(format!("{id}.log"))
}
