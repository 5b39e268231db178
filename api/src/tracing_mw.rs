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
use opentelemetry::trace::{
    SpanContext, SpanId, Status, TraceContextExt, TraceFlags, TraceId, TraceState,
};
use tracing::Instrument;
use tracing_opentelemetry::OpenTelemetrySpanExt;

/// The middleware (`App::wrap(from_fn(trace_request))`).
pub async fn trace_request(
    req: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<impl MessageBody>, actix_web::Error> {
    let method = req.method().as_str().to_owned();
    let route = req.match_pattern();
    let name = match &route {
        Some(route) => format!("{method} {route}"),
        None => method.clone(),
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
        metrics.http_request(&method, route, status.as_u16(), started.elapsed());
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
    context.is_valid().then(|| {
        format!(
            "00-{}-{}-{:02x}",
            context.trace_id(),
            context.span_id(),
            context.trace_flags().to_u8()
        )
    })
}

/// Parses `traceparent` (`00-<32 hex>-<16 hex>-<2 hex>`); anything else is
/// ignored and a new trace starts.
fn incoming_parent(req: &ServiceRequest) -> Option<SpanContext> {
    parse_traceparent(req.headers().get("traceparent")?.to_str().ok()?)
}

/// A remote span context from a W3C `traceparent` value.
pub fn parse_traceparent(value: &str) -> Option<SpanContext> {
    let mut parts = value.trim().split('-');
    let (version, trace, span, flags) =
        (parts.next()?, parts.next()?, parts.next()?, parts.next()?);
    if version.len() != 2
        || version == "ff"
        || trace.len() != 32
        || span.len() != 16
        || flags.len() != 2
    {
        return None;
    }
    let trace = TraceId::from_hex(trace).ok()?;
    let span = SpanId::from_hex(span).ok()?;
    let flags = TraceFlags::new(u8::from_str_radix(flags, 16).ok()?);
    let context = SpanContext::new(trace, span, flags, true, TraceState::default());
    context.is_valid().then_some(context)
}

#[cfg(test)]
mod tests {
    use super::parse_traceparent;

    #[test]
    fn traceparents_parse_only_when_well_formed() {
        let good = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";
        let context = parse_traceparent(good).unwrap();
        assert_eq!(
            context.trace_id().to_string(),
            "4bf92f3577b34da6a3ce929d0e0e4736"
        );
        assert!(context.is_sampled());
        assert!(
            parse_traceparent("00-00000000000000000000000000000000-00f067aa0ba902b7-01").is_none()
        );
        assert!(
            parse_traceparent("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7").is_none()
        );
        assert!(parse_traceparent("garbage").is_none());
    }
}
