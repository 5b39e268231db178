//! The key check and `rekey`.
//!
//! `seal_check` holds one known value sealed under the key in use: every
//! start opens it, so a wrong key is refused before anything is served.
//! `rekey` re-seals every sealed column (and the key check) under the
//! current key, in batches of one transaction each; values already under
//! it are left alone, so running it again changes nothing.

use super::rows::now;
use super::schema::{idempotency_keys, releases, seal_check, webhooks};
use super::sealed::{reseal, RESPONSE};
use super::{Backend, DbConnection, Store, StoreError};
use crate::seal::{Keyring, Purpose, SealError};
use diesel::prelude::*;
use diesel::result::{DatabaseErrorKind, Error as DieselError};

/// The only row of `seal_check`.
const CHECK_ID: i32 = 1;
/// What the key check holds, sealed.
const CHECK_VALUE: &[u8] = b"slipway key check v1";

/// What [`Store::rekey`] re-sealed under the current key.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Rekeyed {
    /// Releases whose env was re-sealed.
    pub releases: u64,
    /// Webhooks whose secret (or previous secret) was re-sealed.
    pub webhooks: u64,
    /// Recorded responses of idempotent requests (kept 24 h) re-sealed.
    pub responses: u64,
    /// Whether the key check was re-sealed.
    pub key_check: bool,
}

impl Rekeyed {
    /// Rows re-sealed in all.
    pub fn rows(&self) -> u64 {
        self.releases + self.webhooks + self.responses + u64::from(self.key_check)
    }
}

impl Store {
    /// Checks that the keyring opens this database's secrets, with the
    /// current or the previous key. A database without a key check yet (its
    /// first start) gets one, sealed under the current key.
    pub fn verify_keyring(&self) -> Result<(), StoreError> {
        let keys = self.keyring()?;
        match self.write(|conn| check_in(conn, keys)) {
            // Another process wrote the first key check meanwhile: open it.
            Err(StoreError::Database(DieselError::DatabaseError(
                DatabaseErrorKind::UniqueViolation,
                _,
            ))) => self.write(|conn| check_in(conn, keys)),
            other => other,
        }
    }

    /// Re-seals every release env, webhook secret and recorded idempotent
    /// response, and the key check, under the current key, `batch` rows per
    /// transaction. Refuses to start unless the keyring opens the key check.
    pub fn rekey(&self, batch: usize) -> Result<Rekeyed, StoreError> {
        self.verify_keyring()?;
        let keys = self.keyring()?;
        let batch = i64::try_from(batch.max(1)).unwrap_or(i64::MAX);
        let mut done = Rekeyed::default();
        let mut after = String::new();
        while let Some((last, count)) =
            self.write(|conn| releases_batch(conn, keys, &after, batch))?
        {
            done.releases += count;
            after = last;
        }
        after.clear();
        while let Some((last, count)) =
            self.write(|conn| webhooks_batch(conn, keys, &after, batch))?
        {
            done.webhooks += count;
            after = last;
        }
        loop {
            let count = self.write(|conn| responses_batch(conn, keys, batch))?;
            if count == 0 {
                break;
            }
            done.responses += count;
        }
        // Last: until everything is re-sealed, the old key must keep opening.
        done.key_check = self.write(|conn| {
            let stored = stored_check(conn)?.ok_or_else(|| StoreError::corrupt("no key check"))?;
            let Some(resealed) = reseal(keys, Purpose::KEY_CHECK, &stored)? else {
                return Ok(false);
            };
            diesel::update(seal_check::table.find(CHECK_ID))
                .set(seal_check::sealed.eq(resealed))
                .execute(conn)?;
            Ok(true)
        })?;
        if done.rows() > 0 && self.backend == Backend::Sqlite {
            // What was replaced lingers in free pages and in the WAL: rebuild
            // the file and empty the WAL, so no old plaintext stays on disk.
            use diesel::connection::SimpleConnection;
            self.read(|conn| Ok(conn.batch_execute("VACUUM; PRAGMA wal_checkpoint(TRUNCATE);")?))?;
        }
        Ok(done)
    }
}

fn stored_check(conn: &mut DbConnection) -> Result<Option<String>, StoreError> {
    Ok(seal_check::table
        .find(CHECK_ID)
        .select(seal_check::sealed)
        .first(conn)
        .optional()?)
}

