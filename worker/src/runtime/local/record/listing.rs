//! Listing the record directory, and what a worker remembers of it between
//! listings.

use std::collections::{HashMap, HashSet};
use std::ffi::OsString;
use std::io;
use std::path::Path;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use slipway_core::domain::AppName;

use super::{is_record_file, lock, parse, InstanceRecord};

/// The records this worker read, wrote or found so far, by file name. A
/// record is written once, under a new id, and never changed, so one read
/// stays true for as long as its file exists: a listing reads only the files
/// it has not seen.
#[derive(Debug, Default)]
pub(super) struct Seen {
    known: HashMap<OsString, Known>,
    /// When the newest finished listing began.
    listed_at: Option<Instant>,
}

#[derive(Debug)]
struct Known {
    record: InstanceRecord,
    /// When this worker learnt of it.
    since: Instant,
}

impl Seen {
    pub(super) fn get(&self, name: &OsString) -> Option<InstanceRecord> {
        self.known.get(name).map(|k| k.record.clone())
    }

    pub(super) fn remember(&mut self, name: OsString, record: InstanceRecord) {
        let since = Instant::now();
        self.known.insert(name, Known { record, since });
    }

    pub(super) fn forget(&mut self, name: &OsString) {
        self.known.remove(name);
    }

    /// The records of `app`, or of every app, oldest first.
    pub(super) fn records(&self, app: Option<&AppName>) -> Vec<InstanceRecord> {
        let mut records: Vec<InstanceRecord> = self
            .known
            .values()
            .map(|k| &k.record)
            .filter(|r| app.is_none_or(|app| &r.app == app))
            .cloned()
            .collect();
        records.sort_by(|a, b| (a.started_at, &a.id).cmp(&(b.started_at, &b.id)));
        records
    }

    /// [`Seen::records`] of `app`, if a listing began at most `within` ago.
    pub(super) fn recent(&self, app: &AppName, within: Duration) -> Option<Vec<InstanceRecord>> {
        let fresh = self.listed_at.is_some_and(|at| at.elapsed() <= within);
        fresh.then(|| self.records(Some(app)))
    }

    pub(super) fn ports(&self) -> HashSet<u16> {
        self.known.values().map(|k| k.record.port).collect()
    }

    /// Forgets the records whose files a listing that began at `began` did
    /// not find (their instances were stopped), but not those this worker
    /// learnt of after that: they were written after the directory was read.
    /// The names found that are not known yet, to be read.
    fn settle(&mut self, names: HashSet<OsString>, began: Instant) -> Vec<OsString> {
        self.known
            .retain(|name, k| names.contains(name) || k.since >= began);
        names
            .into_iter()
            .filter(|name| !self.known.contains_key(name))
            .collect()
    }

    fn listed(&mut self, began: Instant) {
        self.listed_at = Some(self.listed_at.map_or(began, |at| at.max(began)));
    }
}

/// Reads the directory, and of its records those not known yet, into `seen`;
/// unreadable or corrupt ones are skipped with a warning. Blocking.
pub(super) fn scan(dir: &Path, seen: &Mutex<Seen>) -> io::Result<()> {
    let began = Instant::now();
    let mut names = HashSet::new();
    for entry in std::fs::read_dir(dir)? {
        let name = entry?.file_name();
        if is_record_file(Path::new(&name)) {
            names.insert(name);
        }
    }
    let unread = lock(seen).settle(names, began);
    for name in unread {
        let path = dir.join(&name);
        match std::fs::read(&path).and_then(|b| parse(&b)) {
            Ok(record) => lock(seen).remember(name, record),
            // Removed by a concurrent stop between listing and reading.
            Err(e) if e.kind() == io::ErrorKind::NotFound => {}
            Err(error) => {
                tracing::warn!(path = %path.display(), %error, "skipping unreadable instance record");
            }
        }
    }
    lock(seen).listed(began);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::super::RecordDir;
    use super::*;
    use chrono::Utc;
    use slipway_core::domain::{ReleaseId, ServiceName};

    fn record(id: &str, app: &str, port: u16) -> InstanceRecord {
        InstanceRecord {
            id: id.to_owned(),
            app: AppName::parse(app).expect("an app name"),
            service: ServiceName::parse("web").expect("a service name"),
            release: ReleaseId::parse("RABCDEFGHIJ").expect("a release id"),
            port,
            pid: 1,
            start_time: None,
            started_at: Utc::now(),
            log: "/dev/null".into(),
        }
    }

    fn ids(records: &[InstanceRecord]) -> Vec<&str> {
        records.iter().map(|r| r.id.as_str()).collect()
    }

    /// Another worker's record: written straight to the directory.
    fn write_as_another_worker(dir: &Path, record: &InstanceRecord) {
        let json = serde_json::to_vec(record).expect("json");
        std::fs::write(dir.join(format!("{}.json", record.id)), json).expect("write");
    }

    #[tokio::test]
    async fn a_recent_listing_answers_from_memory_with_this_workers_own_changes() {
        let dir = tempfile::tempdir().expect("a temporary directory");
        let records = RecordDir::new(dir.path().to_owned());
        let app = AppName::parse("shop").expect("an app name");
        let within = Duration::from_secs(60);
        assert!(
            lock(&records.seen).recent(&app, within).is_none(),
            "nothing listed yet"
        );
        write_as_another_worker(dir.path(), &record("a", "shop", 20_000));
        let listed = records.list_recent(&app, within).await.expect("list");
        assert_eq!(ids(&listed), ["a"], "the first look lists the directory");

        write_as_another_worker(dir.path(), &record("b", "shop", 20_001));
        records
            .write_blocking(&record("c", "shop", 20_002))
            .expect("write");
        records
            .write_blocking(&record("d", "mail", 20_003))
            .expect("write");
        records.remove("a").await.expect("remove");
        let recent = records.list_recent(&app, within).await.expect("list");
        assert_eq!(
            ids(&recent),
            ["c"],
            "own writes and removals, not the other worker's write since"
        );
        let now = records
            .list_recent(&app, Duration::ZERO)
            .await
            .expect("list");
        assert_eq!(ids(&now), ["b", "c"], "a listing too old is done again");
        assert_eq!(
            records.ports_blocking().expect("ports"),
            HashSet::from([20_001, 20_002, 20_003])
        );
    }

    #[test]
    fn a_listing_forgets_only_what_it_should_have_found() {
        let mut seen = Seen::default();
        seen.remember("old.json".into(), record("old", "shop", 20_000));
        seen.remember("kept.json".into(), record("kept", "shop", 20_001));
        let began = Instant::now();
        // Written by this worker after the directory was read, before the
        // listing took the lock.
        seen.remember("new.json".into(), record("new", "shop", 20_002));
        let found = HashSet::from(["kept.json".into(), "other.json".into()]);
        let unread = seen.settle(found, began);
        assert_eq!(unread, [OsString::from("other.json")]);
        assert_eq!(ids(&seen.records(None)), ["kept", "new"]);
        // A listing that began after the write and did not find it: gone.
        std::thread::sleep(Duration::from_millis(1));
        let unread = seen.settle(HashSet::from(["kept.json".into()]), Instant::now());
        assert!(unread.is_empty());
        assert_eq!(ids(&seen.records(None)), ["kept"]);
    }
}
