//! Traces end to end: `slipway dev` exporting over OTLP/HTTP to the
//! collector of `collector.rs`.

use crate::collector::{
    attribute, deploy_traced, dev, hex, names, request, start_logged, Collector, CI_SPAN, CI_TRACE,
};
use crate::support::{slipway, testapp_manifest};
use opentelemetry_proto::tonic::trace::v1::{span::SpanKind, status::StatusCode, Span};
use serde_json::{json, Value};
use slipway_core::testing::Wait;
use std::time::Duration;

/// An env value that must never be exported or logged.
const SECRET: &str = "s3cr3t-env-value-7f1c";

#[tokio::test(flavor = "multi_thread")]
async fn an_incoming_traceparent_is_continued_by_the_http_server_span() {
    let collector = Collector::start();
    let dir = tempfile::tempdir().unwrap();
    let (server, token, _) = dev(dir.path(), &collector);
    let traceparent = format!("00-{CI_TRACE}-{CI_SPAN}-01");
    let (status, _) = request(
        reqwest::Method::POST,
        &format!("{}/apps", server.url),
        &token,
        Some(json!({ "name": "shop" })),
        Some(&traceparent),
    )
    .await;
    assert_eq!(status, 201);
    let spans = collector
        .wait_for("server span", |spans| {
            spans.iter().any(|s| s.name == "POST /apps")
        })
        .await;
    let span = spans.iter().find(|s| s.name == "POST /apps").unwrap();
    assert_eq!(hex(&span.trace_id), CI_TRACE);
    assert_eq!(hex(&span.parent_span_id), CI_SPAN);
    assert_eq!(span.kind, SpanKind::Server as i32);
    assert_eq!(attribute(span, "http.route").as_deref(), Some("/apps"));
    assert_eq!(
        attribute(span, "http.request.method").as_deref(),
        Some("POST")
    );
    assert_eq!(
        attribute(span, "http.response.status_code").as_deref(),
        Some("201")
    );

    // Without a traceparent, a new trace starts.
    let (status, _) = request(
        reqwest::Method::GET,
        &format!("{}/apps/shop", server.url),
        &token,
        None,
        None,
    )
    .await;
    assert_eq!(status, 200);
    let spans = collector
        .wait_for("GET span", |spans| {
            spans.iter().any(|s| s.name == "GET /apps/{app}")
        })
        .await;
    let span = spans.iter().find(|s| s.name == "GET /apps/{app}").unwrap();
    assert_ne!(hex(&span.trace_id), CI_TRACE);
    assert!(span.parent_span_id.is_empty());
}

