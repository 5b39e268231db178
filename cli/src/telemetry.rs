//! Tracing init in one place: the log lines (`SLIPWAY_LOG_FORMAT=text|json`,
//! filtered by `RUST_LOG`) and, when `OTEL_EXPORTER_OTLP_ENDPOINT` is set,
//! spans exported over OTLP/HTTP (protobuf).
//!
//! Each layer has its own filter: `RUST_LOG` chooses log lines only, so
//! `RUST_LOG=warn` still exports every span of a deploy. The exporter takes
//! Slipway's own spans and events at `info` ([`export_filter`]), never those
//! of dependencies (the OTLP client's own would feed back into the export).
//!
//! The standard variables are read by the OpenTelemetry SDK itself:
//! `OTEL_EXPORTER_OTLP_ENDPOINT` (`/v1/traces` is appended),
//! `OTEL_SERVICE_NAME` (default given by the caller: `slipway-api`,
//! `slipway-worker` or `slipway`), `OTEL_RESOURCE_ATTRIBUTES` and
//! `OTEL_TRACES_SAMPLER`/`OTEL_TRACES_SAMPLER_ARG`. Only `http/protobuf` is
//! built in (no gRPC stack in the binary); another `OTEL_EXPORTER_OTLP_PROTOCOL`
//! is refused at start rather than silently ignored.
//!
//! Without an endpoint no OpenTelemetry layer is installed: nothing is
//! exported and spans cost what plain `tracing` spans cost. Log lines carry
//! `trace_id` and `span_id` whenever the line is inside an exported span.

use anyhow::Context as _;
use opentelemetry::trace::{TraceContextExt, TracerProvider as _};
use opentelemetry_sdk::trace::SdkTracerProvider;
use opentelemetry_sdk::Resource;
use std::fmt;
use std::sync::{Arc, OnceLock};
use tracing::level_filters::LevelFilter;
use tracing::{Event, Subscriber};
use tracing_subscriber::filter::Targets;
use tracing_subscriber::fmt::format::Writer;
use tracing_subscriber::fmt::{FmtContext, FormatEvent, FormatFields};
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::registry::{LookupSpan, Registry};
use tracing_subscriber::{EnvFilter, Layer as _};

/// How log lines look (`SLIPWAY_LOG_FORMAT`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LogFormat {
    Text,
    Json,
}

impl LogFormat {
    fn from_env() -> anyhow::Result<Self> {
        match std::env::var("SLIPWAY_LOG_FORMAT").as_deref() {
            Err(_) | Ok("") | Ok("text") => Ok(Self::Text),
            Ok("json") => Ok(Self::Json),
            Ok(other) => anyhow::bail!("SLIPWAY_LOG_FORMAT must be text or json, not {other:?}"),
        }
    }
}

/// Keeps the exporter alive; [`Telemetry::shutdown`] flushes the spans.
pub struct Telemetry {
    provider: Option<SdkTracerProvider>,
}

impl Telemetry {
    /// Flushes and stops the exporter. The exporter's HTTP client blocks, so
    /// this runs on a blocking thread.
    pub async fn shutdown(self) {
        if let Some(provider) = self.provider {
            let done = tokio::task::spawn_blocking(move || provider.shutdown()).await;
            if let Ok(Err(err)) = done {
                eprintln!("could not flush traces: {err}");
            }
        }
    }
}

/// Installs the global subscriber. `default_level` filters log lines when
/// `RUST_LOG` is unset (neither touches what is exported); `service` is the service name unless `OTEL_SERVICE_NAME` or
/// `OTEL_RESOURCE_ATTRIBUTES` name one.
pub fn init(default_level: &str, service: &'static str) -> anyhow::Result<Telemetry> {
    use std::io::IsTerminal;
    let filter =
        EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(default_level));
    let format = LogFormat::from_env()?;
    let colour = format == LogFormat::Text
        && crate::client::output::colour_for(std::io::stderr().is_terminal());
    let dispatch_cell: Arc<OnceLock<tracing::dispatcher::WeakDispatch>> = Arc::default();
    let formatter = WithTraceIds {
        format,
        dispatch: dispatch_cell.clone(),
    };
    let fmt_layer = tracing_subscriber::fmt::layer()
        .with_writer(std::io::stderr)
        .with_ansi(colour)
        .event_format(formatter)
        .with_filter(filter);
    let provider = exporter(service)?;
    let otel_layer = provider.as_ref().map(|provider| {
        tracing_opentelemetry::layer()
            .with_tracer(provider.tracer("slipway"))
            .with_tracked_inactivity(false)
            .with_threads(false)
            .with_filter(export_filter())
    });
    let subscriber = tracing_subscriber::registry()
        .with(otel_layer)
        .with(fmt_layer);
    let dispatch = tracing::Dispatch::new(subscriber);
    let _ = dispatch_cell.set(dispatch.downgrade());
    tracing::dispatcher::set_global_default(dispatch).context("tracing was already set up")?;
    Ok(Telemetry { provider })
}

/// What the exporter sees, whatever `RUST_LOG` says: the spans (and events)
/// of Slipway's crates at `info` and above. The rollout, its steps, the HTTP
/// server and webhook client spans are all `info`; dependencies' spans (the
/// queue library's, the OTLP client's) are left out.
fn export_filter() -> Targets {
    [
        "slipway",
        "slipway_api",
        "slipway_core",
        "slipway_queue",
        "slipway_worker",
    ]
    .into_iter()
    .fold(Targets::new(), |targets, crate_name| {
        targets.with_target(crate_name, LevelFilter::INFO)
    })
}

