//! Connecting to PostgreSQL or SQLite through one connection type, the pool,
//! and the embedded migrations.

use super::StoreError;
use diesel::connection::SimpleConnection;
use diesel::pg::PgConnection;
use diesel::r2d2::{
    ConnectionManager, CustomizeConnection, ManageConnection, Pool, PooledConnection,
};
use diesel::sql_types::BigInt;
use diesel::sqlite::SqliteConnection;
use diesel::{Connection, RunQueryDsl};
use diesel_migrations::{embed_migrations, EmbeddedMigrations, MigrationHarness};
use std::ops::{Deref, DerefMut};
use std::time::{Duration, Instant};

const PG_MIGRATIONS: EmbeddedMigrations = embed_migrations!("../migrations/postgres");
const SQLITE_MIGRATIONS: EmbeddedMigrations = embed_migrations!("../migrations/sqlite");

/// Key of the PostgreSQL advisory lock held while migrating, so replicas
/// starting together migrate one after the other.
const MIGRATION_LOCK: i64 = 0x0511_77a7;

/// One connection type over both backends; the SQLite variant comes last
/// because it accepts any URL.
#[derive(diesel::MultiConnection)]
pub enum DbConnection {
    Postgresql(PgConnection),
    Sqlite(SqliteConnection),
}

pub(crate) type DbPool = Pool<Manager>;
pub(crate) type PooledDb = PooledConnection<Manager>;

/// How long a pooled connection that just worked is handed out again without
/// asking whether it still does. Otherwise r2d2 sends `SELECT 1` before every
/// checkout: one more round trip for each store call. A connection that dies
/// within this window fails the call that gets it, as one dying during a call
/// would, and is then discarded; one idle for longer is asked first.
const TRUSTED_FOR: Duration = Duration::from_millis(500);

/// A pooled connection and what the pool knows of its health.
pub(crate) struct Pooled {
    db: DbConnection,
    /// When it last answered: a check, or a store call that reached the database.
    answered: Instant,
    /// The server closed it or it was cut: never handed out again.
    lost: bool,
}

impl Pooled {
    /// Notes how a store call on this connection went.
    pub(crate) fn settle<T>(&mut self, result: &Result<T, StoreError>) {
        match result {
            Err(e) if e.is_connection_lost() => self.lost = true,
            _ => self.answered = Instant::now(),
        }
    }
}

impl Deref for Pooled {
    type Target = DbConnection;

    fn deref(&self) -> &DbConnection {
        &self.db
    }
}

impl DerefMut for Pooled {
    fn deref_mut(&mut self) -> &mut DbConnection {
        &mut self.db
    }
}

/// diesel's connection manager, checking a connection at checkout only when
/// it has not answered for [`TRUSTED_FOR`].
pub(crate) struct Manager(ConnectionManager<DbConnection>);

impl ManageConnection for Manager {
    type Connection = Pooled;
    type Error = diesel::r2d2::Error;

    fn connect(&self) -> Result<Pooled, Self::Error> {
        Ok(Pooled {
            db: self.0.connect()?,
            answered: Instant::now(),
            lost: false,
        })
    }

    fn is_valid(&self, conn: &mut Pooled) -> Result<(), Self::Error> {
        if conn.answered.elapsed() < TRUSTED_FOR {
            return Ok(());
        }
        self.0.is_valid(&mut conn.db)?;
        conn.answered = Instant::now();
        Ok(())
    }

    fn has_broken(&self, conn: &mut Pooled) -> bool {
        conn.lost || self.0.has_broken(&mut conn.db)
    }
}

/// Which database a store talks to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Backend {
    Postgres,
    Sqlite,
}

/// Splits a database URL into its backend and the string diesel connects
/// with: `postgres://...`/`postgresql://...`, or `sqlite://PATH`.
pub(crate) fn parse_url(url: &str) -> Result<(Backend, String), StoreError> {
    if url.starts_with("postgres://") || url.starts_with("postgresql://") {
        Ok((Backend::Postgres, url.to_owned()))
    } else if let Some(path) = url.strip_prefix("sqlite://") {
        if path.is_empty() {
            return Err(StoreError::Config("sqlite:// needs a file path".into()));
        }
        Ok((Backend::Sqlite, path.to_owned()))
    } else {
        // Never echo the URL: it may hold a password.
        Err(StoreError::Config(
            "database URL must start with postgres://, postgresql:// or sqlite://".into(),
        ))
    }
}

/// Opens one connection first, so a bad URL or a server that is down gives
/// its real reason instead of a pool time-out.
pub(crate) fn build_pool(
    backend: Backend,
    url: &str,
    pool_size: u32,
) -> Result<DbPool, StoreError> {
    DbConnection::establish(url).map_err(|e| StoreError::Connect(e.to_string()))?;
    // SQLite has one writer at a time; one pooled connection serialises
    // access instead of failing with SQLITE_BUSY under concurrent writes.
    let max_size = match backend {
        Backend::Postgres => pool_size.max(1),
        Backend::Sqlite => 1,
    };
    Pool::builder()
        .max_size(max_size)
        // No connections opened in the background: libpq with TLS can crash the
        // process at exit while a pool thread is still connecting.
        .min_idle(Some(0))
        .connection_timeout(Duration::from_secs(10))
        .connection_customizer(Box::new(SessionSetup))
        .build(Manager(ConnectionManager::new(url)))
        .map_err(|e| StoreError::Connect(e.to_string()))
}

#[derive(Debug)]
struct SessionSetup;

impl CustomizeConnection<Pooled, diesel::r2d2::Error> for SessionSetup {
    fn on_acquire(&self, conn: &mut Pooled) -> Result<(), diesel::r2d2::Error> {
        let setup = match &conn.db {
            DbConnection::Postgresql(_) => "SET TIME ZONE 'UTC'",
            DbConnection::Sqlite(_) => {
                "PRAGMA foreign_keys = ON; PRAGMA busy_timeout = 5000; \
                 PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL;"
            }
        };
        conn.batch_execute(setup)
            .map_err(diesel::r2d2::Error::QueryError)
    }
}

/// Runs the pending migrations of the connection's backend; returns how many ran.
pub(crate) fn migrate(conn: &mut DbConnection) -> Result<usize, StoreError> {
    let failed = |e: Box<dyn std::error::Error + Send + Sync>| StoreError::Migration(e.to_string());
    match conn {
        DbConnection::Postgresql(pg) => {
            lock(pg, "SELECT pg_advisory_lock($1)")?;
            let ran = pg.run_pending_migrations(PG_MIGRATIONS).map(|v| v.len());
            lock(pg, "SELECT pg_advisory_unlock($1)")?;
            ran.map_err(failed)
        }
        DbConnection::Sqlite(lite) => lite
            .run_pending_migrations(SQLITE_MIGRATIONS)
            .map(|v| v.len())
            .map_err(failed),
    }
}

fn lock(pg: &mut PgConnection, sql: &str) -> Result<(), StoreError> {
    diesel::sql_query(sql)
        .bind::<BigInt, _>(MIGRATION_LOCK)
        .execute(pg)?;
    Ok(())
}
