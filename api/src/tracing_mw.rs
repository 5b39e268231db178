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

/// A remote span context from a valid W3C `traceparent` value
/// (`<version>-<trace id>-<parent id>-<flags>`, lower-case hex). `None` for
/// what the trace-context spec says to ignore: version `ff`, an all-zero
/// trace or parent id, more fields after a version `00` one, any other shape.
pub fn parse_traceparent(value: &str) -> Option<SpanContext> {
    let fields: Vec<&str> = value.trim().split('-').collect();
    let [version, trace, span, flags, rest @ ..] = fields.as_slice() else {
        return None;
    };
    let hex = |s: &str, len: usize| {
        s.len() == len && s.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
    };
    if !hex(version, 2)
        || *version == "ff"
        || (*version == "00" && !rest.is_empty())
        || !hex(trace, 32)
        || !hex(span, 16)
        || !hex(flags, 2)
    {
        return None;
    }
    let trace = TraceId::from_hex(trace).ok()?;
    let span = SpanId::from_hex(span).ok()?;
    let flags = TraceFlags::new(u8::from_str_radix(flags, 16).ok()?);
    let context = SpanContext::new(trace, span, flags, true, TraceState::default());
    // All-zero ids make an invalid context.
    context.is_valid().then_some(context)
}

/// `context` as a version `00` `traceparent`.
pub fn format_traceparent(context: &SpanContext) -> String {
    format!(
        "00-{}-{}-{:02x}",
        context.trace_id(),
        context.span_id(),
        context.trace_flags().to_u8()
    )
}

#[cfg(test)]
mod tests {
    use super::parse_traceparent;

    #[test]
    fn traceparents_parse_only_when_valid() {
        let good = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";
        let context = parse_traceparent(good).unwrap();
        assert_eq!(
            context.trace_id().to_string(),
            "4bf92f3577b34da6a3ce929d0e0e4736"
        );
        assert!(context.is_sampled());
        // A later version may add fields.
        assert!(
            parse_traceparent("01-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-x")
                .is_some()
        );
        for bad in [
            "00-00000000000000000000000000000000-00f067aa0ba902b7-01",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-0000000000000000-01",
            "ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-x",
            "00-4BF92F3577B34DA6A3CE929D0E0E4736-00f067aa0ba902b7-01",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7",
            "garbage",
        ] {
            assert!(parse_traceparent(bad).is_none(), "{bad}");
        }
    }
}
