//! Test support (feature `testing`), the part of the test kit that needs
//! only `core`: a fresh, migrated database per test, on SQLite (a temporary
//! file) or PostgreSQL (a schema of its own in the database named by
//! `SLIPWAY_TEST_DATABASE_URL`, dropped afterwards) and tests run on both
//! (`on_both_backends!`, exported at the crate root); manifest builders; the
//! one [`wait_until`]; a real HTTP receiver for webhook tests. The API's and
//! the worker's harnesses live in their crates' `testing` modules.
//!
//! PostgreSQL must be reachable: a test that cannot reach it fails loudly,
//! it is never skipped. Each database has a random secret key of its own,
//! which every store on it seals with.

mod backends;
mod manifest;
mod receiver;
mod wait;

pub use manifest::{ManifestBuilder, ServiceBuilder};
pub use receiver::{Receiver, Reply, Request};
pub use wait::{wait_until, TimedOut, Wait, PATIENCE};

use crate::seal::{generate_key, Keyring};
use crate::secret::Secret;
use crate::store::{Backend, Store};
use diesel::connection::SimpleConnection;
use diesel::{Connection, PgConnection};
use rand::distr::{Alphanumeric, SampleString};

pub use crate::domain::ids::force_next_ids;

/// Where tests find PostgreSQL when `SLIPWAY_TEST_DATABASE_URL` is unset.
pub const DEFAULT_POSTGRES_URL: &str = "postgres://postgres:postgres@127.0.0.1:5432/postgres";

/// A database that exists for one test; dropped (schema or file) with it.
pub struct TestDatabase {
    url: String,
    backend: Backend,
    cleanup: Cleanup,
    /// The secret key (base64) of [`TestDatabase::store`]'s keyring.
    key: Secret<String>,
}

enum Cleanup {
    File(#[allow(dead_code)] tempfile::TempDir),
    Schema { admin_url: String, schema: String },
    Database { admin_url: String, name: String },
}

impl TestDatabase {
    pub fn new(backend: Backend) -> TestDatabase {
        match backend {
            Backend::Sqlite => TestDatabase::sqlite(),
            Backend::Postgres => TestDatabase::postgres(),
        }
    }

    pub fn sqlite() -> TestDatabase {
        let dir = tempfile::tempdir().expect("create a temporary directory");
        let url = format!("sqlite://{}", dir.path().join("slipway.db").display());
        TestDatabase {
            url,
            backend: Backend::Sqlite,
            cleanup: Cleanup::File(dir),
            key: test_key(),
        }
    }

    pub fn postgres() -> TestDatabase {
        let (admin_url, mut admin) = postgres_admin();
        let schema = unique_name("test");
        admin
            .batch_execute(&format!("CREATE SCHEMA {schema}"))
            .expect("create the test schema");
        let separator = if admin_url.contains('?') { '&' } else { '?' };
        let url = format!("{admin_url}{separator}options=-c%20search_path%3D{schema}");
        TestDatabase {
            url,
            backend: Backend::Postgres,
            cleanup: Cleanup::Schema { admin_url, schema },
            key: test_key(),
        }
    }

    /// A PostgreSQL database of the test's own, not only a schema: for
    /// tests that cut it off ([`TestDatabase::cut_off`]) without touching
    /// anyone else's connections.
    pub fn postgres_database() -> TestDatabase {
        let (admin_url, mut admin) = postgres_admin();
        let name = unique_name("slipway_test");
        admin
            .batch_execute(&format!("CREATE DATABASE {name}"))
            .expect("create the test database");
        let (base, query) = match admin_url.split_once('?') {
            Some((base, query)) => (base, format!("?{query}")),
            None => (admin_url.as_str(), String::new()),
        };
        let (server, _) = base.rsplit_once('/').expect("a database URL with a path");
        let url = format!("{server}/{name}{query}");
        TestDatabase {
            url,
            backend: Backend::Postgres,
            cleanup: Cleanup::Database { admin_url, name },
            key: test_key(),
        }
    }

    /// Refuses new connections to this database and ends the open ones, as
    /// a database outage does; [`TestDatabase::restore`] ends it. Only for
    /// [`TestDatabase::postgres_database`].
    pub fn cut_off(&self) {
        self.admin(|name| {
            format!(
                "ALTER DATABASE {name} ALLOW_CONNECTIONS false; \
                 SELECT pg_terminate_backend(pid) FROM pg_stat_activity \
                 WHERE datname = '{name}' AND pid <> pg_backend_pid();"
            )
        });
    }

    /// Accepts connections again after [`TestDatabase::cut_off`].
    pub fn restore(&self) {
        self.admin(|name| format!("ALTER DATABASE {name} ALLOW_CONNECTIONS true"));
    }

    fn admin(&self, sql: impl FnOnce(&str) -> String) {
        let Cleanup::Database { admin_url, name } = &self.cleanup else {
            panic!("only a database of the test's own can be cut off");
        };
        let mut admin = PgConnection::establish(admin_url).expect("connect as admin");
        admin.batch_execute(&sql(name)).expect("run the admin SQL");
    }

