//! `slipway server api` and `slipway server worker`: their settings, the
//! shared start-up steps, then the API's or the worker's build and run (the
//! worker on the local or the Kubernetes runtime).

use crate::config::{
    admin_token_from_env, shutdown_signal, ApiServerSettings, RouterListen, RuntimeKind,
    WorkerServerSettings,
};
use crate::keys::required_keyring;
use crate::startup::{prepare, QueueChoice};
use anyhow::Context;
use slipway_api::{ApiConfig, ApiSettings, Application};
use slipway_core::seal::Keyring;
use slipway_worker::rollout::SuperviseConfig;
use slipway_worker::run::{WorkerApp, WorkerSettings};
use slipway_worker::runtime::Runtime;
use std::sync::Arc;
use std::time::Duration;

/// How often the supervisor looks at the pods of a Kubernetes worker's apps.
const KUBERNETES_SUPERVISE_EVERY: Duration = Duration::from_secs(2);

/// The HTTP API, until SIGINT or SIGTERM.
pub async fn api(settings: ApiServerSettings) -> anyhow::Result<()> {
    let admin_token = admin_token_from_env()?
        .context("SLIPWAY_ADMIN_TOKEN must be set for `slipway server api`")?;
    let keyring = required_keyring("server api")?;
    let queue = QueueChoice::Redis(&settings.queue);
    let opened = prepare(&settings.database, Some(keyring), queue).await?;
    let (queue, _) = opened.queue.context("the API needs a queue")?;
    let config = ApiConfig {
        listen: settings.listen.listen.clone(),
        admin_token,
        allow_private_webhooks: settings.webhooks.delivery(false).allow_private,
        write_rate_per_minute: settings.listen.rate_limit,
        router_url: settings.router.router_url,
    };
    let app = Application::build(ApiSettings::new(config, opened.store, queue)).await?;
    tracing::info!(address = %app.local_addr(), "API listening");
    app.run_until_stopped().await?;
    Ok(())
}

/// The rollout worker and reconciler (several may run), until SIGINT or
/// SIGTERM hands its rollouts to the others; on the runtime
/// `SLIPWAY_RUNTIME` names.
pub async fn worker(settings: WorkerServerSettings) -> anyhow::Result<()> {
    let keyring = required_keyring("server worker")?;
    let args = &settings.worker;
    match args.kubernetes.runtime {
        RuntimeKind::Local => {
            let runtime = args.runtime()?;
            run_worker(&settings, keyring, runtime, SuperviseConfig::default()).await
        }
        RuntimeKind::Kubernetes => {
            // The router reaches processes on this machine; on a cluster,
            // requests reach pods through their Services.
            if args
                .router
                .router_listen
                .is_some_and(|l| l != RouterListen::Off)
            {
                anyhow::bail!("SLIPWAY_ROUTER_LISTEN serves the local runtime's processes; with SLIPWAY_RUNTIME=kubernetes each service is a Kubernetes Service (route to it with an Ingress): unset SLIPWAY_ROUTER_LISTEN");
            }
            let runtime = Arc::new(args.kubernetes.runtime().await?);
            tracing::info!(namespaces = %format!("{}<app>", args.kubernetes.namespace_prefix), "releases run on Kubernetes");
            // The cluster restarts crashed pods itself; the supervisor only
            // reports pods and ships their logs, so it looks less often
            // than at processes, sparing the API server.
            let supervise = SuperviseConfig {
                every: KUBERNETES_SUPERVISE_EVERY,
                ..SuperviseConfig::default()
            };
            run_worker(&settings, keyring, runtime, supervise).await
        }
    }
}

async fn run_worker<R: Runtime>(
    settings: &WorkerServerSettings,
    keyring: Keyring,
    runtime: Arc<R>,
    supervise: SuperviseConfig,
) -> anyhow::Result<()> {
    let queue = QueueChoice::Redis(&settings.queue);
    let opened = prepare(&settings.database, Some(keyring), queue).await?;
    let (queue, source) = opened.queue.context("the worker needs a Redis queue")?;
    let args = &settings.worker;
    let consumer = args.consumer();
    tracing::info!(worker = %consumer.worker_name, "worker started");
    let mut worker = WorkerSettings::new(opened.store, queue, source, runtime);
    worker.supervise = supervise;
    worker.consumer = consumer;
    worker.lease_ttl = args.lease();
    worker.retention = settings.retention.config();
    worker.router = args.router.bind(RouterListen::Off).await?;
    if let Some(listen) = &args.metrics_listen {
        let (server, address) = slipway_api::metrics_only_server(listen, worker.metrics.clone())
            .with_context(|| format!("cannot serve metrics on {listen}"))?;
        tracing::info!(%address, "metrics listening");
        tokio::spawn(server);
    }
    if let Some(router) = &worker.router {
        tracing::info!(address = %router.local_addr()?, "router listening");
    }
    worker.webhooks = Some(settings.webhooks.delivery(false));
    let worker = WorkerApp::build(worker)?;
    worker
        .run_until_stopped(async {
            shutdown_signal().await;
            tracing::info!("stopping: running rollouts continue on other workers");
        })
        .await;
    Ok(())
}
