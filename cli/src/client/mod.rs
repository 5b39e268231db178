//! The client commands (`apps`, `build`, `deploy`, `releases`, `env`,
//! `deployments`, `ps`, `logs`, `webhooks`, `tokens`, `login`): the API over HTTP, for people and CI.
//! Each command group lives in a file of its own.

mod apps;
mod build;
mod deployments;
mod env;
mod http;
mod latest;
mod login;
mod logs;
pub mod output;
mod ps;
mod releases;
mod sse;
mod tokens;
mod wait;
mod webhooks;

use clap::{Args, Subcommand};
use http::Api;
use std::path::Path;

/// Exit codes, as `slipway --help` and the README list them.
pub mod code {
    /// An error; the reason is printed on stderr.
    pub const ERROR: u8 = 1;
    /// A deployment followed with `--wait` ended rolled back or failed (or was cancelled).
    pub const DEPLOYMENT_FAILED: u8 = 3;
    /// The connection was lost while following a deployment.
    pub const CONNECTION_LOST: u8 = 4;
}

pub const EXIT_CODES: &str = "Exit codes:
  0  success
  1  error (one line on stderr: ERROR: ...)
  2  bad usage (unknown command or flag, missing argument)
  3  a deployment followed with --wait ended rolled back, failed or cancelled
  4  the connection was lost while following a deployment with --wait";

/// An error with its exit code; `main` prints `ERROR: message`.
#[derive(Debug)]
pub struct Exit {
    pub code: u8,
    pub message: String,
}

impl Exit {
    pub fn error(message: impl Into<String>) -> Exit {
        Exit {
            code: code::ERROR,
            message: message.into(),
        }
    }
}

impl std::fmt::Display for Exit {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for Exit {}

/// Options every client command takes.
#[derive(Debug, Args)]
pub struct Global {
    /// The Slipway API [default: from `slipway login`, else http://127.0.0.1:8080]
    #[arg(long, global = true, env = "SLIPWAY_HOST", value_name = "URL")]
    host: Option<String>,
    /// API token [default: from `slipway login`]
    #[arg(
        long,
        global = true,
        env = "SLIPWAY_TOKEN",
        hide_env_values = true,
        value_name = "TOKEN"
    )]
    token: Option<String>,
    /// The app [default: `app:` in ./slipway.yml]
    #[arg(short, long, global = true, env = "SLIPWAY_APP", value_name = "NAME")]
    app: Option<String>,
    /// Print JSON instead of tables and messages
    #[arg(long, global = true)]
    json: bool,
    /// Makes this command safe to run again: a repeat with the same key (and
    /// token) within 24 h gets the first answer instead of doing the work
    /// twice, e.g. `$CI_PIPELINE_ID-deploy` [default: a random key, shared
    /// only by this run's own retries]
    #[arg(
        long,
        global = true,
        env = "SLIPWAY_IDEMPOTENCY_KEY",
        value_name = "KEY"
    )]
    idempotency_key: Option<String>,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Store the API's URL and a token for later commands (mode 0600)
    Login(login::LoginArgs),
    /// List apps, or create, delete or show one
    Apps(apps::AppsArgs),
    /// Create a build (and its release) from slipway.yml; does not promote
    Build(build::BuildArgs),
    /// Build and promote
    Deploy(build::DeployArgs),
    /// List releases, newest first; show, promote, roll back or compare them
    Releases(releases::ReleasesArgs),
    /// Show or change the app's environment (each change is a release)
    Env(env::EnvArgs),
    /// List deployments (promotion attempts); show or cancel one
    Deployments(deployments::DeploymentsArgs),
    /// List the app's processes: status, restarts, where each listens
    Ps(ps::PsArgs),
    /// Show what the app's instances wrote; --follow keeps printing
    Logs(logs::LogsArgs),
    /// List, add or remove webhooks; show their deliveries
    Webhooks(webhooks::WebhooksArgs),
    /// List, create or revoke API tokens (admin)
    Tokens(tokens::TokensArgs),
}

/// What a command needs: the API, the app, and how to print.
pub struct Ctx {
    api: Api,
    app: Option<String>,
    json: bool,
    colour: bool,
}

impl Ctx {
    /// The app to act on: `--app`, `SLIPWAY_APP`, else `app:` in `manifest`
    /// (or ./slipway.yml).
    pub fn app(&self, manifest: Option<&Path>) -> anyhow::Result<String> {
        if let Some(app) = &self.app {
            return Ok(app.clone());
        }
        let path = manifest.unwrap_or(Path::new(build::DEFAULT_MANIFEST));
        if path.exists() {
            if let Some(app) = build::manifest_app(path)? {
                return Ok(app);
            }
        }
        Err(
            Exit::error("no app given: use --app NAME, SLIPWAY_APP, or `app: NAME` in slipway.yml")
                .into(),
        )
    }
}

pub async fn run(global: Global, command: Command) -> anyhow::Result<()> {
    if let Command::Login(args) = command {
        return login::run(global.token, global.json, args).await;
    }
    let saved = login::load()?;
    let host = global
        .host
        .clone()
        .or_else(|| saved.as_ref().map(|s| s.host.clone()))
        .unwrap_or_else(|| "http://127.0.0.1:8080".into());
    // A saved token only goes to the host it was saved for.
    let token = global.token.clone().or_else(|| {
        saved
            .filter(|s| login::same_host(&s.host, &host))
            .map(|s| s.token)
    });
    let ctx = Ctx {
        api: Api::with_idempotency_key(
            &host,
            token,
            global
                .idempotency_key
                .unwrap_or_else(http::random_idempotency_key),
        )?,
        app: global.app,
        json: global.json,
        colour: output::stdout_colour(),
    };
    match command {
        Command::Login(_) => Ok(()),
        Command::Apps(args) => apps::run(&ctx, args).await,
        Command::Build(args) => build::build(&ctx, args).await,
        Command::Deploy(args) => build::deploy(&ctx, args).await,
        Command::Releases(args) => releases::run(&ctx, args).await,
        Command::Env(args) => env::run(&ctx, args).await,
        Command::Deployments(args) => deployments::run(&ctx, args).await,
        Command::Ps(args) => ps::run(&ctx, args).await,
        Command::Logs(args) => logs::run(&ctx, args).await,
        Command::Webhooks(args) => webhooks::run(&ctx, args).await,
        Command::Tokens(args) => tokens::run(&ctx, args).await,
    }
}

/// At most 64 characters of something the user typed, for messages.
pub fn clip(raw: &str) -> &str {
    match raw.char_indices().nth(64) {
        Some((i, _)) => &raw[..i],
        None => raw,
    }
}
