//! `GET /metrics`: Prometheus text exposition of this process's metrics.
//!
//! Public, like `/healthz`: Prometheus scrapers rarely send tokens, and no
//! metric carries an id, a name of an app, an env value or a token (labels
//! are outcomes, route patterns, methods and statuses). Keep it off the
//! public network the way `/healthz` is if that matters to you.

use crate::state::AppState;
use actix_web::{web, HttpResponse};

/// The OpenMetrics text format `prometheus-client` writes.
const CONTENT_TYPE: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";

#[utoipa::path(get, path = "/metrics", operation_id = "getMetrics", tag = "meta",
    description = "This process's metrics in the Prometheus/OpenMetrics text format: \
        deployments by outcome, deployment duration, time to rollback, queue depth and pickup \
        latency, webhook deliveries by outcome and latency, HTTP requests by route and status. \
        Needs no token (scrapers rarely send one); no metric carries an id, an app name, an \
        env value or a token.",
    responses(
        (status = 200, description = "The metrics.", body = String, content_type = CONTENT_TYPE),
        super::openapi::answers::UriTooLong, super::openapi::answers::HeaderTooLarge))]
pub async fn scrape(state: web::Data<AppState>) -> HttpResponse {
    let store = state.store.clone();
    // The depth is counted at scrape time; a database hiccup keeps the last value.
    if let Ok(Ok(depth)) = web::block(move || store.count_pending_deployments()).await {
        state.metrics.set_queue_depth(depth);
    }
    HttpResponse::Ok()
        .content_type(CONTENT_TYPE)
        .body(state.metrics.encode())
}

/// A server with `GET /metrics` only, for processes without the API
/// (`slipway server worker`). Returns it, not yet awaited, and its address.
pub fn metrics_only_server(
    listen: &str,
    metrics: slipway_core::metrics::Metrics,
) -> std::io::Result<(actix_web::dev::Server, std::net::SocketAddr)> {
    let listener = std::net::TcpListener::bind(listen)?;
    let addr = listener.local_addr()?;
    let server = actix_web::HttpServer::new(move || {
        let metrics = metrics.clone();
        actix_web::App::new().route(
            "/metrics",
            web::get().to(move || {
                let text = metrics.encode();
                async move { HttpResponse::Ok().content_type(CONTENT_TYPE).body(text) }
            }),
        )
    })
    .workers(1)
    .disable_signals()
    .listen(listener)?
    .run();
    Ok((server, addr))
}
