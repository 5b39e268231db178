//! Retention of finished jobs on Redis.
//!
//! apalis-redis keeps every job it has run: its payload in the `<queue>:data`
//! hash, its metadata hash `<queue>:meta:<id>` (status, attempts, result,
//! `done_at`), and its id in the `<queue>:done` or `<queue>:dead` set; about
//! half a kilobyte a job, forever. [`sweep_finished`] removes the finished
//! jobs a [`JobRetention`] does not keep, in batches of [`SWEEP_BATCH`] (one
//! Lua script call each, so Redis is never blocked for long).
//!
//! Safe while workers run: only ids from the done and dead sets are
//! candidates (a pending job waits in the scheduled set, where apalis-redis
//! files every push, due at once, or in the active list once due; a retrying
//! one in the scheduled set; a running one in its worker's in-flight set),
//! and the script checks each again, atomically, before removing it
//! (`retention/remove.lua`). Job ids are never reused, so a finished job
//! never runs again. apalis's own `vacuum` is not used: it removes every job
//! whose status reads `Failed`, including one waiting in the scheduled set
//! for its retry, and leaves the ids behind in the done and dead sets.
//!
//! Idempotent: sweeps running at once on several workers remove each job
//! once; the others skip it.
//!
//! A sweep that removed most finished jobs then rewrites the queue's hashes
//! and sets in one script (`retention/compact.lua`): Redis would otherwise
//! keep their tables at the size of the backlog swept.

use std::collections::HashSet;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use futures_util::TryStreamExt;
use redis::aio::ConnectionManager;
use redis::{AsyncCommands, ScanOptions};

use crate::error::QueueError;
use crate::producer::RedisQueue;

/// Finished jobs kept by default, newest first.
pub const DEFAULT_KEEP_LAST: usize = 10_000;
/// Age after which a finished job is removed by default: a week.
pub const DEFAULT_KEEP_FOR: Duration = Duration::from_secs(7 * 24 * 60 * 60);
/// Jobs removed per round trip (one script call).
pub const SWEEP_BATCH: usize = 500;

/// Ids read per `SSCAN` call, and `done_at` stamps per pipeline.
const READ_BATCH: usize = 1_000;
/// Entries per command when a key is rewritten (Lua's `unpack` has a limit).
const COMPACT_BATCH: usize = 1_000;

/// Which finished jobs stay in Redis. Both limits apply: a finished job stays
/// while it is among the newest `keep_last` *and* finished less than
/// `keep_for` ago, so whichever is stricter wins (the count bounds memory,
/// the age bounds how long a job's trace stays).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct JobRetention {
    /// Finished jobs kept, newest first; `None`: no limit on the count.
    pub keep_last: Option<usize>,
    /// Finished jobs older than this are removed; `None`: no limit on age.
    pub keep_for: Option<Duration>,
}

impl Default for JobRetention {
    /// The newest [`DEFAULT_KEEP_LAST`] finished in the last [`DEFAULT_KEEP_FOR`].
    fn default() -> Self {
        Self {
            keep_last: Some(DEFAULT_KEEP_LAST),
            keep_for: Some(DEFAULT_KEEP_FOR),
        }
    }
}

impl JobRetention {
    /// Keeps every finished job: sweeping would remove nothing.
    pub const FOREVER: JobRetention = JobRetention {
        keep_last: None,
        keep_for: None,
    };

    /// Whether no finished job is ever removed.
    pub fn keeps_everything(&self) -> bool {
        self.keep_last.is_none() && self.keep_for.is_none()
    }

    /// The ids of `finished` (id, `done_at` in Unix seconds; `None` when its
    /// metadata is gone) to remove at `now` (Unix seconds).
    fn to_remove(self, mut finished: Vec<(u64, String)>, now: u64) -> Vec<String> {
        // Newest first; ids (ULIDs) order jobs finished in the same second.
        finished.sort_unstable_by(|a, b| b.cmp(a));
        let cutoff = self.keep_for.map(|age| now.saturating_sub(age.as_secs()));
        finished
            .into_iter()
            .enumerate()
            .filter(|(rank, (done_at, _))| {
                self.keep_last.is_some_and(|keep| *rank >= keep)
                    || cutoff.is_some_and(|cutoff| *done_at < cutoff)
            })
            .map(|(_, (_, id))| id)
            .collect()
    }
}

