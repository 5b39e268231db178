//! Instance records: one JSON file per instance under `state_dir/instances/`.
//!
//! The records, not the memory of one worker process, are the truth about what
//! runs: a worker that starts after another was SIGKILLed lists, probes and stops
//! the instances the first one started from these files.

mod listing;

use std::collections::HashSet;
use std::ffi::OsString;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use slipway_core::domain::{AppName, ReleaseId, ServiceName};

use crate::runtime::Instance;
use listing::{scan, Seen};

/// How temporary record files end (`.<id>.json.tmp`).
const TEMP_SUFFIX: &str = ".json.tmp";
/// A temp file this old belongs to no writer still running: a write takes milliseconds.
const STALE_TEMP: Duration = Duration::from_secs(60);

/// What the runtime remembers of one instance. Holds no env: values are secrets.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub(super) struct InstanceRecord {
    pub id: String,
    pub app: AppName,
    pub service: ServiceName,
    pub release: ReleaseId,
    /// The assigned `$PORT`.
    pub port: u16,
    /// Pid of the process leading the instance's process group (= the group
    /// id): the app itself, or the `sh` running its command line.
    pub pid: i32,
    /// Field 22 of `/proc/<pid>/stat` at launch: a reused pid has another one.
    /// `None` where `/proc` could not be read.
    pub start_time: Option<u64>,
    pub started_at: DateTime<Utc>,
    /// Where stdout and stderr go.
    pub log: PathBuf,
}

impl InstanceRecord {
    /// The instance as the `Runtime` trait shows it.
    pub fn instance(&self) -> Instance {
        Instance {
            id: self.id.clone(),
            app: self.app.clone(),
            service: self.service.clone(),
            release: self.release.clone(),
            port: Some(self.port),
            started_at: self.started_at,
            stopping: false,
        }
    }
}

/// The directory of instance records.
#[derive(Debug)]
pub(super) struct RecordDir {
    dir: PathBuf,
    /// What this worker knows of the directory (see [`Seen`]).
    seen: Arc<Mutex<Seen>>,
}

impl RecordDir {
    /// Records live in `dir`, which must exist.
    pub fn new(dir: PathBuf) -> Self {
        Self {
            dir,
            seen: Arc::default(),
        }
    }

    /// The record file of `id`, or `None` when `id` could not be one of ours
    /// (ids come from callers; one with `/` or `..` must not name another file).
    fn path(&self, id: &str) -> Option<PathBuf> {
        let safe = !id.is_empty()
            && !id.starts_with('-')
            && id
                .bytes()
                .all(|b| matches!(b, b'a'..=b'z' | b'0'..=b'9' | b'-'));
        safe.then(|| self.dir.join(format!("{id}.json")))
    }

    /// Writes the record atomically (temp file, then rename), so a reader never
    /// sees half a record even when the writer dies mid-way. Blocking, with no
    /// await point: `start` runs it right after the launch, where giving up
    /// half-way would leave a process nobody knows of.
    pub fn write_blocking(&self, record: &InstanceRecord) -> io::Result<()> {
        let path = self.path(&record.id).ok_or_else(|| bad_id(&record.id))?;
        let tmp = self.dir.join(format!(".{}{TEMP_SUFFIX}", record.id));
        let json = serde_json::to_vec_pretty(record).map_err(io::Error::other)?;
        let written = write_synced(&tmp, &json).and_then(|()| std::fs::rename(&tmp, &path));
        match &written {
            Ok(()) => lock(&self.seen).remember(file_name(&path), record.clone()),
            Err(_) => {
                let _ = std::fs::remove_file(&tmp);
            }
        }
        written
    }

    /// Removes temp files older than [`STALE_TEMP`]: left by a worker that died
    /// between writing and renaming (younger ones may be another worker's, mid-write).
    pub fn remove_stale_temp_files(&self) -> io::Result<()> {
        for entry in std::fs::read_dir(&self.dir)? {
            let entry = entry?;
            let name = entry.file_name();
            let is_temp = name
                .to_str()
                .is_some_and(|n| n.starts_with('.') && n.ends_with(TEMP_SUFFIX));
            let age = entry
                .metadata()
                .and_then(|m| m.modified())
                .ok()
                .and_then(|t| t.elapsed().ok());
            if is_temp && age.is_some_and(|age| age >= STALE_TEMP) {
                match std::fs::remove_file(entry.path()) {
                    Err(e) if e.kind() != io::ErrorKind::NotFound => return Err(e),
                    _ => tracing::info!(file = ?name, "removed a stale temporary instance record"),
                }
            }
        }
        Ok(())
    }

