//! Building the HTTP server from its config (bound, not yet running), then
//! running it. Tests build the very same server on port 0.

use crate::body::json_config;
use crate::error::ApiError;
use crate::limits::RateLimiter;
use crate::routes::json_error_body;
use crate::state::AppState;
use crate::{routes, MAX_BODY_BYTES};
use actix_web::dev::Server;
use actix_web::middleware::{from_fn, ErrorHandlers};
use actix_web::{web, App, HttpServer};
use slipway_core::domain::RouterUrl;
use slipway_core::metrics::Metrics;
use slipway_core::secret::{hash_token, Secret};
use slipway_core::store::{Store, StoreError};
use slipway_queue::JobQueue;
use std::net::{SocketAddr, TcpListener};

/// The name of the token configured by `SLIPWAY_ADMIN_TOKEN`, recorded as
/// the actor of what it changes.
pub const ADMIN_TOKEN_NAME: &str = "admin";

/// What the API server needs to start.
#[derive(Debug)]
pub struct ApiConfig {
    /// `host:port`; port 0 picks a free one.
    pub listen: String,
    pub admin_token: Secret<String>,
    /// Accept webhook URLs that are loopback or private address literals
    /// (`SLIPWAY_WEBHOOK_ALLOW_PRIVATE`; workers check resolved hosts too).
    pub allow_private_webhooks: bool,
    /// Writes a minute each token may make (`SLIPWAY_RATE_LIMIT`; 0: no limit).
    pub write_rate_per_minute: u32,
    /// Where users reach the router (`SLIPWAY_ROUTER_URL`): apps show their
    /// services' URLs under it. None: services are shown without URLs.
    pub router_url: Option<RouterUrl>,
}

/// Everything the API server runs with: its configuration and what it
/// shares with the rest of the process.
pub struct ApiSettings {
    pub config: ApiConfig,
    /// A migrated store.
    pub store: Store,
    /// Where deployments are queued for workers.
    pub queue: JobQueue,
    /// The process's metrics, served at `/metrics`; shared with the workers
    /// when they run in the same process.
    pub metrics: Metrics,
}

impl ApiSettings {
    /// Settings with a metrics registry of the server's own.
    pub fn new(config: ApiConfig, store: Store, queue: JobQueue) -> ApiSettings {
        ApiSettings {
            config,
            store,
            queue,
            metrics: Metrics::new(),
        }
    }
}

/// Writes a minute per token unless configured otherwise: enough for any CI
/// pipeline, low enough to stop a runaway script.
pub const DEFAULT_WRITE_RATE_PER_MINUTE: u32 = 120;

#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        addr: String,
        #[source]
        source: std::io::Error,
    },
    #[error("cannot store the admin token: {0}")]
    Store(#[from] StoreError),
    #[error("start-up task failed: {0}")]
    Task(#[from] tokio::task::JoinError),
}

/// A bound, ready-to-run API server.
pub struct Application {
    server: Server,
    addr: SocketAddr,
}

impl Application {
    /// Registers the admin token and binds the listener. The store must be migrated.
    pub async fn build(settings: ApiSettings) -> Result<Application, StartError> {
        let ApiSettings {
            config,
            store,
            queue,
            metrics,
        } = settings;
        let hash = hash_token(config.admin_token.expose());
        let admin_store = store.clone();
        tokio::task::spawn_blocking(move || {
            admin_store.ensure_admin_token(ADMIN_TOKEN_NAME, &hash)
        })
        .await??;

        let bind_error = |source| StartError::Bind {
            addr: config.listen.clone(),
            source,
        };
        let listener = TcpListener::bind(&config.listen).map_err(bind_error)?;
        let addr = listener.local_addr().map_err(bind_error)?;
        let state = web::Data::new(AppState {
            store,
            queue,
            allow_private_webhooks: config.allow_private_webhooks,
            metrics,
            write_limit: RateLimiter::new(config.write_rate_per_minute),
            router_url: config.router_url,
        });
        let server = HttpServer::new(move || {
            App::new()
                .app_data(state.clone())
                .app_data(json_config(MAX_BODY_BYTES))
                .app_data(web::PayloadConfig::default().limit(MAX_BODY_BYTES))
                .app_data(web::QueryConfig::default().error_handler(|err, _| {
                    ApiError::BadRequest(format!("invalid query string: {err}")).into()
                }))
                .wrap(ErrorHandlers::new().default_handler(json_error_body))
                .configure(routes::config)
                // The web console (`/ui`, and `/` leading there): pages,
                // not API, and not in the OpenAPI document.
                .configure(crate::console::config)
                .wrap(from_fn(crate::idempotency::idempotency))
                .wrap(from_fn(crate::limits::check_sizes))
                // Outermost: the server span covers every other middleware.
                .wrap(from_fn(crate::tracing_mw::trace_request))
        })
        .listen(listener)
        .map_err(bind_error)?
        .run();
        Ok(Application { server, addr })
    }

    pub fn local_addr(&self) -> SocketAddr {
        self.addr
    }

    pub fn port(&self) -> u16 {
        self.addr.port()
    }

    /// Serves until the process is asked to stop (SIGINT/SIGTERM), then
    /// drains in-flight requests.
    pub async fn run_until_stopped(self) -> std::io::Result<()> {
        self.server.await
    }
}
