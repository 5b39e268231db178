//! Idempotency keys (the IETF httpapi `Idempotency-Key` draft): the key is
//! written in the transaction of the work it guards, then the response is
//! recorded for repeats to replay, for [`IDEMPOTENCY_TTL`].

use super::rows::now;
use super::schema::idempotency_keys as keys;
use super::sealed::RESPONSE;
use super::tokens::{authenticate_on, Identity};
use super::{DbConnection, Store, StoreError};
use crate::domain::TokenId;
use chrono::{NaiveDateTime, TimeDelta};
use diesel::prelude::*;
use diesel::result::{DatabaseErrorKind, Error as DieselError};
use diesel::sql_types::{Integer, Text, Timestamp};
use std::sync::atomic::{AtomicBool, AtomicI64, Ordering};
use std::sync::Arc;

/// How long a key and its response are kept.
pub const IDEMPOTENCY_TTL: TimeDelta = TimeDelta::hours(24);

/// A key with no response this long after its work committed lost its
/// response (the process stopped in between): no request runs this long.
const RESPONSE_GRACE: TimeDelta = TimeDelta::minutes(5);

/// What the key has seen before.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Prior {
    /// Nothing: do the work.
    New,
    /// The key was used with a different request.
    Mismatch,
    /// The first request is still running (`lost`: it committed its work
    /// long ago but its response was never recorded).
    InProgress { lost: bool },
    /// The first request's response, to replay.
    Done { status: u16, body: String },
}

/// A request's key, carried by a [`Store::guarded`] handle into the
/// transaction of its first write.
#[derive(Debug)]
pub struct IdempotencyGuard {
    token: TokenId,
    key: String,
    fingerprint: String,
    claimed: AtomicBool,
}

impl IdempotencyGuard {
    pub fn new(token: TokenId, key: String, fingerprint: String) -> IdempotencyGuard {
        IdempotencyGuard {
            token,
            key,
            fingerprint,
            claimed: AtomicBool::new(false),
        }
    }

    /// Whether a write carrying this key has committed.
    pub fn is_claimed(&self) -> bool {
        self.claimed.load(Ordering::Acquire)
    }

    /// Inserts the key inside the current transaction; a key already there
    /// (a concurrent request with it committed first) fails the work.
    pub(super) fn claim_in(&self, conn: &mut DbConnection) -> Result<(), StoreError> {
        if self.is_claimed() {
            return Ok(());
        }
        let now = now();
        diesel::delete(this_key(&self.token, &self.key).filter(keys::expires_at.le(now)))
            .execute(conn)?;
        let inserted = diesel::insert_into(keys::table)
            .values((
                keys::token.eq(self.token.as_str()),
                keys::key.eq(&self.key),
                keys::fingerprint.eq(&self.fingerprint),
                keys::created_at.eq(now),
                keys::expires_at.eq(now + IDEMPOTENCY_TTL),
            ))
            .execute(conn);
        match inserted {
            Err(DieselError::DatabaseError(DatabaseErrorKind::UniqueViolation, _)) => {
                Err(StoreError::Conflict(
                    "a request with this Idempotency-Key is still in progress; retry shortly"
                        .into(),
                ))
            }
            other => other.map(drop).map_err(StoreError::from),
        }
    }

    pub(super) fn committed(&self) {
        self.claimed.store(true, Ordering::Release);
    }
}

/// What a lookup reads of an earlier request's key.
#[derive(Queryable, QueryableByName, Selectable)]
#[diesel(table_name = keys)]
struct KeyRow {
    fingerprint: String,
    status: Option<i32>,
    body: Option<String>,
    created_at: NaiveDateTime,
}

type ByToken<'a> = diesel::dsl::Filter<keys::table, diesel::dsl::Eq<keys::token, &'a str>>;
type ThisKey<'a> = diesel::dsl::Filter<ByToken<'a>, diesel::dsl::Eq<keys::key, &'a str>>;

fn this_key<'a>(token: &'a TokenId, key: &'a str) -> ThisKey<'a> {
    keys::table
        .filter(keys::token.eq(token.as_str()))
        .filter(keys::key.eq(key))
}

impl Store {
    /// A handle whose first committed write also stores `guard`'s key.
    pub fn guarded(&self, guard: Arc<IdempotencyGuard>) -> Store {
        Store {
            guard: Some(guard),
            ..self.clone()
        }
    }

