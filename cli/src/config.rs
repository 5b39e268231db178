//! Configuration of the commands, read from the environment here and nowhere
//! else: one settings type per server process ([`ApiServerSettings`],
//! [`WorkerServerSettings`]; `dev`'s is `DevArgs`), built by clap from flags
//! or `SLIPWAY_*` variables out of the argument groups below. The secrets
//! that have no flag (the admin token, the secret keys) are read by the
//! functions at the end of the file. Secrets are never echoed.

use anyhow::Context;
use clap::Args;
use slipway_core::domain::RouterUrl;
use slipway_core::secret::Secret;
use slipway_core::store::Store;
use slipway_queue::ConsumerConfig;
use slipway_queue::JobQueue;
use slipway_worker::router::{Router, RouterConfig};
use slipway_worker::runtime::kubernetes::{KubeConfig, KubeRuntime};
use slipway_worker::runtime::local::{LocalRuntime, UidRange, Users};
use slipway_worker::webhooks::schedule::parse_duration;
use slipway_worker::webhooks::{DeliveryConfig, RetrySchedule};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;
use tokio::signal::unix::{signal, SignalKind};

mod retention;
pub use retention::RetentionArgs;

/// Shortest admin token accepted: anything shorter is guessable.
const MIN_TOKEN_LEN: usize = 16;
const ADMIN_TOKEN_VAR: &str = "SLIPWAY_ADMIN_TOKEN";
/// The secret key that seals secrets at rest, and the one it replaces.
pub const KEY_VAR: &str = "SLIPWAY_SECRET_KEY";
pub const PREVIOUS_VAR: &str = "SLIPWAY_SECRET_KEY_PREVIOUS";

// `slipway server api`: what its variant's doc comment says.
#[derive(Debug, Args)]
pub struct ApiServerSettings {
    #[command(flatten)]
    pub database: DatabaseArgs,
    #[command(flatten)]
    pub queue: QueueArgs,
    #[command(flatten)]
    pub listen: ListenArgs,
    #[command(flatten)]
    pub webhooks: WebhookArgs,
    #[command(flatten)]
    pub router: RouterUrlArgs,
}

// `slipway server worker`: what its variant's doc comment says.
#[derive(Debug, Args)]
pub struct WorkerServerSettings {
    #[command(flatten)]
    pub database: DatabaseArgs,
    #[command(flatten)]
    pub queue: QueueArgs,
    #[command(flatten)]
    pub worker: WorkerArgs,
    #[command(flatten)]
    pub webhooks: WebhookArgs,
    #[command(flatten)]
    pub retention: RetentionArgs,
}

#[derive(Debug, Args)]
pub struct DatabaseArgs {
    /// postgres://USER:PASSWORD@HOST/DB, or sqlite://PATH
    #[arg(long, env = "SLIPWAY_DATABASE_URL", hide_env_values = true)]
    pub database_url: String,
    /// Connections kept open to PostgreSQL
    #[arg(long, env = "SLIPWAY_DATABASE_POOL_SIZE", default_value_t = 10)]
    pub pool_size: u32,
}

impl DatabaseArgs {
    /// Connects (on a blocking thread: connecting is blocking I/O).
    pub async fn open(&self) -> anyhow::Result<Store> {
        let (url, size) = (self.database_url.clone(), self.pool_size);
        let store = tokio::task::spawn_blocking(move || Store::connect(&url, size)).await??;
        Ok(store)
    }
}

#[derive(Debug, Args)]
pub struct ListenArgs {
    /// Address the HTTP API listens on (port 0 picks a free port)
    #[arg(long, env = "SLIPWAY_LISTEN", default_value = "127.0.0.1:8080")]
    pub listen: String,
    /// Writes (POST, PATCH, DELETE) a minute each token may make; 0: no limit
    #[arg(long, env = "SLIPWAY_RATE_LIMIT", default_value_t = slipway_api::DEFAULT_WRITE_RATE_PER_MINUTE)]
    pub rate_limit: u32,
}

