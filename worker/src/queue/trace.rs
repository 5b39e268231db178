//! Trace context across the queue and out to webhook receivers: W3C
//! `traceparent` in, a remote parent context out, and the current span's
//! `traceparent` for outgoing requests.

use opentelemetry::trace::{SpanContext, SpanId, TraceContextExt, TraceFlags, TraceId, TraceState};
use tracing_opentelemetry::OpenTelemetrySpanExt;

/// The remote parent a W3C `traceparent` names; `None` when invalid
/// (version `ff`, all-zero ids, upper-case hex, more fields after a version
/// `00` one, any other shape), as the trace-context spec says to ignore it.
pub fn remote_parent(traceparent: &str) -> Option<opentelemetry::Context> {
    let fields: Vec<&str> = traceparent.trim().split('-').collect();
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
    let flags = TraceFlags::new(u8::from_str_radix(flags, 16).ok()?);
    let context = SpanContext::new(
        TraceId::from_hex(trace).ok()?,
        SpanId::from_hex(span).ok()?,
        flags,
        true,
        TraceState::default(),
    );
    context
        .is_valid()
        .then(|| opentelemetry::Context::new().with_remote_span_context(context))
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
        for bad in [
            "00-4bf92f3577b34da6a3ce929d0e0e4736-0000000000000000-01",
            "00-00000000000000000000000000000000-00f067aa0ba902b7-01",
            "ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-x",
            "nonsense",
        ] {
            assert!(remote_parent(bad).is_none(), "{bad}");
        }
    }
}
