//! The process's Prometheus metrics (`prometheus-client`), created once in
//! `main` and handed to the API and the workers; `GET /metrics` encodes them.
//!
//! Labels are small closed sets (outcome, route pattern, method, status), so
//! no label can carry an id, an env value or a token.

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{exponential_buckets, Histogram};
use prometheus_client::registry::Registry;
use std::sync::Arc;
use std::time::Duration;

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct Outcome {
    outcome: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct HttpLabels {
    method: String,
    route: String,
    status: u16,
}

/// The HTTP method as the HTTP semantic conventions record it: one of the
/// standard methods (case-sensitive), else `_OTHER`. Anyone may send any
/// token as a method, so this keeps the label (and span attribute) a closed set.
pub fn known_http_method(method: &str) -> &'static str {
    const KNOWN: [&str; 9] = [
        "GET", "HEAD", "POST", "PUT", "DELETE", "CONNECT", "OPTIONS", "TRACE", "PATCH",
    ];
    KNOWN
        .into_iter()
        .find(|known| *known == method)
        .unwrap_or("_OTHER")
}

fn seconds_histogram(start: f64, count: u16) -> Histogram {
    Histogram::new(exponential_buckets(start, 2.0, count))
}

struct Inner {
    registry: Registry,
    deployments: Family<Outcome, Counter>,
    deployment_duration: Histogram,
    time_to_rollback: Histogram,
    queue_depth: Gauge,
    pickup_latency: Histogram,
    webhook_deliveries: Family<Outcome, Counter>,
    webhook_latency: Histogram,
    http_requests: Family<HttpLabels, Counter>,
    http_duration: Family<HttpLabels, Histogram, fn() -> Histogram>,
}

/// Shared handle on the metrics; clones record into the same registry.
#[derive(Clone)]
pub struct Metrics {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for Metrics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Metrics")
    }
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

impl Metrics {
    /// A fresh registry with every Slipway metric registered.
    pub fn new() -> Metrics {
        let mut registry = Registry::with_prefix("slipway");
        let deployments = Family::<Outcome, Counter>::default();
        registry.register(
            "deployments",
            "Deployments that reached a final state, by outcome",
            deployments.clone(),
        );
        let deployment_duration = seconds_histogram(0.25, 14);
        registry.register(
            "deployment_duration_seconds",
            "From promote to the final state",
            deployment_duration.clone(),
        );
        let time_to_rollback = seconds_histogram(0.25, 14);
        registry.register(
            "time_to_rollback_seconds",
            "From the failure being seen to the previous release serving again",
            time_to_rollback.clone(),
        );
        let queue_depth = Gauge::default();
        registry.register(
            "queue_depth",
            "Deployments waiting for a worker (pending)",
            queue_depth.clone(),
        );
        let pickup_latency = seconds_histogram(0.001, 16);
        registry.register(
            "queue_pickup_latency_seconds",
            "From enqueue to a worker starting the job",
            pickup_latency.clone(),
        );
        let webhook_deliveries = Family::<Outcome, Counter>::default();
        registry.register(
            "webhook_deliveries",
            "Webhook delivery attempts, by outcome",
            webhook_deliveries.clone(),
        );
        let webhook_latency = seconds_histogram(0.005, 14);
        registry.register(
            "webhook_delivery_latency_seconds",
            "Time of one webhook delivery attempt",
            webhook_latency.clone(),
        );
        let http_requests = Family::<HttpLabels, Counter>::default();
        registry.register(
            "http_requests",
            "HTTP requests served, by route pattern and status",
            http_requests.clone(),
        );
        let http_duration = Family::<HttpLabels, Histogram>::new_with_constructor(
            (|| seconds_histogram(0.001, 14)) as fn() -> Histogram,
        );
        registry.register(
            "http_request_duration_seconds",
            "HTTP request duration, by route pattern and status",
            http_duration.clone(),
        );
        Metrics {
            inner: Arc::new(Inner {
                registry,
                deployments,
                deployment_duration,
                time_to_rollback,
                queue_depth,
                pickup_latency,
                webhook_deliveries,
                webhook_latency,
                http_requests,
                http_duration,
            }),
        }
    }