#[derive(Debug, Args)]
pub struct RouterUrlArgs {
    /// Where users reach the router, e.g. http://localhost:8000 or
    /// https://apps.example.com: apps show their services at
    /// <service>.<app>.<host> under it, and a worker's router serves those
    /// names [default: none, no URLs shown; in `slipway dev`,
    /// http://localhost:<port of SLIPWAY_ROUTER_LISTEN>]
    #[arg(long, env = "SLIPWAY_ROUTER_URL", value_name = "URL", value_parser = parse_router_url)]
    pub router_url: Option<RouterUrl>,
}

/// Where the router listens, or that there is none.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RouterListen {
    Off,
    At(SocketAddr),
}

fn parse_router_listen(raw: &str) -> Result<RouterListen, String> {
    match raw {
        "off" => Ok(RouterListen::Off),
        _ => raw
            .parse()
            .map(RouterListen::At)
            .map_err(|_| "an address such as 127.0.0.1:8000, or `off`, expected".to_owned()),
    }
}

/// `http://localhost:<port>` for a router listening on `listen`: names
/// under `localhost` resolve to this machine whatever the app part, so
/// `<service>.<app>.localhost` needs no DNS set-up. Give it the bound
/// address when the port was 0.
pub fn router_url_for(listen: SocketAddr) -> RouterUrl {
    RouterUrl::localhost(listen.port())
}

/// The router URL check, with its message alone (clap names the flag).
fn parse_router_url(raw: &str) -> Result<RouterUrl, String> {
    RouterUrl::parse(raw).map_err(|err| err.message)
}

pub fn check_token(token: &str) -> anyhow::Result<()> {
    if token.len() < MIN_TOKEN_LEN {
        anyhow::bail!("a token needs at least {MIN_TOKEN_LEN} characters");
    }
    if !token.chars().all(|c| c.is_ascii_graphic()) {
        anyhow::bail!("a token may only contain printable ASCII without spaces");
    }
    Ok(())
}

#[derive(Debug, Args)]
pub struct QueueArgs {
    /// redis://[:PASSWORD@]HOST:PORT/DB, where API servers enqueue rollouts for workers
    #[arg(long, env = "SLIPWAY_REDIS_URL", hide_env_values = true)]
    pub redis_url: String,
    /// Prefix of this installation's Redis keys
    #[arg(long, env = "SLIPWAY_QUEUE_NAMESPACE", default_value = "slipway")]
    pub queue_namespace: String,
}

impl QueueArgs {
    pub async fn open(&self) -> anyhow::Result<JobQueue> {
        Ok(JobQueue::redis(&self.redis_url, &self.queue_namespace).await?)
    }
}

#[derive(Debug, Args)]
pub struct WorkerArgs {
    /// Where the local runtime keeps its instance records and logs
    #[arg(long, env = "SLIPWAY_DATA_DIR", default_value = ".slipway")]
    pub data_dir: PathBuf,
    /// Deployments this process drives at once
    #[arg(long, env = "SLIPWAY_WORKER_CONCURRENCY", default_value_t = 64)]
    pub concurrency: usize,
    /// Seconds after which a silent worker's deployment is taken over by another
    #[arg(long, env = "SLIPWAY_WORKER_LEASE_SECONDS", default_value_t = 15, value_parser = clap::value_parser!(u64).range(1..=600))]
    pub lease_seconds: u64,
    /// Serve this worker's metrics (`GET /metrics`) on this address
    #[arg(long, env = "SLIPWAY_METRICS_LISTEN")]
    pub metrics_listen: Option<String>,
    #[command(flatten)]
    pub router: RouterArgs,
    #[command(flatten)]
    pub local: LocalRuntimeArgs,
    #[command(flatten)]
    pub kubernetes: KubernetesArgs,
}

impl WorkerArgs {
    /// The local runtime over `<data dir>/runtime`.
    pub fn runtime(&self) -> anyhow::Result<Arc<LocalRuntime>> {
        Ok(Arc::new(self.local.runtime(&self.data_dir)?))
    }

    pub fn lease(&self) -> Duration {
        Duration::from_secs(self.lease_seconds)
    }

    pub fn consumer(&self) -> ConsumerConfig {
        let mut consumer = ConsumerConfig::new(ConsumerConfig::unique_worker_name("worker"));
        consumer.concurrency = self.concurrency.max(1);
        consumer
    }
}

