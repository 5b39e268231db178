//! `slipway`: the servers (`server api`, `server worker`), `dev` (everything
//! in one process on embedded defaults), `migrate`, `rekey`, `kubernetes
//! rbac`, and the client commands (`apps`, `build`, `deploy`, `releases`,
//! `env`, ... in `client/`).

mod client;
mod config;
mod dev;
mod keys;
mod rbac;
mod servers;
mod startup;
mod telemetry;

use clap::{Parser, Subcommand};
use config::{ApiServerSettings, DatabaseArgs, WorkerServerSettings};
use startup::{prepare, QueueChoice};
use std::process::ExitCode;

#[derive(Debug, Parser)]
#[command(
    name = "slipway",
    version,
    about = "Slipway: immutable releases, rolling deployments with automatic rollback",
    after_help = client::EXIT_CODES
)]
struct Cli {
    #[command(flatten)]
    global: client::Global,
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
    /// Re-seal every env value and webhook secret under SLIPWAY_SECRET_KEY
    /// (SLIPWAY_SECRET_KEY_PREVIOUS opens what the old key sealed)
    Rekey {
        #[command(flatten)]
        database: DatabaseArgs,
    },
    /// What the Kubernetes runtime needs of a cluster
    #[command(subcommand)]
    Kubernetes(Kubernetes),
    #[command(flatten)]
    Client(client::Command),
}

#[derive(Debug, Subcommand)]
enum Kubernetes {
    /// Print the RBAC rules a worker with SLIPWAY_RUNTIME=kubernetes needs,
    /// as the `rules` of a ClusterRole (YAML); the chart grants exactly these
    Rbac,
}

#[derive(Debug, Subcommand)]
enum Server {
    /// The HTTP API (PostgreSQL from SLIPWAY_DATABASE_URL, Redis from
    /// SLIPWAY_REDIS_URL, admin token from SLIPWAY_ADMIN_TOKEN)
    Api(ApiServerSettings),
    /// The rollout worker and reconciler (several may run)
    Worker(WorkerServerSettings),
}

fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(err) => return usage(err),
    };
    // The client's own output is its messages: only warnings are logged.
    let (level, service) = match &cli.command {
        Command::Client(_) | Command::Kubernetes(_) => ("warn", None),
        Command::Server(Server::Api(_)) => ("info", Some("slipway-api")),
        Command::Server(Server::Worker(_)) => ("info", Some("slipway-worker")),
        Command::Dev(_) | Command::Migrate { .. } | Command::Rekey { .. } => {
            ("info", Some("slipway"))
        }
    };
    // Processes that run apps hold the secret key and the database URL: no
    // app, even one running as the same user, may read their env or memory.
    if matches!(
        &cli.command,
        Command::Dev(_) | Command::Server(Server::Worker(_))
    ) {
        if let Err(err) = slipway_worker::runtime::local::protect_this_process() {
            return fail(err.into());
        }
    }
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(runtime) => runtime,
        Err(err) => return fail(anyhow::Error::new(err).context("cannot start the async runtime")),
    };
    // Only the servers export spans; the client just logs warnings.
    let telemetry = match service {
        Some(service) => match telemetry::init(level, service) {
            Ok(telemetry) => Some(telemetry),
            Err(err) => return fail(err),
        },
        None => {
            init_tracing(level);
            None
        }
    };
    let result = runtime.block_on(async move {
        let result = run(cli).await;
        if let Some(telemetry) = telemetry {
            telemetry.shutdown().await;
        }
        result
    });
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => fail(err),
    }
}

/// Bad usage: one `ERROR: ...` line and exit code 2 (help and version as usual).
fn usage(err: clap::Error) -> ExitCode {
    use clap::error::ErrorKind;
    if matches!(
        err.kind(),
        ErrorKind::DisplayHelp
            | ErrorKind::DisplayVersion
            | ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand
    ) {
        err.exit();
    }
    // clap's first paragraph says what is wrong; usage and tips follow it.
    let text = err.render().to_string();
    let what: Vec<&str> = text
        .lines()
        .take_while(|line| !line.trim().is_empty())
        .map(str::trim)
        .collect();
    let what = what.join(" ");
    let what = what.strip_prefix("error: ").unwrap_or(&what);
    fail_with(&format!("{what} (see --help)"));
    ExitCode::from(2)
}

fn fail_with(message: &str) {
    use std::io::IsTerminal;
    let colour = client::output::colour_for(std::io::stderr().is_terminal());
    let label = client::output::paint("ERROR:", client::output::RED, colour);
    // One line, whatever the message holds.
    let message = message.replace(['\n', '\r'], " ");
    client::output::err_line(format!("{label} {message}"));
}

/// Prints `ERROR: ...` (red on a terminal) and exits with the error's code.
fn fail(err: anyhow::Error) -> ExitCode {
    fail_with(&format!("{err:#}"));
    match err.downcast_ref::<client::Exit>() {
        Some(exit) => ExitCode::from(exit.code),
        None => ExitCode::FAILURE,
    }
}

async fn run(cli: Cli) -> anyhow::Result<()> {
    match cli.command {
        Command::Client(command) => client::run(cli.global, command).await,
        Command::Dev(args) => dev::run(args).await,
        Command::Migrate { database } => {
            let opened = prepare(&database, None, QueueChoice::None).await?;
            println!("Applied {} migration(s).", opened.migrations);
            Ok(())
        }
        Command::Rekey { database } => keys::rekey(&database).await,
        Command::Kubernetes(Kubernetes::Rbac) => {
            print!("{}", rbac::rules_yaml());
            Ok(())
        }
        Command::Server(Server::Api(settings)) => servers::api(settings).await,
        Command::Server(Server::Worker(settings)) => servers::worker(settings).await,
    }
}

/// Logs go to stderr; colour only on a terminal and never with `NO_COLOR`.
fn init_tracing(default: &str) {
    use std::io::IsTerminal;
    use tracing_subscriber::EnvFilter;
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(default));
    let colour = client::output::colour_for(std::io::stderr().is_terminal());
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(colour)
        .init();
}
