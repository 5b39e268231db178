//! The bottom layer: each table's diesel row, its conversion to what the
//! store hands out, and the few queries on it that more than one aggregate
//! needs (finding a row, the app lock, the latest release). Nothing here
//! records events: the aggregates above do, through `event_log`. This layer
//! imports nothing else in the store but `schema`, `error` and `sealed`.

pub(crate) mod apps;
pub(crate) mod builds;
pub(crate) mod deliveries;
pub(crate) mod deployments;
pub(crate) mod domains;
pub(crate) mod events;
pub(crate) mod logs;
pub(crate) mod new_releases;
pub(crate) mod processes;
pub(crate) mod releases;
pub(crate) mod sessions;
pub(crate) mod tokens;
pub(crate) mod webhooks;

use super::error::StoreError;
use chrono::{NaiveDateTime, Utc};

/// The most rows one batch `INSERT` carries: each row is a bind parameter
/// per column, and PostgreSQL takes at most 65,535 of them per statement
/// (SQLite 32,766).
pub(crate) const ROWS_PER_INSERT: usize = 1_000;

/// Now, at the precision both databases keep (microseconds), so what a write
/// returns equals what a later read returns.
pub(crate) fn now() -> NaiveDateTime {
    use chrono::SubsecRound;
    Utc::now().naive_utc().trunc_subsecs(6)
}

/// A stored value that fails to parse: the database is corrupt.
fn parse<T, E: std::fmt::Display>(result: Result<T, E>) -> Result<T, StoreError> {
    result.map_err(StoreError::corrupt)
}