/// The router in front of the apps' instances.
#[derive(Debug, Args)]
pub struct RouterArgs {
    /// Where the router listens (`<service>.<app>.localhost`, the apps'
    /// domains), or `off`; unset: 127.0.0.1:8000 in `slipway dev`, off for
    /// `server worker`
    #[arg(long = "router-listen", env = "SLIPWAY_ROUTER_LISTEN", value_parser = parse_router_listen)]
    pub router_listen: Option<RouterListen>,
    // Its host, besides `localhost`, is where the router serves
    // `<service>.<app>.<host>` (point a wildcard DNS name at the router).
    #[command(flatten)]
    pub url: RouterUrlArgs,
}

impl RouterArgs {
    /// Binds the router's address (`default` when none is set); `None`
    /// when the router is off.
    pub async fn bind(&self, default: RouterListen) -> anyhow::Result<Option<Router>> {
        let RouterListen::At(address) = self.router_listen.unwrap_or(default) else {
            return Ok(None);
        };
        let mut config = RouterConfig::new(address);
        if let Some(url) = &self.url.router_url {
            config.add_suffix(url.host());
        }
        let router = Router::bind(config).await.with_context(|| {
            format!("the router cannot listen on {address} (set SLIPWAY_ROUTER_LISTEN to another address, or to `off`)")
        })?;
        Ok(Some(router))
    }
}

#[derive(Debug, Args)]
pub struct LocalRuntimeArgs {
    /// Uids for apps of the local runtime, FIRST-LAST: a worker running as root
    /// runs each app under its own uid from this range (otherwise apps share its user)
    #[arg(long, env = "SLIPWAY_LOCAL_UID_RANGE", default_value_t = UidRange::DEFAULT)]
    pub local_uid_range: UidRange,
}

impl LocalRuntimeArgs {
    /// The local runtime over `<data_dir>/runtime`.
    pub fn runtime(&self, data_dir: &Path) -> anyhow::Result<LocalRuntime> {
        let dir = data_dir.join("runtime");
        let users = Users::for_this_process(self.local_uid_range);
        LocalRuntime::with_users(&dir, users)
            .with_context(|| format!("cannot use {} for the local runtime", dir.display()))
    }
}

/// Where a worker makes releases run.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum RuntimeKind {
    /// Child processes of the worker, on this machine
    Local,
    /// Deployments on the Kubernetes cluster of the worker's pod, or KUBECONFIG's
    Kubernetes,
}

#[derive(Debug, Args)]
pub struct KubernetesArgs {
    /// Where releases run: `local` (processes on this machine) or
    /// `kubernetes` (Deployments on a cluster)
    #[arg(long, env = "SLIPWAY_RUNTIME", value_enum, default_value_t = RuntimeKind::Local)]
    pub runtime: RuntimeKind,
    /// On Kubernetes, each app runs in the namespace `<prefix><app>`
    #[arg(long = "k8s-namespace-prefix", env = "SLIPWAY_K8S_NAMESPACE_PREFIX", default_value = "slipway-", value_parser = parse_namespace_prefix)]
    pub namespace_prefix: String,
    /// On Kubernetes, create each app's namespace and delete it with the
    /// app; `false` when the worker may only act in namespaces made for it
    /// beforehand (namespaced RBAC)
    #[arg(long = "k8s-manage-namespaces", env = "SLIPWAY_K8S_MANAGE_NAMESPACES", default_value_t = true, action = clap::ArgAction::Set, value_parser = clap::builder::BoolishValueParser::new())]
    pub manage_namespaces: bool,
}

impl KubernetesArgs {
    /// Connects to the cluster (in a pod: its own; else KUBECONFIG's).
    pub async fn runtime(&self) -> anyhow::Result<KubeRuntime> {
        let config = KubeConfig {
            namespace_prefix: self.namespace_prefix.clone(),
            manage_namespaces: self.manage_namespaces,
            ..KubeConfig::default()
        };
        Ok(KubeRuntime::connect(config).await?)
    }
}

/// A namespace prefix that makes a valid namespace name with any app name
/// (1–30 lowercase letters, digits and `-`): lowercase letters, digits and
/// `-`, starting with a letter, at most 33 characters.
fn parse_namespace_prefix(value: &str) -> Result<String, String> {
    let valid = value.len() <= 33
        && value.starts_with(|c: char| c.is_ascii_lowercase())
        && value
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-');
    if valid {
        Ok(value.to_owned())
    } else {
        Err("expected lowercase letters, digits and `-`, starting with a letter, at most 33 characters (namespace names are at most 63)".to_owned())
    }
}

