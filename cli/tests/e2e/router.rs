//! `slipway dev`'s router with tracing on: a request through it is one
//! trace with the client's, and the instance's parent is the router's span.

use crate::collector::{attribute, deploy_traced, dev, hex, request, Collector, CI_SPAN, CI_TRACE};
use opentelemetry_proto::tonic::trace::v1::span::SpanKind;
use serde_json::json;

#[tokio::test(flavor = "multi_thread")]
async fn a_request_through_the_router_continues_the_clients_trace() {
    let collector = Collector::start();
    let dir = tempfile::tempdir().unwrap();
    let (server, token, _) = dev(dir.path(), &collector);
    let (status, _) = request(
        reqwest::Method::POST,
        &format!("{}/apps", server.url),
        &token,
        Some(json!({ "name": "shop" })),
        None,
    )
    .await;
    assert_eq!(status, 201);
    let other = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01";
    let deployed = deploy_traced(&server.url, &token, "", other).await;
    assert_eq!(deployed["status"], "succeeded", "{deployed}");
    let (_, app) = request(
        reqwest::Method::GET,
        &format!("{}/apps/shop", server.url),
        &token,
        None,
        None,
    )
    .await;
    let url = app["services"][0]["urls"][0].as_str().unwrap().to_owned();
    let port = url.rsplit(':').next().unwrap();
    let router = format!("http://127.0.0.1:{port}/headers");

    let traceparent = format!("00-{CI_TRACE}-{CI_SPAN}-01");
    let head = reqwest::Client::new()
        .get(&router)
        .header("host", "web.shop.localhost")
        .header("traceparent", &traceparent)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let passed = head
        .lines()
        .find_map(|l| {
            l.to_ascii_lowercase()
                .strip_prefix("traceparent: ")
                .map(str::to_owned)
        })
        .unwrap_or_else(|| panic!("no traceparent reached the instance: {head}"));
    let fields: Vec<&str> = passed.trim().split('-').collect();
    assert_eq!(fields[1], CI_TRACE, "{passed}");
    assert_ne!(
        fields[2], CI_SPAN,
        "the router's span is the parent: {passed}"
    );

    let spans = collector
        .wait_for("router span", |spans| {
            spans.iter().any(|s| s.name == "router request")
        })
        .await;
    let span = spans.iter().find(|s| s.name == "router request").unwrap();
    assert_eq!(hex(&span.trace_id), CI_TRACE);
    assert_eq!(hex(&span.parent_span_id), CI_SPAN);
    assert_eq!(hex(&span.span_id), fields[2]);
    assert_eq!(span.kind, SpanKind::Server as i32);
    assert_eq!(attribute(span, "app").as_deref(), Some("shop"));
    assert_eq!(
        attribute(span, "http.response.status_code").as_deref(),
        Some("200")
    );
}
