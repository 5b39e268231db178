//! Storage: one `Store` over PostgreSQL or SQLite with the same query code.
//!
//! Every change and the events that record it are written in one
//! transaction. Writers of one app first bump `apps.seq`: that row lock
//! serialises them (on PostgreSQL; SQLite has one writer anyway), and the new
//! value orders the app's builds and releases.
//!
//! Layers, each importing only the ones below it:
//! - `connection`, `schema`, `error`, `sealed`: the database, its tables,
//!   what can fail, and the sealed columns.
//! - `rows`: each table's row and its conversion to what the store hands
//!   out, and the lookups several aggregates share.
//! - `event_log`: appending an event and fanning it out to webhook
//!   deliveries; reading events back.
//! - one module per aggregate, which never import each other: `apps`,
//!   `releases` (builds, releases, env), `deployments`, `webhooks` (and
//!   their deliveries), `tokens`, `idempotency`, `logs`, `processes`
//!   (supervision), `routes` (and the domains builds claim), `keyring`
//!   (verify, rekey), `sessions` (the console's).

mod apps;
mod connection;
mod deployments;
mod error;
mod event_log;
mod idempotency;
mod keyring;
mod logs;
#[cfg(feature = "testing")]
mod plans;
mod processes;
mod releases;
mod routes;
mod rows;
mod schema;
mod sealed;
mod sessions;
mod tokens;
mod webhooks;

pub use crate::domain::ProcessStatus;
pub use crate::domain::{App, Build, Deployment, Release, ReleaseStatus};
pub use apps::{Tombstone, APP_DELETED};
pub use connection::{Backend, DbConnection};
pub use deployments::{Lease, PromoteOptions};
pub use error::StoreError;
pub use event_log::{Pruned, DEFAULT_EVENT_RETENTION, PRUNE_BATCH};
pub use idempotency::{IdempotencyGuard, Prior};
pub use keyring::Rekeyed;
pub use logs::{AppLogs, LogOffset, LogQuery, NewLogLine, LOG_LINES_KEPT};
#[cfg(feature = "testing")]
pub use plans::QueryPlan;
pub use processes::{Supervised, WORKER_ACTOR};
pub use routes::AppRoutes;
pub use rows::deliveries::Delivery;
pub use rows::events::Event;
pub use rows::logs::LogLine;
pub use rows::new_releases::{NewBuild, NewRelease};
pub use rows::processes::Process;
pub use rows::tokens::Token;
pub use rows::webhooks::Webhook;
pub use sessions::{NewSession, Session, SESSION_LIFETIME};
pub use tokens::{Identity, NewToken};
pub use webhooks::{DueDelivery, Finished, NewWebhook, Outcome, ROTATION_OVERLAP};

use crate::seal::{Keyring, Purpose};
use connection::{DbPool, PooledDb};
use diesel::Connection;

/// How many times a transaction is retried when a generated id was taken.
const ID_ATTEMPTS: u32 = 5;

/// Handle to the database; cheap to clone. All methods block: call them
/// from a blocking thread, never on an async executor's thread.
#[derive(Clone)]
pub struct Store {
    pool: DbPool,
    backend: Backend,
    /// Set on a handle from [`Store::guarded`]: its first committed write
    /// also records this idempotency key, in the same transaction.
    guard: Option<std::sync::Arc<IdempotencyGuard>>,
    /// Seals env values and webhook secrets; without it they can be
    /// neither written nor read (see [`Store::with_keyring`]).
    keyring: Option<std::sync::Arc<Keyring>>,
}

impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Store")
            .field("backend", &self.backend)
            .field("keyring", &self.keyring)
            .finish()
    }
}

impl Store {
    /// Connects to `postgres://...` or `sqlite://PATH` (the file is created
    /// when missing). Does not migrate: call [`Store::migrate`].
    pub fn connect(url: &str, pool_size: u32) -> Result<Store, StoreError> {
        let (backend, conn_url) = connection::parse_url(url)?;
        let pool = connection::build_pool(backend, &conn_url, pool_size)?;
        Ok(Store {
            pool,
            backend,
            guard: None,
            keyring: None,
        })
    }

    /// This store, sealing and opening secrets with `keyring`. Check that
    /// the keyring opens the database with [`Store::verify_keyring`].
    pub fn with_keyring(self, keyring: Keyring) -> Store {
        Store {
            keyring: Some(std::sync::Arc::new(keyring)),
            ..self
        }
    }

    /// Seals `plaintext` for `purpose` under the current key.
    pub fn seal(&self, purpose: Purpose, plaintext: &str) -> Result<String, StoreError> {
        Ok(self.keyring()?.seal(purpose, plaintext.as_bytes())?)
    }

    /// Opens what [`Store::seal`] sealed for the same `purpose`.
    pub fn open(&self, purpose: Purpose, sealed: &str) -> Result<String, StoreError> {
        Ok(self.keyring()?.open_text(purpose, sealed)?)
    }

    /// The keyring, or the error that explains why nothing sealed can be
    /// written or read: never a fall-back to plaintext.
    fn keyring(&self) -> Result<&Keyring, StoreError> {
        self.keyring.as_deref().ok_or(StoreError::NoKeyring)
    }

    pub fn backend(&self) -> Backend {
        self.backend
    }

    /// Applies pending migrations (under an advisory lock on PostgreSQL, so
    /// replicas starting together are safe); returns how many ran.
    pub fn migrate(&self) -> Result<usize, StoreError> {
        self.read(connection::migrate)
    }

    /// Whether the database answers (for `/readyz`).
    pub fn ping(&self) -> Result<(), StoreError> {
        use diesel::connection::SimpleConnection;
        self.read(|conn| Ok(conn.batch_execute("SELECT 1")?))
    }

    fn conn(&self) -> Result<PooledDb, StoreError> {
        Ok(self.pool.get()?)
    }

    /// Runs `f` in a transaction, again with fresh ids if one collided.
    fn write<T>(
        &self,
        mut f: impl FnMut(&mut DbConnection) -> Result<T, StoreError>,
    ) -> Result<T, StoreError> {
        let mut pooled = self.conn()?;
        let mut attempt = 1;
        loop {
            let result = pooled.transaction(|conn| {
                let value = f(conn)?;
                if let Some(guard) = &self.guard {
                    guard.claim_in(conn)?;
                }
                Ok(value)
            });
            match result {
                Err(StoreError::IdCollision) if attempt < ID_ATTEMPTS => attempt += 1,
                result => {
                    if let (Ok(_), Some(guard)) = (&result, &self.guard) {
                        guard.committed();
                    }
                    pooled.settle(&result);
                    return result;
                }
            }
        }
    }

    fn read<T>(
        &self,
        f: impl FnOnce(&mut DbConnection) -> Result<T, StoreError>,
    ) -> Result<T, StoreError> {
        let mut pooled = self.conn()?;
        let result = f(&mut pooled);
        pooled.settle(&result);
        result
    }
}
