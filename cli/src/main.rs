//! `slipway`: the servers (`server api`, `server worker`), `dev` (everything
//! in one process on embedded defaults) and `migrate`.

mod config;
mod dev;

use anyhow::Context;
use clap::{Parser, Subcommand};
use config::{
    admin_token_from_env, shutdown_signal, DatabaseArgs, ListenArgs, QueueArgs, WorkerArgs,
};
use slipway_api::{ApiConfig, Application};
use slipway_core::store::Store;
use slipway_worker::queue::JobSource;
use slipway_worker::run::Workers;
use std::process::ExitCode;

#[derive(Debug, Parser)]
#[command(
    name = "slipway",
    version,
    about = "Slipway: immutable releases, rolling deployments with automatic rollback",
    after_help = "Exit codes: 0 success, 1 error (the reason is printed on stderr), 2 bad usage."
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run the API (and, once available, the worker) in one process on
    /// embedded defaults: SQLite under SLIPWAY_DATA_DIR, a generated admin token
    Dev(dev::DevArgs),
    /// Run a production server
    #[command(subcommand)]
    Server(Server),
    /// Apply pending database migrations and exit
    Migrate {
        #[command(flatten)]
        database: DatabaseArgs,
    },
}

#[derive(Debug, Subcommand)]
enum Server {
    /// The HTTP API (PostgreSQL from SLIPWAY_DATABASE_URL, Redis from
    /// SLIPWAY_REDIS_URL, admin token from SLIPWAY_ADMIN_TOKEN)
    Api {
        #[command(flatten)]
        database: DatabaseArgs,
        #[command(flatten)]
        queue: QueueArgs,
        #[command(flatten)]
        listen: ListenArgs,
    },
    /// The rollout worker and reconciler (several may run)
    Worker {
        #[command(flatten)]
        database: DatabaseArgs,
        #[command(flatten)]
        queue: QueueArgs,
        #[command(flatten)]
        worker: WorkerArgs,
    },
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    init_tracing();
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(runtime) => runtime,
        Err(err) => return fail(anyhow::Error::new(err).context("cannot start the async runtime")),
    };
    match runtime.block_on(run(cli)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => fail(err),
    }
}

fn fail(err: anyhow::Error) -> ExitCode {
    eprintln!("ERROR: {err:#}");
    ExitCode::FAILURE
}

async fn run(cli: Cli) -> anyhow::Result<()> {
    match cli.command {
        Command::Dev(args) => dev::run(args).await,
        Command::Migrate { database } => {
            let store = database.open().await?;
            let ran = migrate(&store).await?;
            println!("Applied {ran} migration(s).");
            Ok(())
        }
        Command::Server(Server::Api {
            database,
            queue,
            listen,
        }) => {
            let admin_token = admin_token_from_env()?
                .context("SLIPWAY_ADMIN_TOKEN must be set for `slipway server api`")?;
            let store = database.open().await?;
            migrate(&store).await?;
            let queue = queue.open().await?;
            let config = ApiConfig {
                listen: listen.listen,
                admin_token,
            };
            let app = Application::build(config, store, queue).await?;
            tracing::info!(address = %app.local_addr(), "API listening");
            app.run_until_stopped().await?;
            Ok(())
        }
        Command::Server(Server::Worker {
            database,
            queue,
            worker,
        }) => {
            let store = database.open().await?;
            migrate(&store).await?;
            let queue = queue.open().await?;
            let source = JobSource::from_queue(&queue).context("the worker needs a Redis queue")?;
            let consumer = worker.consumer();
            tracing::info!(worker = %consumer.worker_name, "worker started");
            let lease = worker.lease();
            let workers = Workers::start(store, queue, source, worker.runtime()?, consumer, lease);
            shutdown_signal().await;
            tracing::info!("stopping: running rollouts continue on other workers");
            workers.stop().await;
            Ok(())
        }
    }
}

/// Runs the migrations on a blocking thread; returns how many ran.
pub(crate) async fn migrate(store: &Store) -> anyhow::Result<usize> {
    let store = store.clone();
    let ran = tokio::task::spawn_blocking(move || store.migrate()).await??;
    if ran > 0 {
        tracing::info!(migrations = ran, "database migrated");
    }
    Ok(ran)
}

/// Logs go to stderr; colour only on a terminal and never with `NO_COLOR`.
fn init_tracing() {
    use std::io::IsTerminal;
    use tracing_subscriber::EnvFilter;
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    let colour = std::io::stderr().is_terminal() && std::env::var_os("NO_COLOR").is_none();
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(colour)
        .init();
}
