//! The `tokens` table: a token as listings show it (never its secret or
//! hash), and its row with the grant it carries.

use crate::domain::{AppName, Grant, Scope, TokenId};
use crate::store::error::StoreError;
use crate::store::schema::tokens;
use chrono::{DateTime, NaiveDateTime, Utc};
use diesel::prelude::*;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// A token as listings show it: never its secret.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct Token {
    pub id: TokenId,
    pub name: String,
    pub scope: Scope,
    /// The apps it may act on; empty: all.
    pub apps: Vec<AppName>,
    pub created_at: DateTime<Utc>,
    #[schema(required = true)]
    pub expires_at: Option<DateTime<Utc>>,
    /// Updated at most once a minute.
    #[schema(required = true)]
    pub last_used_at: Option<DateTime<Utc>>,
}

/// Who made a request: the token's name is recorded as the `actor` of what
/// it changes; the grant says what it may do.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Identity {
    pub token: TokenId,
    pub name: String,
    pub grant: Grant,
}

#[derive(Queryable, Selectable)]
#[diesel(table_name = tokens)]
pub(crate) struct TokenRow {
    pub(crate) id: String,
    pub(crate) name: String,
    pub(crate) hash: String,
    pub(crate) scope: String,
    pub(crate) apps: String,
    pub(crate) created_at: NaiveDateTime,
    pub(crate) expires_at: Option<NaiveDateTime>,
    pub(crate) last_used_at: Option<NaiveDateTime>,
}

impl TokenRow {
    pub(crate) fn grant(&self) -> Result<Grant, StoreError> {
        let names: Vec<String> = serde_json::from_str(&self.apps).map_err(StoreError::corrupt)?;
        Ok(Grant {
            scope: Scope::parse(&self.scope).map_err(StoreError::corrupt)?,
            apps: names
                .iter()
                .map(|a| AppName::parse(a).map_err(StoreError::corrupt))
                .collect::<Result<_, _>>()?,
        })
    }

    /// Whether the token has expired at `now`.
    pub(crate) fn expired(&self, now: NaiveDateTime) -> bool {
        self.expires_at.is_some_and(|at| at <= now)
    }

    /// The identity a request made with this token acts as.
    pub(crate) fn into_identity(self) -> Result<Identity, StoreError> {
        Ok(Identity {
            token: TokenId::parse(&self.id).map_err(StoreError::corrupt)?,
            grant: self.grant()?,
            name: self.name,
        })
    }

    pub(crate) fn into_token(self) -> Result<Token, StoreError> {
        let grant = self.grant()?;
        Ok(Token {
            id: TokenId::parse(&self.id).map_err(StoreError::corrupt)?,
            name: self.name,
            scope: grant.scope,
            apps: grant.apps,
            created_at: self.created_at.and_utc(),
            expires_at: self.expires_at.map(|t| t.and_utc()),
            last_used_at: self.last_used_at.map(|t| t.and_utc()),
        })
    }
}
