//! API tokens, stored only as SHA-256 hashes.

use super::records::now;
use super::schema::tokens;
use super::{Store, StoreError};
use crate::domain::TokenId;
use chrono::{NaiveDateTime, TimeDelta};
use diesel::prelude::*;

/// `last_used_at` is refreshed at most this often, so reads stay reads.
const LAST_USED_GRANULARITY: TimeDelta = TimeDelta::seconds(60);

/// Who made a request: the token's name is recorded as the `actor` of what
/// it changes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Identity {
    pub token: TokenId,
    pub name: String,
    pub scope: String,
}

impl Store {
    /// Makes `name` an admin token with this hash: created when missing,
    /// its hash replaced when the configured token changed.
    pub fn ensure_admin_token(&self, name: &str, hash: &str) -> Result<(), StoreError> {
        self.write(|conn| {
            let updated = diesel::update(tokens::table.filter(tokens::name.eq(name)))
                .set((tokens::hash.eq(hash), tokens::scope.eq("admin")))
                .execute(conn)?;
            if updated == 0 {
                diesel::insert_into(tokens::table)
                    .values((
                        tokens::id.eq(TokenId::generate().as_str()),
                        tokens::name.eq(name),
                        tokens::hash.eq(hash),
                        tokens::scope.eq("admin"),
                        tokens::created_at.eq(now()),
                    ))
                    .execute(conn)?;
            }
            Ok(())
        })
    }

    /// The identity behind a token hash, unless unknown or expired.
    pub fn authenticate(&self, hash: &str) -> Result<Option<Identity>, StoreError> {
        type Found = (
            String,
            String,
            String,
            Option<NaiveDateTime>,
            Option<NaiveDateTime>,
        );
        let found: Option<Found> = self.read(|conn| {
            Ok(tokens::table
                .filter(tokens::hash.eq(hash))
                .select((
                    tokens::id,
                    tokens::name,
                    tokens::scope,
                    tokens::expires_at,
                    tokens::last_used_at,
                ))
                .first(conn)
                .optional()?)
        })?;
        let Some((id, name, scope, expires_at, last_used_at)) = found else {
            return Ok(None);
        };
        let now = now();
        if expires_at.is_some_and(|at| at <= now) {
            return Ok(None);
        }
        if last_used_at.is_none_or(|at| at < now - LAST_USED_GRANULARITY) {
            self.write(|conn| {
                diesel::update(tokens::table.find(&id))
                    .set(tokens::last_used_at.eq(now))
                    .execute(conn)?;
                Ok(())
            })?;
        }
        let token = TokenId::parse(&id).map_err(StoreError::corrupt)?;
        Ok(Some(Identity { token, name, scope }))
    }
}
