//! What the store can fail with. `NotFound`, `Conflict` and `Invalid` are the
//! caller's fault and carry a message fit to show; the rest are ours, and
//! their messages never include a connection string or stored values.

use crate::domain::InvalidInput;
use diesel::result::{DatabaseErrorInformation, DatabaseErrorKind, Error as DieselError};

/// Tables whose primary key is a random id: a unique violation on it is an id
/// collision, retried with a fresh id instead of surfacing.
const ID_TABLES: [&str; 7] = [
    "builds",
    "releases",
    "deployments",
    "events",
    "tokens",
    "webhooks",
    "deliveries",
];

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The named thing does not exist (or belongs to another app).
    #[error("{0}")]
    NotFound(String),
    /// The change clashes with existing state (a duplicate name, ...).
    #[error("{0}")]
    Conflict(String),
    /// A value failed the domain rules.
    #[error(transparent)]
    Invalid(#[from] InvalidInput),
    /// Another worker now holds the deployment's lease: stop driving it.
    #[error("the lease on deployment {0} was lost")]
    LeaseLost(String),
    /// A freshly generated id was already taken; the transaction is retried.
    #[error("generated id already taken")]
    IdCollision,
    /// The database URL is not one we can use.
    #[error("{0}")]
    Config(String),
    /// Could not reach the database.
    #[error("cannot connect to the database: {0}")]
    Connect(String),
    #[error("database migration failed: {0}")]
    Migration(String),
    /// A stored row no longer parses: a bug or manual edits.
    #[error("stored data is invalid: {0}")]
    Corrupt(String),
    /// The store was opened without a secret key, and this needs one.
    #[error("no secret key is configured: sealed values can be neither written nor read")]
    NoKeyring,
    /// A sealed value could not be sealed or opened (a wrong key, an
    /// altered value). Carries key ids at most, never a value.
    #[error("sealed value: {0}")]
    Seal(#[from] crate::seal::SealError),
    /// A release's env does not open with the configured keys (sealed under
    /// a key that is no longer configured, or altered). Every new release
    /// starts from the latest one's env, so this names the release to fix.
    #[error("release {release}'s env cannot be opened: {source}")]
    UnreadableRelease {
        app: String,
        release: String,
        #[source]
        source: crate::seal::SealError,
    },
    /// The configured keys do not open this database's key check.
    #[error("the secret key does not open this database's secrets: {0}")]
    WrongKey(crate::seal::SealError),
    #[error("no database connection available")]
    Pool(#[from] diesel::r2d2::PoolError),
    #[error("database error")]
    Database(#[source] DieselError),
}

impl From<DieselError> for StoreError {
    fn from(err: DieselError) -> Self {
        match &err {
            DieselError::DatabaseError(DatabaseErrorKind::UniqueViolation, info)
                if is_id_collision(info.as_ref()) =>
            {
                StoreError::IdCollision
            }
            _ => StoreError::Database(err),
        }
    }
}

/// PostgreSQL names the constraint (`releases_pkey`, `events_id_key`);
/// SQLite only says `UNIQUE constraint failed: releases.id`.
fn is_id_collision(info: &(dyn DatabaseErrorInformation + Send + Sync)) -> bool {
    let constraint = info.constraint_name().unwrap_or_default();
    let message = info.message();
    ID_TABLES.iter().any(|table| {
        constraint == format!("{table}_pkey")
            || constraint == format!("{table}_id_key")
            || message.ends_with(&format!("{table}.id"))
    })
}

impl StoreError {
    /// The connection the call ran on was closed by the server or cut: the
    /// database is away (or was restarted), not the request at fault.
    pub fn is_connection_lost(&self) -> bool {
        matches!(
            self,
            StoreError::Database(DieselError::DatabaseError(
                DatabaseErrorKind::ClosedConnection,
                _
            ))
        )
    }

    pub(crate) fn corrupt(what: impl std::fmt::Display) -> Self {
        StoreError::Corrupt(what.to_string())
    }
}