    /// The Prometheus text exposition of every metric.
    pub fn encode(&self) -> String {
        let mut out = String::new();
        // Writing to a String cannot fail.
        let _ = prometheus_client::encoding::text::encode(&mut out, &self.inner.registry);
        out
    }

    /// A deployment ended (`succeeded`, `rolled_back`, `failed`) after `took`.
    pub fn deployment_finished(&self, outcome: &str, took: Duration) {
        self.inner
            .deployments
            .get_or_create(&Outcome {
                outcome: outcome.to_owned(),
            })
            .inc();
        self.inner.deployment_duration.observe(took.as_secs_f64());
    }

    /// A rollback brought the previous release back, `took` after the failure.
    pub fn rolled_back(&self, took: Duration) {
        self.inner.time_to_rollback.observe(took.as_secs_f64());
    }

    /// Deployments waiting for a worker, as last counted.
    pub fn set_queue_depth(&self, depth: i64) {
        self.inner.queue_depth.set(depth);
    }

    /// A worker picked up a job `latency` after it was enqueued.
    pub fn picked_up(&self, latency: Duration) {
        self.inner.pickup_latency.observe(latency.as_secs_f64());
    }

    /// A webhook attempt ended (`delivered`, `retry`, `failed`, `gone`).
    pub fn webhook_attempt(&self, outcome: &str, took: Duration) {
        self.inner
            .webhook_deliveries
            .get_or_create(&Outcome {
                outcome: outcome.to_owned(),
            })
            .inc();
        self.inner.webhook_latency.observe(took.as_secs_f64());
    }

    /// An HTTP request was served; `route` is the matched pattern
    /// (`/apps/{app}`), or `unmatched`. A non-standard method counts as `_OTHER`.
    pub fn http_request(&self, method: &str, route: &str, status: u16, took: Duration) {
        let labels = HttpLabels {
            method: known_http_method(method).to_owned(),
            route: route.to_owned(),
            status,
        };
        self.inner.http_requests.get_or_create(&labels).inc();
        self.inner
            .http_duration
            .get_or_create(&labels)
            .observe(took.as_secs_f64());
    }
}

#[cfg(test)]
mod tests {
    use super::{known_http_method, Metrics};
    use std::time::Duration;

    #[test]
    fn only_standard_http_methods_become_labels() {
        for method in [
            "GET", "HEAD", "POST", "PUT", "DELETE", "CONNECT", "OPTIONS", "TRACE", "PATCH",
        ] {
            assert_eq!(known_http_method(method), method);
        }
        for method in ["get", "PROPFIND", "X-RANDOM-1234", ""] {
            assert_eq!(known_http_method(method), "_OTHER", "{method}");
        }
        let metrics = Metrics::new();
        for n in 0..3 {
            let method = format!("M{n}");
            metrics.http_request(&method, "unmatched", 404, Duration::from_millis(1));
        }
        let text = metrics.encode();
        assert!(
            text.contains(
                "slipway_http_requests_total{method=\"_OTHER\",route=\"unmatched\",status=\"404\"} 3"
            ),
            "{text}"
        );
        assert!(!text.contains("M0"), "{text}");
    }

    #[test]
    fn metrics_are_encoded_as_prometheus_text() {
        let metrics = Metrics::new();
        metrics.deployment_finished("rolled_back", Duration::from_secs(3));
        metrics.http_request("GET", "/apps/{app}", 200, Duration::from_millis(2));
        let text = metrics.encode();
        assert!(
            text.contains("slipway_deployments_total{outcome=\"rolled_back\"} 1"),
            "{text}"
        );
        assert!(text.contains(
            "slipway_http_requests_total{method=\"GET\",route=\"/apps/{app}\",status=\"200\"} 1"
        ));
        assert!(text.contains("# TYPE slipway_deployment_duration_seconds histogram"));
        assert!(text.ends_with("# EOF\n"));
    }
}
