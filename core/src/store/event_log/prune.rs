//! Retention of the event log: events and webhook deliveries older than a
//! retention period are deleted in batches, each one `DELETE` of at most
//! `batch` rows in a transaction of its own, so no lock is held for long and
//! writers (new events, delivery claims) go on meanwhile.
//!
//! Never deleted: a delivery still pending (due, retrying or claimed right
//! now), and an event one of whose deliveries is still pending. Releases,
//! builds and deployments are history and are never pruned; neither are the
//! webhooks themselves.

use super::super::rows::now;
use super::super::{DbConnection, Store, StoreError};
use diesel::sql_types::{BigInt, Timestamp};
use diesel::RunQueryDsl;
use std::time::{Duration, Instant};

/// How long events and deliveries are kept by default: 90 days.
pub const DEFAULT_EVENT_RETENTION: Duration = Duration::from_secs(90 * 24 * 60 * 60);
/// Rows deleted per statement (and so per transaction).
pub const PRUNE_BATCH: usize = 250;

/// What one pruning pass deleted, and how long its longest batch took.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Pruned {
    pub events: u64,
    pub deliveries: u64,
    /// Statements that deleted at least one row.
    pub batches: usize,
    /// The longest single batch (its whole transaction).
    pub longest_batch: Duration,
}

// Delivery rows first: an event goes only once none of its deliveries is pending.
const PG_DELIVERIES: &str = "DELETE FROM deliveries WHERE seq IN (\
    SELECT seq FROM deliveries WHERE created_at < $1 AND status <> 'pending' \
    LIMIT $2 FOR UPDATE SKIP LOCKED)";
const PG_EVENTS: &str = "DELETE FROM events WHERE seq IN (\
    SELECT e.seq FROM events e WHERE e.created_at < $1 AND NOT EXISTS (\
        SELECT 1 FROM deliveries d WHERE d.event = e.id AND d.status = 'pending') \
    LIMIT $2 FOR UPDATE OF e SKIP LOCKED)";
const SQLITE_DELIVERIES: &str = "DELETE FROM deliveries WHERE seq IN (\
    SELECT seq FROM deliveries WHERE created_at < ? AND status <> 'pending' LIMIT ?)";
const SQLITE_EVENTS: &str = "DELETE FROM events WHERE seq IN (\
    SELECT e.seq FROM events e WHERE e.created_at < ? AND NOT EXISTS (\
        SELECT 1 FROM deliveries d WHERE d.event = e.id AND d.status = 'pending') \
    LIMIT ?)";

#[derive(Clone, Copy)]
enum Table {
    Deliveries,
    Events,
}

impl Store {
    /// Deletes the events and deliveries created more than `keep` ago, in
    /// batches of [`PRUNE_BATCH`]; see the module's documentation for what
    /// stays. Blocking, like every store method.
    pub fn prune_event_log(&self, keep: Duration) -> Result<Pruned, StoreError> {
        self.prune_event_log_in_batches(keep, PRUNE_BATCH)
    }

    /// [`Store::prune_event_log`] with `batch` rows per statement (at least one).
    pub fn prune_event_log_in_batches(
        &self,
        keep: Duration,
        batch: usize,
    ) -> Result<Pruned, StoreError> {
        let keep = chrono::Duration::from_std(keep)
            .map_err(|_| StoreError::Config("retention period too long".into()))?;
        let cutoff = now()
            .checked_sub_signed(keep)
            .ok_or_else(|| StoreError::Config("retention period too long".into()))?;
        let batch = i64::try_from(batch.max(1)).unwrap_or(i64::MAX);
        self.read(|conn| {
            let mut pruned = Pruned::default();
            for table in [Table::Deliveries, Table::Events] {
                loop {
                    let started = Instant::now();
                    let deleted = delete_batch(conn, table, cutoff, batch)?;
                    if deleted == 0 {
                        break;
                    }
                    pruned.batches += 1;
                    pruned.longest_batch = pruned.longest_batch.max(started.elapsed());
                    match table {
                        Table::Deliveries => pruned.deliveries += deleted as u64,
                        Table::Events => pruned.events += deleted as u64,
                    }
                    if (deleted as i64) < batch {
                        break;
                    }
                }
            }
            Ok(pruned)
        })
    }
}

/// One batch: a single statement, committed on its own.
fn delete_batch(
    conn: &mut DbConnection,
    table: Table,
    cutoff: chrono::NaiveDateTime,
    batch: i64,
) -> Result<usize, StoreError> {
    let deleted = match conn {
        DbConnection::Postgresql(pg) => {
            let sql = match table {
                Table::Deliveries => PG_DELIVERIES,
                Table::Events => PG_EVENTS,
            };
            diesel::sql_query(sql)
                .bind::<Timestamp, _>(cutoff)
                .bind::<BigInt, _>(batch)
                .execute(pg)?
        }
        DbConnection::Sqlite(lite) => {
            let sql = match table {
                Table::Deliveries => SQLITE_DELIVERIES,
                Table::Events => SQLITE_EVENTS,
            };
            diesel::sql_query(sql)
                .bind::<Timestamp, _>(cutoff)
                .bind::<BigInt, _>(batch)
                .execute(lite)?
        }
    };
    Ok(deleted)
}