fn check_in(conn: &mut DbConnection, keys: &Keyring) -> Result<(), StoreError> {
    let Some(stored) = stored_check(conn)? else {
        diesel::insert_into(seal_check::table)
            .values((
                seal_check::id.eq(CHECK_ID),
                seal_check::sealed.eq(keys.seal(Purpose::KEY_CHECK, CHECK_VALUE)?),
                seal_check::created_at.eq(now()),
            ))
            .execute(conn)?;
        return Ok(());
    };
    match keys.open(Purpose::KEY_CHECK, &stored) {
        Ok(value) if value == CHECK_VALUE => Ok(()),
        Ok(_) => Err(StoreError::WrongKey(SealError::Rejected)),
        Err(err) => Err(StoreError::WrongKey(err)),
    }
}

/// Re-seals the env of up to `batch` releases after id `after`; the last id
/// seen and how many were re-sealed, or `None` when none are left.
fn releases_batch(
    conn: &mut DbConnection,
    keys: &Keyring,
    after: &str,
    batch: i64,
) -> Result<Option<(String, u64)>, StoreError> {
    let rows: Vec<(String, String)> = releases::table
        .filter(releases::id.gt(after))
        .order(releases::id)
        .limit(batch)
        .select((releases::id, releases::env))
        .load(conn)?;
    let mut count = 0;
    for (id, env) in &rows {
        if let Some(resealed) = reseal(keys, Purpose::RELEASE_ENV, env)? {
            diesel::update(releases::table.find(id))
                .set(releases::env.eq(resealed))
                .execute(conn)?;
            count += 1;
        }
    }
    Ok(rows.last().map(|(id, _)| (id.clone(), count)))
}

/// Like [`releases_batch`], for webhooks' current and previous secrets.
fn webhooks_batch(
    conn: &mut DbConnection,
    keys: &Keyring,
    after: &str,
    batch: i64,
) -> Result<Option<(String, u64)>, StoreError> {
    let rows: Vec<(String, String, Option<String>)> = webhooks::table
        .filter(webhooks::id.gt(after))
        .order(webhooks::id)
        .limit(batch)
        .select((webhooks::id, webhooks::secret, webhooks::previous_secret))
        .load(conn)?;
    let mut count = 0;
    for (id, secret, previous) in &rows {
        let new_secret = reseal(keys, Purpose::WEBHOOK_SECRET, secret)?;
        let new_previous = match previous {
            Some(previous) => reseal(keys, Purpose::WEBHOOK_SECRET, previous)?,
            None => None,
        };
        if new_secret.is_none() && new_previous.is_none() {
            continue;
        }
        // Unchanged since read: a rotation meanwhile wrote its own values.
        let row = webhooks::table.find(id).filter(webhooks::secret.eq(secret));
        let updated = diesel::update(row)
            .set((
                webhooks::secret.eq(new_secret.unwrap_or_else(|| secret.clone())),
                webhooks::previous_secret.eq(new_previous.or_else(|| previous.clone())),
            ))
            .execute(conn)?;
        count += updated as u64;
    }
    Ok(rows.last().map(|(id, ..)| (id.clone(), count)))
}

/// Re-seals up to `batch` recorded idempotent responses that are not under
/// the current key (expired ones are deleted instead); how many it re-sealed.
fn responses_batch(conn: &mut DbConnection, keys: &Keyring, batch: i64) -> Result<u64, StoreError> {
    use idempotency_keys::dsl as k;
    diesel::delete(k::idempotency_keys.filter(k::expires_at.le(now()))).execute(conn)?;
    let current = format!("{}%", keys.current_prefix());
    let rows: Vec<(String, String, String)> = k::idempotency_keys
        .filter(k::body.is_not_null())
        .filter(k::body.not_like(current))
        .order((k::token, k::key))
        .limit(batch)
        .select((k::token, k::key, k::body.assume_not_null()))
        .load(conn)?;
    for (token, key, body) in &rows {
        if let Some(resealed) = reseal(keys, RESPONSE, body)? {
            diesel::update(k::idempotency_keys.find((token, key)))
                .set(k::body.eq(resealed))
                .execute(conn)?;
        }
    }
    Ok(rows.len() as u64)
}
