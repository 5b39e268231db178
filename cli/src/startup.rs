//! The start-up steps every command that serves or migrates shares, in one
//! order: connect to the database, give the store its keyring, migrate,
//! check the keyring against the database, open the job queue.

use crate::config::{DatabaseArgs, QueueArgs, KEY_VAR, PREVIOUS_VAR};
use slipway_core::seal::Keyring;
use slipway_core::store::{Store, StoreError};
use slipway_queue::{JobQueue, JobSource};

/// Which job queue a process opens.
pub enum QueueChoice<'a> {
    /// None (`migrate`, `rekey`).
    None,
    /// The Redis queue the servers share.
    Redis(&'a QueueArgs),
    /// A channel within the process (`slipway dev`).
    InProcess,
}

/// What the start-up steps opened.
pub struct Opened {
    /// Migrated; with the keyring, when one was given, checked.
    pub store: Store,
    /// Migrations applied now.
    pub migrations: usize,
    /// The producer and the consumers' end of the queue, unless `QueueChoice::None`.
    pub queue: Option<(JobQueue, JobSource)>,
}

/// Runs the start-up steps. With a keyring, a wrong key stops the process
/// here, before anything is served.
pub async fn prepare(
    database: &DatabaseArgs,
    keyring: Option<Keyring>,
    queue: QueueChoice<'_>,
) -> anyhow::Result<Opened> {
    let store = database.open().await?;
    let check_keyring = keyring.is_some();
    let store = match keyring {
        Some(keyring) => store.with_keyring(keyring),
        None => store,
    };
    let migrations = migrate(&store).await?;
    if check_keyring {
        verify(&store).await?;
    }
    let queue = match queue {
        QueueChoice::None => None,
        QueueChoice::Redis(args) => {
            let queue = args.open().await?;
            let source = JobSource::from_queue(&queue).expect("a Redis queue has a Redis source");
            Some((queue, source))
        }
        QueueChoice::InProcess => {
            let (queue, jobs) = JobQueue::in_process();
            Some((queue, jobs.into()))
        }
    };
    Ok(Opened {
        store,
        migrations,
        queue,
    })
}

/// Runs the migrations on a blocking thread; returns how many ran.
async fn migrate(store: &Store) -> anyhow::Result<usize> {
    let store = store.clone();
    let ran = tokio::task::spawn_blocking(move || store.migrate()).await??;
    if ran > 0 {
        tracing::info!(migrations = ran, "database migrated");
    }
    Ok(ran)
}

/// Opens the database's key check with the keyring (writing it on a first
/// start).
async fn verify(store: &Store) -> anyhow::Result<()> {
    let store = store.clone();
    let checked = tokio::task::spawn_blocking(move || store.verify_keyring()).await?;
    checked.map_err(wrong_key)
}

/// A store error, worded for the operator when the key does not fit.
pub fn wrong_key(err: StoreError) -> anyhow::Error {
    match err {
        StoreError::WrongKey(reason) => anyhow::anyhow!(
            "{KEY_VAR} does not open this database's secrets: {reason}; \
             set the key it was sealed with (as {PREVIOUS_VAR} while rotating)"
        ),
        other => other.into(),
    }
}