/// What one sweep found and did.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Swept {
    /// Finished jobs found in the done and dead sets.
    pub finished: usize,
    /// Jobs removed, with every key they had.
    pub removed: usize,
    /// Jobs chosen but left alone: no longer finished, or already removed by
    /// another sweep.
    pub skipped: usize,
    /// Removal round trips (script calls).
    pub batches: usize,
    /// Metadata keys of workers no longer registered, deleted.
    pub workers_forgotten: usize,
    /// The queue's hashes and sets were rewritten at the end, to give back
    /// the tables they had grown to (done when most finished jobs went).
    pub compacted: bool,
}

/// Removes the finished jobs of `queue` that `retention` does not keep, in
/// batches of [`SWEEP_BATCH`].
pub async fn sweep_finished(
    queue: &RedisQueue,
    retention: &JobRetention,
) -> Result<Swept, QueueError> {
    sweep_in_batches(queue, retention, SWEEP_BATCH).await
}

/// [`sweep_finished`] with `batch` jobs per round trip (at least one).
pub async fn sweep_in_batches(
    queue: &RedisQueue,
    retention: &JobRetention,
    batch: usize,
) -> Result<Swept, QueueError> {
    if retention.keeps_everything() {
        return Ok(Swept::default());
    }
    let keys = Keys::of(queue);
    let mut conn = queue.connection();
    let finished = finished_jobs(&mut conn, &keys).await?;
    let mut swept = Swept {
        finished: finished.len(),
        ..Swept::default()
    };
    let remove = retention.to_remove(finished, unix_now());
    let script = redis::Script::new(include_str!("retention/remove.lua"));
    for ids in remove.chunks(batch.max(1)) {
        let mut call = script.prepare_invoke();
        call.key(&keys.done)
            .key(&keys.dead)
            .key(&keys.failed)
            .key(&keys.scheduled)
            .key(&keys.data)
            .arg(&keys.meta)
            .arg(&keys.idempotency);
        for id in ids {
            call.arg(id);
        }
        let (removed, skipped): (usize, usize) =
            call.invoke_async(&mut conn).await.map_err(failed)?;
        swept.removed += removed;
        swept.skipped += skipped;
        swept.batches += 1;
    }
    swept.workers_forgotten = forget_gone_workers(&mut conn, &keys).await?;
    // Most of what was there is gone: rewrite what is left (see compact.lua).
    if swept.removed > 0 && swept.removed >= swept.finished - swept.removed {
        redis::Script::new(include_str!("retention/compact.lua"))
            .key(&keys.done)
            .key(&keys.dead)
            .key(&keys.failed)
            .key(&keys.data)
            .key(format!("{}:result", keys.meta))
            .arg(COMPACT_BATCH)
            .invoke_async::<()>(&mut conn)
            .await
            .map_err(failed)?;
        swept.compacted = true;
    }
    Ok(swept)
}

/// The keys of one queue, as apalis-redis names them.
struct Keys {
    done: String,
    dead: String,
    failed: String,
    scheduled: String,
    data: String,
    meta: String,
    idempotency: String,
    workers: String,
    /// Prefix of each worker's metadata key, up to its name.
    worker_metadata: String,
}

impl Keys {
    fn of(queue: &RedisQueue) -> Self {
        let config = queue.config();
        Self {
            done: config.done_jobs_set(),
            dead: config.dead_jobs_set(),
            failed: config.failed_jobs_set(),
            scheduled: config.scheduled_jobs_set(),
            data: config.job_data_hash(),
            meta: config.job_meta_hash(),
            idempotency: config.idempotency_key_set(),
            workers: config.workers_set(),
            worker_metadata: format!("{}:workers:metadata:", config.queue.as_ref()),
        }
    }
}

