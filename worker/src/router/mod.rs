//! The router: one stable address per service in front of instances whose
//! ports change at every start. HTTP/1.1 on hyper, host-based routing
//! (`<service>.<app>.localhost`, `<app>.localhost` for the default service,
//! the same under the host of `SLIPWAY_ROUTER_URL`, each service's `domains`), least-outstanding-requests balancing over the
//! healthy instances, drained before they are stopped.
//!
//! Who is in the table comes from two sides: the engine of this process
//! admits an instance the moment its rollout sees it healthy and drains one
//! before it stops it ([`Table::admit`], [`Table::drain`]); the feed looks at
//! the runtime and the store itself a few times a second, so it also routes
//! to instances another worker process started, health-checks the serving
//! ones at their service's interval (ejecting those that fail until they
//! pass again), and stops sending to instances marked as stopping.

mod backend;
mod feed;
mod headers;
mod proxy;
pub mod table;

use crate::runtime::Runtime;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::{TokioIo, TokioTimer};
use slipway_core::store::Store;
use std::convert::Infallible;
use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;
pub use table::Table;
use tokio::net::TcpListener;

/// The router's limits. `new` gives the defaults.
#[derive(Clone, Debug)]
pub struct RouterConfig {
    pub listen: SocketAddr,
    /// Opening a connection to an instance.
    pub connect_timeout: Duration,
    /// From the request sent to the first byte of the answer.
    pub first_byte_timeout: Duration,
    /// A client connection with no request for this long is closed (also
    /// the longest a client may take to send its headers).
    pub idle_timeout: Duration,
    /// Largest request body, in bytes (413 above).
    pub max_body: u64,
    /// Largest request line and headers, in bytes (431 above).
    pub max_header: usize,
    /// How often the feed looks at the runtime and the store.
    pub refresh: Duration,
    /// The names under which `<service>.<app>.<suffix>` and
    /// `<app>.<suffix>` are served: `localhost`, and any added.
    pub suffixes: Vec<String>,
}

impl RouterConfig {
    pub fn new(listen: SocketAddr) -> RouterConfig {
        RouterConfig {
            listen,
            connect_timeout: Duration::from_secs(5),
            first_byte_timeout: Duration::from_secs(60),
            idle_timeout: Duration::from_secs(60),
            max_body: 64 * 1024 * 1024,
            max_header: 64 * 1024,
            refresh: Duration::from_millis(200),
            suffixes: vec!["localhost".to_owned()],
        }
    }

    /// Also serves the generated names under `suffix` (lower case, once).
    pub fn add_suffix(&mut self, suffix: &str) {
        let suffix = suffix.to_ascii_lowercase();
        if !self.suffixes.contains(&suffix) {
            self.suffixes.push(suffix);
        }
    }
}

/// Binds the router's address; [`Router::run`] then serves it.
pub struct Router {
    listener: TcpListener,
    config: RouterConfig,
}

impl Router {
    pub async fn bind(config: RouterConfig) -> std::io::Result<Router> {
        let listener = TcpListener::bind(config.listen).await?;
        Ok(Router { listener, config })
    }

    pub fn local_addr(&self) -> std::io::Result<SocketAddr> {
        self.listener.local_addr()
    }

    /// Serves requests from `table`, kept current from `store` and
    /// `runtime`, until `shutdown` resolves; then takes no new connection.
    ///
    /// The proxy runs on a thread of its own, on a single-threaded runtime:
    /// a request, its client connection and the connection to its instance
    /// are served by one event loop, without waking other threads (which
    /// cost about a fifth of the router's CPU on the worker's runtime). The
    /// feed stays on the caller's runtime.
    pub async fn run<R: Runtime>(
        self,
        table: Arc<Table>,
        store: Store,
        runtime: Arc<R>,
        shutdown: impl Future<Output = ()> + Send,
    ) {
        let Router { listener, config } = self;
        table.set_suffixes(config.suffixes.clone());
        let fed = feed::Feed::new(table.clone(), store, runtime, &config);
        let feeding = tokio::spawn(fed.run());
        let proxy = proxy::Proxy::new(table, config.clone());
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let serving = listener.into_std().and_then(|listener| {
            std::thread::Builder::new()
                .name("slipway-router".into())
                .spawn(move || serve(listener, proxy, config, stopped))
        });
        match serving {
            Ok(thread) => {
                shutdown.await;
                let _ = stop.send(());
                let _ = tokio::task::spawn_blocking(move || thread.join()).await;
            }
            Err(error) => tracing::error!(%error, "the router cannot start"),
        }
        feeding.abort();
    }
}

/// Accepts and serves connections until `stopped` resolves.
fn serve(
    listener: std::net::TcpListener,
    proxy: proxy::Proxy,
    config: RouterConfig,
    stopped: tokio::sync::oneshot::Receiver<()>,
) {
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(error) => return tracing::error!(%error, "the router cannot start its runtime"),
    };
    runtime.block_on(async move {
        let listener = match TcpListener::from_std(listener) {
            Ok(listener) => listener,
            Err(error) => return tracing::error!(%error, "the router cannot listen"),
        };
        let proxy = Arc::new(proxy);
        tokio::pin!(stopped);
        loop {
            let (stream, peer) = tokio::select! {
                _ = &mut stopped => break,
                accepted = listener.accept() => match accepted {
                    Ok(accepted) => accepted,
                    Err(error) => {
                        // Out of file descriptors and the like: wait, do not spin.
                        tracing::warn!(%error, "router cannot accept a connection");
                        tokio::time::sleep(Duration::from_millis(50)).await;
                        continue;
                    }
                },
            };
            let _ = stream.set_nodelay(true);
            let proxy = proxy.clone();
            let config = config.clone();
            tokio::spawn(async move {
                let service = service_fn(move |req| {
                    let proxy = proxy.clone();
                    async move { Ok::<_, Infallible>(proxy.serve(req, peer).await) }
                });
                let served = http1::Builder::new()
                    .timer(TokioTimer::new())
                    .header_read_timeout(config.idle_timeout)
                    .max_buf_size(config.max_header.max(8192))
                    .max_header_size(config.max_header)
                    .serve_connection(TokioIo::new(stream), service)
                    .with_upgrades()
                    .await;
                if let Err(error) = served {
                    tracing::debug!(%error, "router connection ended");
                }
            });
        }
    });
}