    /// The identity behind a token hash (as [`Store::authenticate`]) and
    /// what it sent before with `key`, `fingerprint` identifying this
    /// request: the two reads a write with a key makes first, on one
    /// connection. `None` when the token is unknown or expired.
    pub fn authenticate_with_prior(
        &self,
        hash: &str,
        key: &str,
        fingerprint: &str,
    ) -> Result<Option<(Identity, Prior)>, StoreError> {
        self.read(|conn| {
            let Some(identity) = authenticate_on(conn, hash)? else {
                return Ok(None);
            };
            let now = now();
            let row = match conn {
                // Planned afresh each time (diesel does not cache a raw query):
                // the table starts empty, and a plan cached on a pooled
                // connection then (a sequential scan) stays until the table is
                // next analyzed, while every write adds a key; with autovacuum
                // off or behind, such a lookup took up to 150 ms at 20,000 keys.
                DbConnection::Postgresql(pg) => diesel::sql_query(
                    "SELECT fingerprint, status, body, created_at FROM idempotency_keys \
                     WHERE token = $1 AND key = $2 AND expires_at > $3 LIMIT 1",
                )
                .bind::<Text, _>(identity.token.as_str())
                .bind::<Text, _>(key)
                .bind::<Timestamp, _>(now)
                .get_result::<KeyRow>(pg)
                .optional()?,
                conn => this_key(&identity.token, key)
                    .filter(keys::expires_at.gt(now))
                    .select(KeyRow::as_select())
                    .first(conn)
                    .optional()?,
            };
            let prior = match row {
                None => Prior::New,
                Some(row) if row.fingerprint != fingerprint => Prior::Mismatch,
                Some(KeyRow {
                    status: Some(status),
                    body: Some(body),
                    ..
                }) => Prior::Done {
                    status: u16::try_from(status).map_err(StoreError::corrupt)?,
                    body: self.open(RESPONSE, &body)?,
                },
                Some(row) => Prior::InProgress {
                    lost: row.created_at < now - RESPONSE_GRACE,
                },
            };
            Ok(Some((identity, prior)))
        })
    }

    /// Records the response of the request whose work `guard` committed,
    /// and deletes expired keys (at most once per [`SWEEP_EVERY`]).
    ///
    /// On PostgreSQL the record commits without waiting for its WAL to
    /// reach the disk (`synchronous_commit = off` for this transaction
    /// only): the request's work is durable already, and a record lost to
    /// a crash is the case keys handle anyway (a repeat is told the
    /// response was lost). Waiting would cost every write a second flush.
    pub fn record_idempotent_response(
        &self,
        guard: &IdempotencyGuard,
        status: u16,
        body: &str,
    ) -> Result<(), StoreError> {
        let sealed = self.seal(RESPONSE, body)?;
        self.read(|conn| {
            let status = i32::from(status);
            match conn {
                // One statement, so one round trip: `set_config(…, true)` holds
                // for the statement's own transaction, which it commits.
                DbConnection::Postgresql(pg) => diesel::sql_query(
                    "UPDATE idempotency_keys SET status = $1, body = $2 \
                     FROM (SELECT set_config('synchronous_commit', 'off', true)) AS async_commit \
                     WHERE token = $3 AND key = $4",
                )
                .bind::<Integer, _>(status)
                .bind::<Text, _>(&sealed)
                .bind::<Text, _>(guard.token.as_str())
                .bind::<Text, _>(&guard.key)
                .execute(pg)?,
                DbConnection::Sqlite(_) => diesel::update(this_key(&guard.token, &guard.key))
                    .set((keys::status.eq(status), keys::body.eq(&sealed)))
                    .execute(conn)?,
            };
            if let Some(at) = sweep_due(now()) {
                diesel::delete(keys::table.filter(keys::expires_at.le(at))).execute(conn)?;
            }
            Ok(())
        })
    }
}

/// How often a process deletes expired keys. Expired keys are never
/// replayed (lookups and claims check `expires_at`), so sweeping them is
/// housekeeping, not correctness: once a minute instead of on every write.
pub const SWEEP_EVERY: TimeDelta = TimeDelta::minutes(1);

/// The Unix second of this process's last sweep.
static LAST_SWEEP: AtomicI64 = AtomicI64::new(i64::MIN);

/// `Some(now)` when this process last swept [`SWEEP_EVERY`] ago or more
/// (and it is this caller's turn), else `None`.
fn sweep_due(now: NaiveDateTime) -> Option<NaiveDateTime> {
    let second = now.and_utc().timestamp();
    let last = LAST_SWEEP.load(Ordering::Relaxed);
    let due = last == i64::MIN || second.saturating_sub(last) >= SWEEP_EVERY.num_seconds();
    let ours = due
        && LAST_SWEEP
            .compare_exchange(last, second, Ordering::Relaxed, Ordering::Relaxed)
            .is_ok();
    ours.then_some(now)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn expired_keys_are_swept_at_most_once_a_minute() {
        let start = now();
        // The first call in a process sweeps (or another test's call did).
        let _ = sweep_due(start);
        let later = start + TimeDelta::seconds(SWEEP_EVERY.num_seconds() + 1);
        assert_eq!(sweep_due(later), Some(later), "a minute on: due");
        assert_eq!(sweep_due(later), None, "just swept");
        let soon = later + TimeDelta::seconds(30);
        assert_eq!(sweep_due(soon), None, "within the minute");
    }
}
