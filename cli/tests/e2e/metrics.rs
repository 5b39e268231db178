//! What the processes show beyond the API: `/metrics` (the API's and a
//! worker's own), and the trace a webhook receiver is handed.

use crate::collector::{attribute, deploy_traced, dev, hex, request, Collector, CI_SPAN, CI_TRACE};
use crate::support::testapp_manifest;
use opentelemetry_proto::tonic::trace::v1::span::SpanKind;
use serde_json::json;
use std::time::Duration;

/// `GET /metrics` without a token.
pub(crate) async fn scrape(url: &str) -> String {
    let response = reqwest::get(format!("{url}/metrics")).await.unwrap();
    assert_eq!(response.status(), 200);
    let kind = response.headers()["content-type"]
        .to_str()
        .unwrap()
        .to_owned();
    assert!(kind.starts_with("application/openmetrics-text"), "{kind}");
    response.text().await.unwrap()
}

#[tokio::test(flavor = "multi_thread")]
async fn a_webhook_receiver_sees_a_traceparent_of_the_deploys_trace() {
    use slipway_core::testing::Receiver;
    let receiver = Receiver::start().await;
    let collector = Collector::start();
    let dir = tempfile::tempdir().unwrap();
    let (server, token, _) = dev(dir.path(), &collector);
    let url = server.url.clone();
    let (status, created) = request(
        reqwest::Method::POST,
        &format!("{url}/webhooks"),
        &token,
        Some(json!({ "url": receiver.url("/hook"), "kind": "generic",
                     "events": ["deployment.succeeded"] })),
        None,
    )
    .await;
    assert_eq!(status, 201, "{created}");
    let (status, _) = request(
        reqwest::Method::POST,
        &format!("{url}/apps"),
        &token,
        Some(json!({ "name": "shop" })),
        None,
    )
    .await;
    assert_eq!(status, 201);
    let done = deploy_traced(&url, &token, "", &format!("00-{CI_TRACE}-{CI_SPAN}-01")).await;
    assert_eq!(done["status"], "succeeded", "{done}");

    let request = receiver
        .wait_for(1, Duration::from_secs(20))
        .await
        .remove(0);
    let traceparent = request.header("traceparent").expect("a traceparent header");
    let parts: Vec<&str> = traceparent.split('-').collect();
    assert_eq!(parts.len(), 4, "{traceparent}");
    assert_eq!(parts[1], CI_TRACE, "{traceparent}");
    assert_eq!(request.json()["data"]["trace_id"], CI_TRACE);

    // The header names the attempt's client span, exported in that trace.
    let spans = collector
        .wait_for("the delivery span", |spans| {
            spans
                .iter()
                .any(|s| s.kind == SpanKind::Client as i32 && hex(&s.span_id) == parts[2])
        })
        .await;
    let attempt = spans.iter().find(|s| hex(&s.span_id) == parts[2]).unwrap();
    assert_eq!(hex(&attempt.trace_id), CI_TRACE);
    assert_eq!(attempt.name, "POST");
    assert_eq!(
        attribute(attempt, "http.response.status_code").as_deref(),
        Some("200")
    );
    assert!(!attempt.parent_span_id.is_empty());

    let metrics = scrape(&url).await;
    let line = "slipway_webhook_deliveries_total{outcome=\"delivered\"} 1";
    assert!(
        metrics.lines().any(|l| l == line),
        "no `{line}` in {metrics}"
    );
    assert!(metrics.contains("slipway_webhook_delivery_latency_seconds_count 1"));
}

#[tokio::test(flavor = "multi_thread")]
async fn a_worker_serves_its_own_metrics_when_asked() {
    let cluster = crate::rollouts::Cluster::start();
    let api = &cluster.api;
    let port = crate::support::free_port();
    let _worker = cluster.worker_with(&[("SLIPWAY_METRICS_LISTEN", &format!("127.0.0.1:{port}"))]);
    assert_eq!(api.post("/apps", json!({ "name": "shop" })).await.0, 201);
    let (status, started) = api
        .post(
            "/apps/shop/deploy",
            json!({ "manifest": testapp_manifest("", 1) }),
        )
        .await;
    assert_eq!(status, 202, "{started}");
    let id = started["deployment"]["id"].as_str().unwrap();
    let done = api.wait_final("shop", id, Duration::from_secs(60)).await;
    assert_eq!(done["status"], "succeeded", "{done}");
    let text = reqwest::get(format!("http://127.0.0.1:{port}/metrics"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let line = "slipway_deployments_total{outcome=\"succeeded\"} 1";
    assert!(text.lines().any(|l| l == line), "no `{line}` in {text}");
    assert!(
        text.contains("slipway_queue_pickup_latency_seconds_count 1"),
        "{text}"
    );
}
