//! Idempotency keys (the IETF httpapi `Idempotency-Key` draft): the key is
//! written in the transaction of the work it guards, then the response is
//! recorded for repeats to replay, for [`IDEMPOTENCY_TTL`].

use super::rows::now;
use super::schema::idempotency_keys as keys;
use super::sealed::RESPONSE;
use super::{DbConnection, Store, StoreError};
use crate::domain::TokenId;
use chrono::{NaiveDateTime, TimeDelta};
use diesel::prelude::*;
use diesel::result::{DatabaseErrorKind, Error as DieselError};
use std::sync::atomic::{AtomicBool, Ordering};
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

    /// What `token` sent before with `key`; `fingerprint` identifies this request.
    pub fn get_idempotency_prior(
        &self,
        token: &TokenId,
        key: &str,
        fingerprint: &str,
    ) -> Result<Prior, StoreError> {
        type Row = (String, Option<i32>, Option<String>, NaiveDateTime);
        let now = now();
        let row: Option<Row> = self.read(|conn| {
            Ok(this_key(token, key)
                .filter(keys::expires_at.gt(now))
                .select((
                    keys::fingerprint,
                    keys::status,
                    keys::body,
                    keys::created_at,
                ))
                .first(conn)
                .optional()?)
        })?;
        Ok(match row {
            None => Prior::New,
            Some((stored, ..)) if stored != fingerprint => Prior::Mismatch,
            Some((_, Some(status), Some(body), _)) => Prior::Done {
                status: u16::try_from(status).map_err(StoreError::corrupt)?,
                body: self.open(RESPONSE, &body)?,
            },
            Some((.., created_at)) => Prior::InProgress {
                lost: created_at < now - RESPONSE_GRACE,
            },
        })
    }

    /// Records the response of the request whose work `guard` committed,
    /// and deletes expired keys.
    pub fn record_idempotent_response(
        &self,
        guard: &IdempotencyGuard,
        status: u16,
        body: &str,
    ) -> Result<(), StoreError> {
        let sealed = self.seal(RESPONSE, body)?;
        self.read(|conn| {
            diesel::update(this_key(&guard.token, &guard.key))
                .set((keys::status.eq(i32::from(status)), keys::body.eq(sealed)))
                .execute(conn)?;
            diesel::delete(keys::table.filter(keys::expires_at.le(now()))).execute(conn)?;
            Ok(())
        })
    }
}