/// Deletes the metadata of workers that are no longer registered (see
/// `retention/forget_workers.lua`); returns how many.
async fn forget_gone_workers(
    conn: &mut ConnectionManager,
    keys: &Keys,
) -> Result<usize, QueueError> {
    let pattern = format!("{}*", keys.worker_metadata);
    let scan = ScanOptions::default()
        .with_pattern(pattern)
        .with_count(READ_BATCH);
    let found: Vec<String> = conn
        .scan_options(scan)
        .await
        .map_err(failed)?
        .try_collect()
        .await
        .map_err(failed)?;
    let names: Vec<&str> = found
        .iter()
        .filter_map(|key| key.strip_prefix(&keys.worker_metadata))
        .collect();
    let script = redis::Script::new(include_str!("retention/forget_workers.lua"));
    let mut forgotten = 0;
    for chunk in names.chunks(SWEEP_BATCH) {
        let mut call = script.prepare_invoke();
        call.key(&keys.workers).arg(&keys.worker_metadata);
        for name in chunk {
            call.arg(name);
        }
        forgotten += call.invoke_async::<usize>(conn).await.map_err(failed)?;
    }
    Ok(forgotten)
}

/// Every id in the done and dead sets, with when it finished (0 when its
/// metadata is gone: it goes first).
async fn finished_jobs(
    conn: &mut ConnectionManager,
    keys: &Keys,
) -> Result<Vec<(u64, String)>, QueueError> {
    let mut ids = HashSet::new();
    for set in [&keys.done, &keys.dead] {
        let mut cursor = 0u64;
        loop {
            let (next, found): (u64, Vec<String>) = redis::cmd("SSCAN")
                .arg(set)
                .arg(cursor)
                .arg("COUNT")
                .arg(READ_BATCH)
                .query_async(conn)
                .await
                .map_err(failed)?;
            ids.extend(found);
            if next == 0 {
                break;
            }
            cursor = next;
        }
    }
    let ids: Vec<String> = ids.into_iter().collect();
    let mut finished = Vec::with_capacity(ids.len());
    for chunk in ids.chunks(READ_BATCH) {
        let mut pipe = redis::pipe();
        for id in chunk {
            pipe.hget(format!("{}:{id}", keys.meta), "done_at");
        }
        let stamps: Vec<Option<String>> = pipe.query_async(conn).await.map_err(failed)?;
        for (id, stamp) in chunk.iter().zip(stamps) {
            let done_at = stamp.and_then(|s| s.parse().ok()).unwrap_or(0);
            finished.push((done_at, id.clone()));
        }
    }
    Ok(finished)
}

fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default()
        .as_secs()
}

fn failed(error: redis::RedisError) -> QueueError {
    QueueError::Redis(error.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn jobs(stamps: &[(u64, &str)]) -> Vec<(u64, String)> {
        stamps
            .iter()
            .map(|(at, id)| (*at, id.to_string()))
            .collect()
    }

    const DAY: u64 = 24 * 60 * 60;

    #[test]
    fn the_count_keeps_the_newest_and_ties_go_by_id() {
        let retention = JobRetention {
            keep_last: Some(2),
            keep_for: None,
        };
        let finished = jobs(&[(10, "A"), (30, "C"), (20, "B"), (30, "D")]);
        let mut removed = retention.to_remove(finished, 100);
        removed.sort();
        assert_eq!(removed, ["A", "B"]);
    }

    #[test]
    fn the_stricter_limit_wins() {
        let now = 100 * DAY;
        let finished = jobs(&[
            (now - 10 * DAY, "old"),
            (now - 2 * DAY, "recent"),
            (now - 60, "newest"),
        ]);
        let by_age = JobRetention {
            keep_last: Some(10),
            keep_for: Some(Duration::from_secs(7 * DAY)),
        };
        assert_eq!(by_age.to_remove(finished.clone(), now), ["old"]);
        let by_count = JobRetention {
            keep_last: Some(1),
            keep_for: Some(Duration::from_secs(7 * DAY)),
        };
        let mut removed = by_count.to_remove(finished.clone(), now);
        removed.sort();
        assert_eq!(removed, ["old", "recent"]);
        assert!(JobRetention::FOREVER.to_remove(finished, now).is_empty());
    }

    #[test]
    fn a_job_without_metadata_goes_first() {
        let retention = JobRetention {
            keep_last: Some(1),
            keep_for: None,
        };
        let finished = jobs(&[(0, "Z"), (5, "A")]);
        assert_eq!(retention.to_remove(finished, 10), ["Z"]);
    }
}