#[derive(Debug, Args)]
pub struct WebhookArgs {
    /// Waits between delivery attempts after the first, e.g. "1s,1s,2s"
    /// [default: 5s,5m,30m,2h,5h,10h,10h]
    #[arg(long = "webhook-retry-schedule", env = "SLIPWAY_WEBHOOK_RETRY_SCHEDULE", value_parser = RetrySchedule::parse)]
    pub retry_schedule: Option<RetrySchedule>,
    /// Bound on one delivery attempt
    #[arg(long = "webhook-timeout", env = "SLIPWAY_WEBHOOK_TIMEOUT", default_value = "15s", value_parser = parse_duration)]
    pub timeout: Duration,
    /// Allow webhooks to loopback, private and link-local addresses
    /// [default: false; true in `slipway dev`]
    #[arg(long = "webhook-allow-private", env = "SLIPWAY_WEBHOOK_ALLOW_PRIVATE", value_parser = clap::builder::BoolishValueParser::new())]
    pub allow_private: Option<bool>,
}

impl WebhookArgs {
    /// The delivery settings; `private_by_default` is what an unset
    /// SLIPWAY_WEBHOOK_ALLOW_PRIVATE means.
    pub fn delivery(&self, private_by_default: bool) -> DeliveryConfig {
        DeliveryConfig {
            schedule: self.retry_schedule.clone().unwrap_or_default(),
            timeout: self.timeout,
            allow_private: self.allow_private.unwrap_or(private_by_default),
            ..DeliveryConfig::default()
        }
    }
}

/// `SLIPWAY_ADMIN_TOKEN`, when set; refused when too short to be safe.
pub fn admin_token_from_env() -> anyhow::Result<Option<Secret<String>>> {
    let Some(token) = env_var(ADMIN_TOKEN_VAR)? else {
        return Ok(None);
    };
    check_token(&token).with_context(|| format!("{ADMIN_TOKEN_VAR} is unusable"))?;
    Ok(Some(Secret::new(token)))
}

/// `SLIPWAY_SECRET_KEY` and `SLIPWAY_SECRET_KEY_PREVIOUS` as given (base64),
/// when the first is set; empty counts as unset (compose passes `${X:-}` so).
pub fn secret_keys_from_env() -> anyhow::Result<Option<(String, Option<String>)>> {
    let set = |name| Ok::<_, anyhow::Error>(env_var(name)?.filter(|v| !v.trim().is_empty()));
    let Some(current) = set(KEY_VAR)? else {
        return Ok(None);
    };
    Ok(Some((current, set(PREVIOUS_VAR)?)))
}

/// A variable's value, when set; refused when not UTF-8.
fn env_var(name: &str) -> anyhow::Result<Option<String>> {
    let Some(value) = std::env::var_os(name) else {
        return Ok(None);
    };
    let value = value
        .into_string()
        .ok()
        .with_context(|| format!("{name} is not valid UTF-8"))?;
    Ok(Some(value))
}

/// Resolves on SIGINT or SIGTERM.
pub async fn shutdown_signal() {
    let interrupt = tokio::signal::ctrl_c();
    let mut terminate = match signal(SignalKind::terminate()) {
        Ok(terminate) => terminate,
        Err(_) => {
            let _ = interrupt.await;
            return;
        }
    };
    tokio::select! {
        _ = interrupt => {}
        _ = terminate.recv() => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_dev_router_is_reached_at_localhost_on_its_port() {
        let listen: SocketAddr = "127.0.0.1:8000".parse().unwrap();
        assert_eq!(router_url_for(listen).to_string(), "http://localhost:8000");
        let any: SocketAddr = "0.0.0.0:80".parse().unwrap();
        assert_eq!(router_url_for(any).to_string(), "http://localhost");
    }

    #[test]
    fn a_bad_router_url_is_refused_with_what_is_wrong() {
        let message = parse_router_url("http://localhost:8000/apps").unwrap_err();
        assert!(message.contains("must not have a path"), "{message}");
        assert!(parse_router_url("localhost:8000").is_err());
    }
}
