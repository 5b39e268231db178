//! Console sessions: opened by signing in with an API token, they act with
//! that token's grant. The browser holds a random id; the store keeps only
//! its SHA-256, like token hashes. A session ends when signed out, when it
//! expires, or when its token is deleted or expires.

use super::rows::now;
use super::rows::sessions::SessionRow;
use super::rows::tokens::{Identity, TokenRow};
use super::schema::{sessions, tokens};
use super::{Store, StoreError};
use crate::domain::TokenId;
use crate::secret::{constant_time_eq, hash_token, Secret};
use chrono::{DateTime, TimeDelta, Utc};
use diesel::prelude::*;
use rand::Rng;

/// How long a session lasts after signing in.
pub const SESSION_LIFETIME: TimeDelta = TimeDelta::hours(12);

/// `last_seen` is refreshed at most this often, so reads stay reads.
const LAST_SEEN_GRANULARITY: TimeDelta = TimeDelta::seconds(60);

/// A session just opened: its id (for the cookie, never stored) and when it ends.
#[derive(Debug)]
pub struct NewSession {
    pub id: Secret<String>,
    pub expires_at: DateTime<Utc>,
}

/// A live session: who it acts as, and the key its CSRF values derive from.
#[derive(Clone, Debug)]
pub struct Session {
    pub identity: Identity,
    pub csrf_secret: Secret<String>,
    pub expires_at: DateTime<Utc>,
}

/// 32 random bytes as 64 hex digits.
fn random_hex() -> String {
    let mut bytes = [0u8; 32];
    rand::rng().fill(&mut bytes);
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

impl Store {
    /// Opens a session for `token`, lasting `lifetime`.
    pub fn create_session(
        &self,
        token: &TokenId,
        lifetime: TimeDelta,
    ) -> Result<NewSession, StoreError> {
        let id = random_hex();
        let created_at = now();
        let expires_at = created_at + lifetime;
        self.write(|conn| {
            diesel::insert_into(sessions::table)
                .values((
                    sessions::id.eq(hash_token(&id)),
                    sessions::token.eq(token.as_str()),
                    sessions::csrf_secret.eq(random_hex()),
                    sessions::created_at.eq(created_at),
                    sessions::expires_at.eq(expires_at),
                    sessions::last_seen.eq(created_at),
                ))
                .execute(conn)?;
            Ok(())
        })?;
        Ok(NewSession {
            id: Secret::new(id),
            expires_at: expires_at.and_utc(),
        })
    }

    /// The session whose id hashes to `hash`, unless unknown. An expired
    /// session, or one whose token is gone or expired, is deleted and None.
    pub fn get_session(&self, hash: &str) -> Result<Option<Session>, StoreError> {
        let found: Option<(SessionRow, Option<TokenRow>)> = self.read(|conn| {
            let Some(row) = sessions::table
                .find(hash)
                .select(SessionRow::as_select())
                .first(conn)
                .optional()?
            else {
                return Ok(None);
            };
            let token = tokens::table
                .find(&row.token)
                .select(TokenRow::as_select())
                .first(conn)
                .optional()?;
            Ok(Some((row, token)))
        })?;
        let Some((row, token)) =
            found.filter(|(row, _)| constant_time_eq(row.id.as_bytes(), hash.as_bytes()))
        else {
            return Ok(None);
        };
        let now = now();
        let token = token.filter(|token| !token.expired(now));
        let Some(token) = token.filter(|_| row.expires_at > now) else {
            self.delete_session(hash)?;
            return Ok(None);
        };
        if row.last_seen < now - LAST_SEEN_GRANULARITY {
            self.write(|conn| {
                diesel::update(sessions::table.find(hash))
                    .set(sessions::last_seen.eq(now))
                    .execute(conn)?;
                Ok(())
            })?;
        }
        Ok(Some(Session {
            identity: token.into_identity()?,
            csrf_secret: Secret::new(row.csrf_secret),
            expires_at: row.expires_at.and_utc(),
        }))
    }

    /// Ends the session whose id hashes to `hash`; true when there was one.
    pub fn delete_session(&self, hash: &str) -> Result<bool, StoreError> {
        self.write(|conn| {
            let deleted = diesel::delete(sessions::table.find(hash)).execute(conn)?;
            Ok(deleted > 0)
        })
    }

    /// Deletes every expired session; returns how many.
    pub fn delete_expired_sessions(&self) -> Result<usize, StoreError> {
        let now = now();
        self.write(|conn| {
            Ok(
                diesel::delete(sessions::table.filter(sessions::expires_at.le(now)))
                    .execute(conn)?,
            )
        })
    }

    /// Moves a session's expiry to `expires_at`: how tests make one expire.
    #[cfg(feature = "testing")]
    pub fn set_session_expiry(
        &self,
        hash: &str,
        expires_at: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        self.write(|conn| {
            diesel::update(sessions::table.find(hash))
                .set(sessions::expires_at.eq(expires_at.naive_utc()))
                .execute(conn)?;
            Ok(())
        })
    }
}
