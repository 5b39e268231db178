//! `slipway dev`: one process on embedded defaults, for a first try. State
//! is a SQLite file in the data dir; the admin token and the secret key are
//! generated once and kept there (mode 0600, as the database) unless
//! SLIPWAY_ADMIN_TOKEN and SLIPWAY_SECRET_KEY are set.

use crate::config::{
    admin_token_from_env, check_token, router_url_for, DatabaseArgs, ListenArgs, LocalRuntimeArgs,
    RouterArgs, RouterListen, WebhookArgs,
};
use crate::keys::{dev_keyring, kept_or_new};
use crate::startup::{prepare, QueueChoice};
use anyhow::Context;
use clap::Args;
use slipway_api::{ApiConfig, ApiSettings, Application};
use slipway_core::metrics::Metrics;
use slipway_core::secret::{generate_token, Secret};
use slipway_queue::ConsumerConfig;
use slipway_worker::run::{WorkerApp, WorkerSettings};
use std::fs;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

const TOKEN_FILE: &str = "admin-token";
const KEY_FILE: &str = "secret-key";
/// SIGTERM to SIGKILL for the apps' instances when `slipway dev` stops.
const STOP_GRACE: Duration = Duration::from_secs(10);
const DATABASE_FILE: &str = "slipway.db";
/// Where the router listens unless SLIPWAY_ROUTER_LISTEN says otherwise.
const ROUTER_LISTEN: RouterListen =
    RouterListen::At(SocketAddr::new(IpAddr::V4(Ipv4Addr::LOCALHOST), 8000));

#[derive(Debug, Args)]
pub struct DevArgs {
    #[command(flatten)]
    listen: ListenArgs,
    /// Where the SQLite database, the generated admin token and secret key are kept
    #[arg(long, env = "SLIPWAY_DATA_DIR", default_value = ".slipway")]
    data_dir: PathBuf,
    #[command(flatten)]
    webhooks: WebhookArgs,
    #[command(flatten)]
    local: LocalRuntimeArgs,
    #[command(flatten)]
    router: RouterArgs,
    #[command(flatten)]
    retention: crate::config::RetentionArgs,
}

pub async fn run(args: DevArgs) -> anyhow::Result<()> {
    let dir = &args.data_dir;
    fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)
        .with_context(|| format!("cannot create the data dir {}", dir.display()))?;
    let admin_token = match admin_token_from_env()? {
        Some(token) => token,
        None => load_or_create_token(&dir.join(TOKEN_FILE))?,
    };
    let db_path = dir.join(DATABASE_FILE);
    // The database is its owner's alone (SQLite gives its journal files the
    // same mode); then the data dir may let apps pass through to their own
    // directories under it, listing nothing and opening none of its files.
    keep_private(&db_path)?;
    fs::set_permissions(dir, fs::Permissions::from_mode(0o711))
        .with_context(|| format!("cannot set the mode of the data dir {}", dir.display()))?;
    let database = DatabaseArgs {
        database_url: format!(
            "sqlite://{}",
            db_path
                .to_str()
                .context("the data dir path must be valid UTF-8")?
        ),
        pool_size: 1,
    };
    let keyring = dev_keyring(&dir.join(KEY_FILE))?;
    let opened = prepare(&database, Some(keyring), QueueChoice::InProcess).await?;
    let (store, (queue, jobs)) = (opened.store, opened.queue.context("dev needs a queue")?);

    let runtime = Arc::new(args.local.runtime(dir)?);
    let router = args.router.bind(ROUTER_LISTEN).await?;
    // Where users reach the router: as configured, else its own address.
    let router_url = match (args.router.url.router_url.clone(), &router) {
        (Some(url), _) => Some(url),
        (None, Some(router)) => Some(router_url_for(router.local_addr()?)),
        (None, None) => None,
    };
    let token_shown = admin_token.expose().clone();
    // Dev mode talks to receivers on this machine unless told otherwise.
    let delivery = args.webhooks.delivery(true);
    let config = ApiConfig {
        listen: args.listen.listen.clone(),
        admin_token,
        allow_private_webhooks: delivery.allow_private,
        write_rate_per_minute: args.listen.rate_limit,
        router_url: router_url.clone(),
    };
    // One registry for the whole process: /metrics shows the workers' too.
    let metrics = Metrics::new();
    let mut api = ApiSettings::new(config, store.clone(), queue.clone());
    api.metrics = metrics.clone();
    let app = Application::build(api).await?;
    let mut worker = WorkerSettings::new(store, queue, jobs, runtime.clone());
    worker.consumer = ConsumerConfig::new(ConsumerConfig::unique_worker_name("dev"));
    worker.metrics = metrics;
    worker.webhooks = Some(delivery);
    worker.router = router;
    worker.retention = args.retention.config();
    let worker = WorkerApp::build(worker)?;
    let url = format!("http://{}", app.local_addr());
    println!("Slipway is running (dev mode).");
    println!("  API:   {url}");
    println!("  Token: {token_shown}");
    println!("  Data:  {}", db_path.display());
    if let Some(router_url) = &router_url {
        let example = router_url.url_for(&format!("<service>.<app>.{}", router_url.host()));
        println!("  Apps:  {example}");
    }
    println!("Try:    curl -u :{token_shown} {url}/apps");
    // The worker runs until the API has stopped (SIGINT or SIGTERM).
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let api = async {
        let served = app.run_until_stopped().await;
        let _ = stop.send(());
        served
    };
    let worker = worker.run_until_stopped(async {
        let _ = stopped.await;
    });
    let (served, ()) = tokio::join!(api, worker);
    // Everything runs in this process: stop the apps' instances with it
    // (at the next start the supervisor brings the active releases back up).
    runtime.stop_all(STOP_GRACE).await;
    Ok(served?)
}

/// Makes `path` (created empty when missing) readable and writable by its
/// owner only.
fn keep_private(path: &Path) -> anyhow::Result<()> {
    fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(false)
        .mode(0o600)
        .open(path)
        .with_context(|| format!("cannot create {}", path.display()))?;
    fs::set_permissions(path, fs::Permissions::from_mode(0o600))
        .with_context(|| format!("cannot set the mode of {}", path.display()))
}

/// Reads the kept token, or makes one and keeps it readable by its owner only.
fn load_or_create_token(path: &Path) -> anyhow::Result<Secret<String>> {
    let token = kept_or_new(path, || Ok(generate_token()))?;
    check_token(token.expose()).with_context(|| format!("{} is unusable", path.display()))?;
    Ok(token)
}