/// The OTLP/HTTP exporter, when an endpoint is configured.
fn exporter(service: &'static str) -> anyhow::Result<Option<SdkTracerProvider>> {
    use opentelemetry_otlp::WithExportConfig;
    let configured = [
        "OTEL_EXPORTER_OTLP_ENDPOINT",
        "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT",
    ]
    .iter()
    .any(|name| std::env::var(name).is_ok_and(|value| !value.trim().is_empty()));
    if !configured {
        return Ok(None);
    }
    for name in [
        "OTEL_EXPORTER_OTLP_PROTOCOL",
        "OTEL_EXPORTER_OTLP_TRACES_PROTOCOL",
    ] {
        match std::env::var(name).as_deref() {
            Err(_) | Ok("") | Ok("http/protobuf") => {}
            Ok(other) => anyhow::bail!("{name}={other:?} is not supported: use http/protobuf"),
        }
    }
    let exporter = opentelemetry_otlp::SpanExporter::builder()
        .with_http()
        .with_protocol(opentelemetry_otlp::Protocol::HttpBinary)
        .build()
        .context("cannot set up the OTLP exporter")?;
    let mut resource = Resource::builder();
    let named = Resource::builder()
        .build()
        .get(&opentelemetry::Key::new("service.name"))
        .is_some_and(|name| !name.as_str().starts_with("unknown_service"));
    if !named {
        resource = resource.with_service_name(service);
    }
    let provider = SdkTracerProvider::builder()
        .with_batch_exporter(exporter)
        .with_resource(resource.build())
        .build();
    Ok(Some(provider))
}

/// The fmt layer's line, with the OpenTelemetry `trace_id` and `span_id` of
/// the current span added (text: leading `trace_id=.. span_id=..`; JSON: two
/// more keys).
struct WithTraceIds {
    format: LogFormat,
    /// Set once the subscriber exists; the ids live in its OpenTelemetry layer.
    dispatch: Arc<OnceLock<tracing::dispatcher::WeakDispatch>>,
}

impl WithTraceIds {
    /// The ids of the innermost exported span around `event`. The lookup goes
    /// through the registry, not the fmt layer's context: that one hides the
    /// spans `RUST_LOG` filters out, which may well be the exported ones.
    fn ids(&self, event: &Event<'_>) -> Option<(String, String)> {
        let dispatch = self.dispatch.get()?.upgrade()?;
        let registry = dispatch.downcast_ref::<Registry>()?;
        let innermost = match event.parent() {
            Some(parent) => parent.clone(),
            None if event.is_contextual() => dispatch.current_span().id()?.clone(),
            None => return None,
        };
        let ids = registry.span(&innermost)?.scope().find_map(|span| {
            let cx = tracing_opentelemetry::get_otel_context(&span.id(), &dispatch)?;
            let span_ref = cx.span();
            let context = span_ref.span_context();
            context.is_valid().then(|| {
                (
                    context.trace_id().to_string(),
                    context.span_id().to_string(),
                )
            })
        });
        ids
    }
}

impl<S, N> FormatEvent<S, N> for WithTraceIds
where
    S: Subscriber + for<'a> LookupSpan<'a>,
    N: for<'a> FormatFields<'a> + 'static,
{
    fn format_event(
        &self,
        ctx: &FmtContext<'_, S, N>,
        mut writer: Writer<'_>,
        event: &Event<'_>,
    ) -> fmt::Result {
        let ids = self.ids(event);
        match self.format {
            LogFormat::Text => {
                if let Some((trace, span)) = &ids {
                    write!(writer, "trace_id={trace} span_id={span} ")?;
                }
                tracing_subscriber::fmt::format()
                    .with_ansi(writer.has_ansi_escapes())
                    .format_event(ctx, writer, event)
            }
            LogFormat::Json => {
                let mut line = String::new();
                tracing_subscriber::fmt::format()
                    .json()
                    .with_current_span(false)
                    .with_span_list(false)
                    .format_event(ctx, Writer::new(&mut line), event)?;
                let body = line.trim_end();
                match (&ids, body.strip_suffix('}')) {
                    (Some((trace, span)), Some(open)) => writeln!(
                        writer,
                        "{open},\"trace_id\":\"{trace}\",\"span_id\":\"{span}\"}}"
                    ),
                    _ => writeln!(writer, "{body}"),
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::export_filter;
    use tracing::Level;

    #[test]
    fn the_exporter_takes_slipways_info_spans_only() {
        let filter = export_filter();
        for target in [
            "slipway::telemetry",
            "slipway_api::tracing_mw",
            "slipway_worker::rollout::converge",
            "slipway_core::jobs",
            "slipway_queue::producer",
        ] {
            assert!(filter.would_enable(target, &Level::INFO), "{target}");
            assert!(!filter.would_enable(target, &Level::DEBUG), "{target}");
        }
        for target in ["apalis::layers::tracing", "opentelemetry_sdk", "hyper"] {
            assert!(!filter.would_enable(target, &Level::ERROR), "{target}");
        }
    }
}