    /// The record of `id`; `None` when there is none. One read before comes
    /// from memory (records never change): a record another worker removed
    /// drops out at the next listing, and it removes one only after its
    /// instance is gone, which the caller finds out from the process.
    pub async fn read(&self, id: &str) -> io::Result<Option<InstanceRecord>> {
        let Some(path) = self.path(id) else {
            return Ok(None);
        };
        let name = file_name(&path);
        if let Some(record) = lock(&self.seen).get(&name) {
            return Ok(Some(record));
        }
        match tokio::fs::read(&path).await {
            Ok(bytes) => {
                let record = parse(&bytes)?;
                lock(&self.seen).remember(name, record.clone());
                Ok(Some(record))
            }
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// Every readable record of `app`, or of every app; unreadable or
    /// corrupt ones are skipped with a warning. One blocking task: the
    /// directory is read, and of the files only those not read before.
    pub async fn list(&self, app: Option<&AppName>) -> io::Result<Vec<InstanceRecord>> {
        let (dir, seen, app) = (self.dir.clone(), self.seen.clone(), app.cloned());
        tokio::task::spawn_blocking(move || {
            scan(&dir, &seen)?;
            Ok(lock(&seen).records(app.as_ref()))
        })
        .await
        .map_err(io::Error::other)?
    }

    /// The records of `app` as a listing that began at most `within` ago
    /// found them, with this worker's own writes and removals since; from
    /// memory, without a task of its own. A new listing when there was none
    /// that recent. For a rollout's looks: between its own starts and stops
    /// nothing else changes its app's records (it holds the deployment's
    /// lease, and supervisors leave an app with a deployment alone).
    pub async fn list_recent(
        &self,
        app: &AppName,
        within: Duration,
    ) -> io::Result<Vec<InstanceRecord>> {
        if let Some(records) = lock(&self.seen).recent(app, within) {
            return Ok(records);
        }
        self.list(Some(app)).await
    }

    /// The ports of every recorded instance, this worker's and the others'.
    /// Blocking: for `start`, which runs on the blocking pool anyway.
    pub fn ports_blocking(&self) -> io::Result<HashSet<u16>> {
        scan(&self.dir, &self.seen)?;
        Ok(lock(&self.seen).ports())
    }

    /// Forgets `id`; Ok when there was no record.
    pub async fn remove(&self, id: &str) -> io::Result<()> {
        let Some(path) = self.path(id) else {
            return Ok(());
        };
        let removed = match tokio::fs::remove_file(&path).await {
            Err(e) if e.kind() != io::ErrorKind::NotFound => Err(e),
            _ => Ok(()),
        };
        lock(&self.seen).forget(&file_name(&path));
        removed
    }
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    // Each holder does one lookup, insert or retain: nothing half-done to fear.
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

fn write_synced(path: &Path, bytes: &[u8]) -> io::Result<()> {
    use std::io::Write;
    let mut file = std::fs::File::create(path)?;
    file.write_all(bytes)?;
    // Durable before the rename makes it visible: after a power loss the record
    // is either the old state (absent) or complete.
    file.sync_all()
}

fn parse(bytes: &[u8]) -> io::Result<InstanceRecord> {
    serde_json::from_slice(bytes).map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e))
}

/// `<id>.json`, not a temp file (those start with `.`).
fn is_record_file(path: &Path) -> bool {
    let Some(name) = path.file_name().and_then(|n| n.to_str()) else {
        return false;
    };
    !name.starts_with('.') && name.ends_with(".json")
}

fn file_name(path: &Path) -> OsString {
    path.file_name().map(OsString::from).unwrap_or_default()
}

fn bad_id(id: &str) -> io::Error {
    io::Error::new(
        io::ErrorKind::InvalidInput,
        format!("{id:?} is not an instance id"),
    )
}
