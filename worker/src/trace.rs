//! Trace context across the queue and out to webhook receivers: W3C
//! `traceparent` in, a remote parent context out, and the current span's
//! `traceparent` for outgoing requests.

use opentelemetry::trace::TraceContextExt;
use slipway_core::trace_context::parse_traceparent;
use tracing_opentelemetry::OpenTelemetrySpanExt;

/// The remote parent a W3C `traceparent` names; `None` when invalid, as
/// the trace-context spec says to ignore it.
pub fn remote_parent(traceparent: &str) -> Option<opentelemetry::Context> {
    parse_traceparent(traceparent)
        .map(|context| opentelemetry::Context::new().with_remote_span_context(context))
}

/// Makes `span` (not yet entered) a child of `traceparent`, if valid.
pub fn continue_from(span: &tracing::Span, traceparent: Option<&str>) {
    if let Some(parent) = traceparent.and_then(remote_parent) {
        let _ = span.set_parent(parent);
    }
}

/// The `traceparent` of `span` when spans are exported.
pub fn traceparent_of(span: &tracing::Span) -> Option<String> {
    let cx = span.context();
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

/// Marks `span` failed with `reason` (OpenTelemetry status error).
pub fn fail(span: &tracing::Span, reason: &str) {
    span.set_status(opentelemetry::trace::Status::error(reason.to_owned()));
}

#[cfg(test)]
mod tests {
    use super::remote_parent;
    use opentelemetry::trace::TraceContextExt;

    #[test]
    fn only_well_formed_traceparents_give_a_parent() {
        let cx = remote_parent("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01").unwrap();
        assert_eq!(
            cx.span().span_context().trace_id().to_string(),
            "4bf92f3577b34da6a3ce929d0e0e4736"
        );
        assert!(remote_parent("nonsense").is_none());
    }
}