#[tokio::test(flavor = "multi_thread")]
async fn a_deploy_is_one_trace_and_no_span_or_log_line_holds_an_env_value() {
    let collector = Collector::start();
    let dir = tempfile::tempdir().unwrap();
    let mut command = slipway(&["dev"]);
    command
        .env("SLIPWAY_DATA_DIR", dir.path())
        .env("OTEL_EXPORTER_OTLP_ENDPOINT", &collector.endpoint)
        .env("OTEL_BSP_SCHEDULE_DELAY", "100")
        .env("SLIPWAY_LOG_FORMAT", "json")
        .env("RUST_LOG", "debug,h2=info,hyper=info,reqwest=info");
    let (mut server, lines) = start_logged(command);
    let token = lines
        .lock()
        .unwrap()
        .iter()
        .find_map(|l| l.split_once("Token:"))
        .unwrap()
        .1
        .trim()
        .to_owned();
    let url = server.url.clone();
    let post = |path: &str, body: Value, tp: Option<String>| {
        let (url, token) = (url.clone(), token.clone());
        let path = path.to_owned();
        async move {
            request(
                reqwest::Method::POST,
                &format!("{url}{path}"),
                &token,
                Some(body),
                tp.as_deref(),
            )
            .await
        }
    };
    assert_eq!(post("/apps", json!({ "name": "shop" }), None).await.0, 201);
    let (status, _) = request(
        reqwest::Method::PATCH,
        &format!("{url}/apps/shop/env"),
        &token,
        Some(json!({ "set": { "API_KEY": SECRET } })),
        None,
    )
    .await;
    assert!(status < 300, "env set: {status}");
    let traceparent = format!("00-{CI_TRACE}-{CI_SPAN}-01");
    let (status, started) = post(
        "/apps/shop/deploy",
        json!({ "manifest": testapp_manifest("--healthy-after-ms 200", 1) }),
        Some(traceparent),
    )
    .await;
    assert_eq!(status, 202, "{started}");
    let id = started["deployment"]["id"].as_str().unwrap().to_owned();
    let deployment = format!("{url}/apps/shop/deployments/{id}");
    let look = || async {
        let get = reqwest::Method::GET;
        request(get, &deployment, &token, None, None).await.1
    };
    let done = Wait::new(format!("{id} to end"))
        .within(Duration::from_secs(60))
        .every(Duration::from_millis(100))
        .until(look, |d| {
            ["succeeded", "rolled_back", "failed"].contains(&d["status"].as_str().unwrap_or(""))
        })
        .await;
    assert_eq!(done["status"], "succeeded", "{done}");
    assert_eq!(done["trace_id"], CI_TRACE, "{done}");

    let spans = collector
        .wait_for("the rollout's spans", |spans| {
            spans
                .iter()
                .any(|s| s.name == "rollout" && hex(&s.trace_id) == CI_TRACE)
        })
        .await;
    let in_trace: Vec<&Span> = spans
        .iter()
        .filter(|s| hex(&s.trace_id) == CI_TRACE)
        .collect();
    let by_name = |name: &str| {
        *in_trace
            .iter()
            .find(|s| s.name == name)
            .unwrap_or_else(|| panic!("no {name} span in {:#?}", names(&spans)))
    };
    let server_span = by_name("POST /apps/{app}/deploy");
    assert_eq!(hex(&server_span.parent_span_id), CI_SPAN);
    let producer = by_name("rollouts publish");
    assert_eq!(producer.kind, SpanKind::Producer as i32);
    assert_eq!(producer.parent_span_id, server_span.span_id);
    let consumer = by_name("rollout");
    assert_eq!(consumer.kind, SpanKind::Consumer as i32);
    assert_eq!(consumer.parent_span_id, producer.span_id);
    assert_eq!(attribute(consumer, "slipway.app").as_deref(), Some("shop"));
    assert_eq!(
        attribute(consumer, "slipway.deployment").as_deref(),
        Some(id.as_str())
    );
    // Steps are children of the rollout, directly or below a wave.
    let step = by_name("start instance");
    let ids: Vec<&[u8]> = in_trace.iter().map(|s| s.span_id.as_slice()).collect();
    assert!(ids.contains(&step.parent_span_id.as_slice()));
    // Each step says what it works on.
    let release = started["deployment"]["release"].as_str().unwrap();
    for name in ["service", "wave", "start instance", "health wait"] {
        let span = by_name(name);
        for (key, value) in [
            ("slipway.app", "shop"),
            ("slipway.deployment", id.as_str()),
            ("slipway.release", release),
            ("slipway.service", "web"),
        ] {
            assert_eq!(
                attribute(span, key).as_deref(),
                Some(value),
                "{key} of {name}"
            );
        }
    }
    // A wave span for each wave that started instances, not for every look.
    let waves: Vec<&&Span> = in_trace.iter().filter(|s| s.name == "wave").collect();
    assert_eq!(waves.len(), 1, "{waves:#?}");
    assert_eq!(attribute(waves[0], "instances").as_deref(), Some("1"));

    // The deploy is that one trace: once the last spans are in, no span of
    // the worker is elsewhere, and the only spans without a parent are
    // those of requests that came without a traceparent.
    std::thread::sleep(Duration::from_secs(1));
    let spans = collector.spans();
    for span in &spans {
        let of_deploy = attribute(span, "slipway.deployment").as_deref() == Some(id.as_str());
        assert!(
            !of_deploy || hex(&span.trace_id) == CI_TRACE,
            "a span of the deploy in another trace: {span:#?}"
        );
        assert!(
            !span.parent_span_id.is_empty() || span.kind == SpanKind::Server as i32,
            "a stray root span: {span:#?}"
        );
    }
    assert!(in_trace.iter().all(|s| s
        .status
        .as_ref()
        .is_none_or(|st| st.code != StatusCode::Error as i32)));

    // Nothing exported and no log line holds the env value.
    for body in collector.raw.lock().unwrap().iter() {
        assert!(
            !String::from_utf8_lossy(body).contains(SECRET),
            "an exported span holds an env value"
        );
        assert!(
            !String::from_utf8_lossy(body).contains(&token),
            "an exported span holds the token"
        );
    }
    let _ = server.child.kill();
    let _ = server.child.wait();
    let lines = lines.lock().unwrap();
    for line in lines.iter() {
        assert!(
            !line.contains(SECRET),
            "a log line holds an env value: {line}"
        );
    }
    // JSON lines inside the rollout carry its trace id.
    assert!(
        lines
            .iter()
            .any(|l| l.starts_with('{') && l.contains(&format!("\"trace_id\":\"{CI_TRACE}\""))),
        "no log line with the trace id: {lines:#?}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_rolled_back_deployment_has_error_spans_with_the_reason() {
    let collector = Collector::start();
    let dir = tempfile::tempdir().unwrap();
    let (server, token, lines) = dev(dir.path(), &collector);
    let url = server.url.clone();
    let (status, _) = request(
        reqwest::Method::POST,
        &format!("{url}/apps"),
        &token,
        Some(json!({ "name": "shop" })),
        None,
    )
    .await;
    assert_eq!(status, 201);
    let good = deploy_traced(
        &url,
        &token,
        "",
        "00-11111111111111111111111111111111-1111111111111111-01",
    )
    .await;
    assert_eq!(good["status"], "succeeded", "{good}");
    let bad_trace = "22222222222222222222222222222222";
    let bad = deploy_traced(
        &url,
        &token,
        "--exit-after-ms 0",
        &format!("00-{bad_trace}-2222222222222222-01"),
    )
    .await;
    assert_eq!(bad["status"], "rolled_back", "{bad}");
    assert_eq!(bad["trace_id"], bad_trace);
    let reason = bad["reason"].as_str().unwrap().to_owned();

    let spans = collector
        .wait_for("the rollback span", |spans| {
            spans
                .iter()
                .any(|s| s.name == "rollback" && hex(&s.trace_id) == bad_trace)
                && spans
                    .iter()
                    .any(|s| s.name == "rollout" && hex(&s.trace_id) == bad_trace)
        })
        .await;
    let in_trace: Vec<&Span> = spans
        .iter()
        .filter(|s| hex(&s.trace_id) == bad_trace)
        .collect();
    let rollout = in_trace.iter().find(|s| s.name == "rollout").unwrap();
    let status = rollout.status.as_ref().expect("a status");
    assert_eq!(status.code, StatusCode::Error as i32);
    assert_eq!(status.message, reason);
    let rollback = in_trace.iter().find(|s| s.name == "rollback").unwrap();
    assert_eq!(rollback.parent_span_id, rollout.span_id);
    // The service that failed is an error too, with the same reason.
    let service = in_trace
        .iter()
        .find(|s| s.name == "service" && s.parent_span_id == rollout.span_id)
        .expect("the failed rollout's service span");
    let status = service.status.as_ref().expect("a status");
    assert_eq!(status.code, StatusCode::Error as i32, "{service:#?}");
    assert_eq!(status.message, reason);
    // Instances stopped on the way back say whose they are.
    let stop = in_trace
        .iter()
        .find(|s| s.name == "stop instances")
        .unwrap_or_else(|| panic!("no stop instances span in {:#?}", names(&spans)));
    assert_eq!(attribute(stop, "slipway.app").as_deref(), Some("shop"));
    assert_eq!(
        attribute(stop, "slipway.deployment").as_deref(),
        bad["id"].as_str()
    );
    // With RUST_LOG=warn the warning is still logged in the rollout's trace.
    let warned = lines.lock().unwrap().iter().any(|l| {
        l.contains("rollout failed") && l.contains(&format!("\"trace_id\":\"{bad_trace}\""))
    });
    assert!(warned, "no warning with the trace id: {lines:#?}");
    // The step that failed says why, too.
    assert!(
        in_trace.iter().any(|s| s.name != "rollout"
            && s.status
                .as_ref()
                .is_some_and(|st| st.code == StatusCode::Error as i32 && !st.message.is_empty())),
        "{:#?}",
        in_trace
    );
    // The good deploy's trace has no errors.
    assert!(spans
        .iter()
        .filter(|s| hex(&s.trace_id) == "11111111111111111111111111111111")
        .all(|s| s
            .status
            .as_ref()
            .is_none_or(|st| st.code != StatusCode::Error as i32)));

    // GET /metrics needs no token and counts what happened.
    let metrics = crate::metrics::scrape(&url).await;
    for line in [
        "slipway_deployments_total{outcome=\"succeeded\"} 1",
        "slipway_deployments_total{outcome=\"rolled_back\"} 1",
        "slipway_time_to_rollback_seconds_count 1",
        "slipway_deployment_duration_seconds_count 2",
        "slipway_queue_pickup_latency_seconds_count 2",
        "slipway_queue_depth 0",
        "slipway_http_requests_total{method=\"POST\",route=\"/apps/{app}/deploy\",status=\"202\"} 2",
    ] {
        assert!(metrics.lines().any(|l| l == line), "no `{line}` in {metrics}");
    }
}