    /// The URL to hand to `Store::connect` or to `SLIPWAY_DATABASE_URL`.
    pub fn url(&self) -> &str {
        &self.url
    }

    pub fn backend(&self) -> Backend {
        self.backend
    }

    /// Runs SQL on this database as it is: how tests set up states the API
    /// cannot reach (an expired token).
    pub fn execute(&self, sql: &str) {
        let mut conn = crate::store::DbConnection::establish(
            self.url.strip_prefix("sqlite://").unwrap_or(&self.url),
        )
        .expect("connect to the test database");
        conn.batch_execute(sql).expect("run the SQL");
    }

    /// A migrated store on this database, sealing with its secret key.
    pub fn store(&self) -> Store {
        let keyring = Keyring::from_base64(self.key.expose(), None).expect("a valid test key");
        self.store_with_keyring(keyring)
    }

    /// A migrated store on this database, sealing with `keyring`.
    pub fn store_with_keyring(&self, keyring: Keyring) -> Store {
        self.store_without_keyring().with_keyring(keyring)
    }

    /// A migrated store that has no keyring: it refuses sealed values.
    pub fn store_without_keyring(&self) -> Store {
        let store = Store::connect(&self.url, 4).expect("connect to the test database");
        store.migrate().expect("migrate the test database");
        store
    }

    /// The secret key (base64) [`TestDatabase::store`] seals with.
    pub fn secret_key(&self) -> &str {
        self.key.expose()
    }

    /// Whether `needle` appears in the database as stored: on SQLite
    /// anywhere in the bytes of the file and of its write-ahead log; on
    /// PostgreSQL in any row of any table of the test's schema, as text.
    pub fn raw_contains(&self, needle: &str) -> bool {
        match self.backend {
            Backend::Sqlite => {
                let path = self.url.strip_prefix("sqlite://").unwrap_or(&self.url);
                [path.to_owned(), format!("{path}-wal")].iter().any(|file| {
                    let bytes = std::fs::read(file).unwrap_or_default();
                    bytes.windows(needle.len()).any(|w| w == needle.as_bytes())
                })
            }
            Backend::Postgres => self.rows_as_text().iter().any(|row| row.contains(needle)),
        }
    }

    /// Every row of every table in the test's schema, as PostgreSQL's text
    /// form of the row.
    fn rows_as_text(&self) -> Vec<String> {
        #[derive(diesel::QueryableByName)]
        struct Text {
            #[diesel(sql_type = diesel::sql_types::Text)]
            text: String,
        }
        use diesel::RunQueryDsl;
        let mut conn = PgConnection::establish(&self.url).expect("connect to the test database");
        let tables: Vec<Text> = diesel::sql_query(
            "SELECT tablename::text AS text FROM pg_tables WHERE schemaname = current_schema()",
        )
        .load(&mut conn)
        .expect("list the tables");
        assert!(tables.len() > 5, "the test schema's tables");
        tables
            .iter()
            .flat_map(|table| {
                let sql = format!("SELECT t::text AS text FROM \"{}\" t", table.text);
                let rows: Vec<Text> = diesel::sql_query(sql)
                    .load(&mut conn)
                    .expect("read a table");
                rows.into_iter().map(|row| row.text)
            })
            .collect()
    }
}

/// The URL tests reach PostgreSQL at, and a connection to it; a test that
/// cannot reach it fails loudly.
fn postgres_admin() -> (String, PgConnection) {
    let admin_url = std::env::var("SLIPWAY_TEST_DATABASE_URL")
        .unwrap_or_else(|_| DEFAULT_POSTGRES_URL.to_owned());
    let admin = PgConnection::establish(&admin_url).unwrap_or_else(|e| {
        panic!("PostgreSQL is needed for this test (SLIPWAY_TEST_DATABASE_URL): {e}")
    });
    (admin_url, admin)
}

/// `<prefix>_<16 random lower-case letters and digits>`.
fn unique_name(prefix: &str) -> String {
    let suffix = Alphanumeric.sample_string(&mut rand::rng(), 16);
    format!("{prefix}_{}", suffix.to_lowercase())
}

fn test_key() -> Secret<String> {
    generate_key().expect("the system random number generator")
}

impl Drop for TestDatabase {
    fn drop(&mut self) {
        let sql = match &self.cleanup {
            Cleanup::File(_) => return,
            Cleanup::Schema { admin_url, schema } => {
                (admin_url, format!("DROP SCHEMA IF EXISTS {schema} CASCADE"))
            }
            Cleanup::Database { admin_url, name } => (
                admin_url,
                format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"),
            ),
        };
        if let Ok(mut admin) = PgConnection::establish(sql.0) {
            let _ = admin.batch_execute(&sql.1);
        }
    }
}
