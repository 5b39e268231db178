//! One server span per HTTP request, named and attributed after the HTTP
//! semantic conventions (`GET /apps/{app}`, `http.request.method`,
//! `http.route`, `url.path`, `http.response.status_code`). An incoming W3C
//! `traceparent` becomes the span's remote parent, so a CI pipeline's trace
//! contains the deploy. (tracing-actix-web's OpenTelemetry support lags the
//! 0.33 SDK, hence these few lines.)
//!
//! Query strings, headers and bodies are never recorded: they may carry
//! tokens or env values.

use actix_web::body::MessageBody;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::middleware::Next;
use opentelemetry::trace::{SpanContext, Status, TraceContextExt};
pub use slipway_core::trace_context::{format_traceparent, parse_traceparent};
use tracing::Instrument;
use tracing_opentelemetry::OpenTelemetrySpanExt;

/// The middleware (`App::wrap(from_fn(trace_request))`).
pub async fn trace_request(
    req: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<impl MessageBody>, actix_web::Error> {
    // A closed set (`_OTHER` for the rest): anyone can send any method.
    let method = slipway_core::metrics::known_http_method(req.method().as_str());
    // The conventions name a span of an unknown method `HTTP`.
    let verb = if method == "_OTHER" { "HTTP" } else { method };
    let route = req.match_pattern();
    let name = match &route {
        Some(route) => format!("{verb} {route}"),
        None => verb.to_owned(),
    };
    let span = tracing::info_span!(
        "HTTP request",
        otel.name = %name,
        otel.kind = "server",
        http.request.method = %method,
        http.route = route.as_deref().unwrap_or_default(),
        url.path = req.path(),
        url.scheme = req.connection_info().scheme(),
        http.response.status_code = tracing::field::Empty,
    );
    if let Some(parent) = incoming_parent(&req) {
        let _ = span.set_parent(opentelemetry::Context::new().with_remote_span_context(parent));
    }
    let metrics = req
        .app_data::<actix_web::web::Data<crate::state::AppState>>()
        .map(|state| state.metrics.clone());
    let started = std::time::Instant::now();
    let result = next.call(req).instrument(span.clone()).await;
    let status = match &result {
        Ok(res) => res.status(),
        Err(err) => err.as_response_error().status_code(),
    };
    if let Some(metrics) = metrics {
        let route = route.as_deref().unwrap_or("unmatched");
        metrics.http_request(method, route, status.as_u16(), started.elapsed());
    }
    span.record("http.response.status_code", status.as_u16());
    // Server spans are errors for 5xx only (4xx is the client's fault).
    if status.is_server_error() {
        span.set_status(Status::error(status.to_string()));
    }
    result
}

/// The W3C `traceparent` of the current span, when spans are exported; the
/// job, the deployment row and webhook deliveries carry it on.
pub fn current_traceparent() -> Option<String> {
    let cx = tracing::Span::current().context();
    let span = cx.span();
    let context = span.span_context();
    context.is_valid().then(|| format_traceparent(context))
}

/// Parses the request's `traceparent`; anything invalid is ignored and a
/// new trace starts.
fn incoming_parent(req: &ServiceRequest) -> Option<SpanContext> {
    parse_traceparent(req.headers().get("traceparent")?.to_str().ok()?)
}
