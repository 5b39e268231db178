//! API tokens, stored only as SHA-256 hashes, with their scope and apps.

use super::rows::now;
pub use super::rows::tokens::Identity;
use super::rows::tokens::{Token, TokenRow};
use super::schema::tokens;
use super::{DbConnection, Store, StoreError};
use crate::domain::{AppName, Scope, TokenId, TokenName};
use crate::secret::{constant_time_eq, generate_token, hash_token, Secret};
use chrono::{NaiveDateTime, TimeDelta};
use diesel::prelude::*;
use diesel::result::{DatabaseErrorKind, Error as DieselError};

/// `last_used_at` is refreshed at most this often, so reads stay reads.
const LAST_USED_GRANULARITY: TimeDelta = TimeDelta::seconds(60);

/// What `POST /tokens` asks for, parsed.
#[derive(Clone, Debug)]
pub struct NewToken {
    pub name: TokenName,
    pub scope: Scope,
    pub apps: Vec<AppName>,
    pub lifetime: Option<TimeDelta>,
}

impl Store {
    /// Makes `name` an admin token with this hash: created when missing,
    /// its hash replaced when the configured token changed.
    pub fn ensure_admin_token(&self, name: &str, hash: &str) -> Result<(), StoreError> {
        self.write(|conn| {
            let updated = diesel::update(tokens::table.filter(tokens::name.eq(name)))
                .set((
                    tokens::hash.eq(hash),
                    tokens::scope.eq(Scope::Admin.as_str()),
                    tokens::apps.eq("[]"),
                    tokens::expires_at.eq(None::<NaiveDateTime>),
                ))
                .execute(conn)?;
            if updated == 0 {
                diesel::insert_into(tokens::table)
                    .values((
                        tokens::id.eq(TokenId::generate().as_str()),
                        tokens::name.eq(name),
                        tokens::hash.eq(hash),
                        tokens::scope.eq(Scope::Admin.as_str()),
                        tokens::created_at.eq(now()),
                    ))
                    .execute(conn)?;
            }
            Ok(())
        })
    }

    /// Creates a token; its secret is returned only here.
    pub fn create_token(&self, new: &NewToken) -> Result<(Token, Secret<String>), StoreError> {
        self.write(|conn| {
            let taken = tokens::table
                .filter(tokens::name.eq(new.name.as_str()))
                .count()
                .get_result::<i64>(conn)?
                > 0;
            let name_taken =
                || StoreError::Conflict(format!("a token named `{}` already exists", new.name));
            if taken {
                return Err(name_taken());
            }
            let id = TokenId::generate();
            let secret = generate_token();
            let created_at = now();
            let apps: Vec<&str> = new.apps.iter().map(AppName::as_str).collect();
            diesel::insert_into(tokens::table)
                .values((
                    tokens::id.eq(id.as_str()),
                    tokens::name.eq(new.name.as_str()),
                    tokens::hash.eq(hash_token(secret.expose())),
                    tokens::scope.eq(new.scope.as_str()),
                    tokens::apps.eq(serde_json::to_string(&apps).map_err(StoreError::corrupt)?),
                    tokens::created_at.eq(created_at),
                    tokens::expires_at.eq(new.lifetime.map(|l| created_at + l)),
                ))
                .execute(conn)
                // The same name created concurrently, after the check above.
                .map_err(|err| match StoreError::from(err) {
                    StoreError::Database(DieselError::DatabaseError(
                        DatabaseErrorKind::UniqueViolation,
                        _,
                    )) => name_taken(),
                    other => other,
                })?;
            let row = tokens::table
                .find(id.as_str())
                .select(TokenRow::as_select())
                .first(conn)?;
            Ok((row.into_token()?, secret.clone()))
        })
    }

    /// Every token, oldest first.
    pub fn list_tokens(&self) -> Result<Vec<Token>, StoreError> {
        self.read(|conn| {
            tokens::table
                .order((tokens::created_at, tokens::id))
                .select(TokenRow::as_select())
                .load(conn)?
                .into_iter()
                .map(TokenRow::into_token)
                .collect()
        })
    }

    /// Deletes a token (and its idempotency keys); it stops working at once.
    /// The configured token (named `configured`) is refused: it comes back
    /// at the next start.
    pub fn delete_token(&self, id: &TokenId, configured: &str) -> Result<Token, StoreError> {
        self.write(|conn| {
            let row = tokens::table
                .find(id.as_str())
                .select(TokenRow::as_select())
                .first(conn)
                .optional()?
                .ok_or_else(|| StoreError::NotFound(format!("token `{id}` not found")))?;
            if row.name == configured {
                return Err(StoreError::Conflict(format!(
                    "the `{configured}` token comes from SLIPWAY_ADMIN_TOKEN: change that \
                     variable to replace it"
                )));
            }
            diesel::delete(tokens::table.find(id.as_str())).execute(conn)?;
            row.into_token()
        })
    }

    /// The identity behind a token hash, unless unknown or expired.
    pub fn authenticate(&self, hash: &str) -> Result<Option<Identity>, StoreError> {
        self.read(|conn| authenticate_on(conn, hash))
    }
}

/// [`Store::authenticate`] on a connection the caller holds.
pub(super) fn authenticate_on(
    conn: &mut DbConnection,
    hash: &str,
) -> Result<Option<Identity>, StoreError> {
    let found: Option<TokenRow> = tokens::table
        .filter(tokens::hash.eq(hash))
        .select(TokenRow::as_select())
        .first(conn)
        .optional()?;
    // The index finds the row; the comparison that decides is constant-time.
    let Some(row) = found.filter(|row| constant_time_eq(row.hash.as_bytes(), hash.as_bytes()))
    else {
        return Ok(None);
    };
    let now = now();
    if row.expired(now) {
        return Ok(None);
    }
    if row
        .last_used_at
        .is_none_or(|at| at < now - LAST_USED_GRANULARITY)
    {
        diesel::update(tokens::table.find(&row.id))
            .set(tokens::last_used_at.eq(now))
            .execute(conn)?;
    }
    Ok(Some(row.into_identity()?))
}
