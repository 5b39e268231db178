//! Traces end to end: `slipway dev` exporting over OTLP/HTTP to a receiver
//! started here, which decodes what arrives with `opentelemetry-proto` (not
//! with the code under test).

use crate::support::{slipway, testapp, Server};
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::trace::v1::{span::SpanKind, status::StatusCode, Span};
use prost::Message;
use serde_json::{json, Value};
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// A trace id the "CI" starts with.
pub(crate) const CI_TRACE: &str = "4bf92f3577b34da6a3ce929d0e0e4736";
pub(crate) const CI_SPAN: &str = "00f067aa0ba902b7";
/// An env value that must never be exported or logged.
const SECRET: &str = "s3cr3t-env-value-7f1c";

/// An OTLP/HTTP receiver: `POST /v1/traces` with protobuf bodies.
pub(crate) struct Collector {
    endpoint: String,
    spans: Arc<Mutex<Vec<Span>>>,
    /// Raw request bodies, to look for leaked values.
    raw: Arc<Mutex<Vec<Vec<u8>>>>,
}

impl Collector {
    pub(crate) fn start() -> Collector {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let endpoint = format!("http://{}", listener.local_addr().unwrap());
        let spans: Arc<Mutex<Vec<Span>>> = Arc::default();
        let raw: Arc<Mutex<Vec<Vec<u8>>>> = Arc::default();
        let (s, r) = (spans.clone(), raw.clone());
        std::thread::spawn(move || {
            for stream in listener.incoming().map_while(Result::ok) {
                let (spans, raw) = (s.clone(), r.clone());
                std::thread::spawn(move || serve(stream, &spans, &raw));
            }
        });
        Collector {
            endpoint,
            spans,
            raw,
        }
    }

    fn spans(&self) -> Vec<Span> {
        self.spans.lock().unwrap().clone()
    }

    /// Waits until `done` holds for the spans received.
    pub(crate) fn wait_for(&self, what: &str, done: impl Fn(&[Span]) -> bool) -> Vec<Span> {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let spans = self.spans();
            if done(&spans) {
                return spans;
            }
            assert!(
                Instant::now() < deadline,
                "no {what}; spans: {:#?}",
                names(&spans)
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }
}

/// Answers HTTP/1.1 requests on one connection (keep-alive).
fn serve(stream: std::net::TcpStream, spans: &Mutex<Vec<Span>>, raw: &Mutex<Vec<Vec<u8>>>) {
    let mut writer = stream.try_clone().unwrap();
    let mut reader = BufReader::new(stream);
    loop {
        let mut request_line = String::new();
        if reader.read_line(&mut request_line).unwrap_or(0) == 0 {
            return;
        }
        let mut length = 0;
        loop {
            let mut header = String::new();
            reader.read_line(&mut header).unwrap();
            let header = header.trim();
            if header.is_empty() {
                break;
            }
            if let Some((name, value)) = header.split_once(':') {
                if name.eq_ignore_ascii_case("content-length") {
                    length = value.trim().parse().unwrap();
                }
            }
        }
        let mut body = vec![0; length];
        reader.read_exact(&mut body).unwrap();
        if request_line.starts_with("POST /v1/traces") {
            let request = ExportTraceServiceRequest::decode(body.as_slice()).expect("protobuf");
            let mut spans = spans.lock().unwrap();
            for resource in request.resource_spans {
                for scope in resource.scope_spans {
                    spans.extend(scope.spans);
                }
            }
            raw.lock().unwrap().push(body);
        }
        let _ = writer.write_all(
            b"HTTP/1.1 200 OK\r\ncontent-type: application/x-protobuf\r\ncontent-length: 0\r\n\r\n",
        );
    }
}

fn names(spans: &[Span]) -> Vec<String> {
    spans.iter().map(|s| s.name.clone()).collect()
}

pub(crate) fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

pub(crate) fn attribute(span: &Span, key: &str) -> Option<String> {
    use opentelemetry_proto::tonic::common::v1::any_value::Value as V;
    let value = span
        .attributes
        .iter()
        .find(|kv| kv.key == key)?
        .value
        .as_ref()?;
    match value.value.as_ref()? {
        V::StringValue(s) => Some(s.clone()),
        V::IntValue(i) => Some(i.to_string()),
        V::BoolValue(b) => Some(b.to_string()),
        other => Some(format!("{other:?}")),
    }
}

/// Every line a server printed, as it prints them.
pub(crate) type Lines = Arc<Mutex<Vec<String>>>;

/// `slipway dev` exporting to `collector`, with JSON logs of warnings only
/// (`RUST_LOG` picks log lines, never what is exported); returns it, its
/// token and its log lines.
pub(crate) fn dev(data: &Path, collector: &Collector) -> (Server, String, Lines) {
    let mut command = slipway(&["dev"]);
    command
        .env("SLIPWAY_DATA_DIR", data)
        .env("OTEL_EXPORTER_OTLP_ENDPOINT", &collector.endpoint)
        .env("OTEL_BSP_SCHEDULE_DELAY", "100")
        .env("SLIPWAY_LOG_FORMAT", "json")
        .env("RUST_LOG", "warn");
    let (server, lines) = start_logged(command);
    let token = lines
        .lock()
        .unwrap()
        .iter()
        .find_map(|l| l.split_once("Token:"))
        .expect("a Token: line")
        .1
        .trim()
        .to_owned();
    (server, token, lines)
}

pub(crate) async fn request(
    method: reqwest::Method,
    url: &str,
    token: &str,
    body: Option<Value>,
    traceparent: Option<&str>,
) -> (u16, Value) {
    let mut request = reqwest::Client::new()
        .request(method, url)
        .bearer_auth(token);
    if let Some(body) = body {
        request = request.json(&body);
    }
    if let Some(traceparent) = traceparent {
        request = request.header("traceparent", traceparent);
    }
    let response = request.send().await.unwrap();
    let status = response.status().as_u16();
    (status, response.json().await.unwrap_or(Value::Null))
}

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
    let spans = collector.wait_for("server span", |spans| {
        spans.iter().any(|s| s.name == "POST /apps")
    });
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
    let spans = collector.wait_for("GET span", |spans| {
        spans.iter().any(|s| s.name == "GET /apps/{app}")
    });
    let span = spans.iter().find(|s| s.name == "GET /apps/{app}").unwrap();
    assert_ne!(hex(&span.trace_id), CI_TRACE);
    assert!(span.parent_span_id.is_empty());
}

/// A manifest of one `web` service running the test app with `flags`.
fn manifest(flags: &str) -> Value {
    json!({ "services": { "web": {
        "command": format!("'{}' {flags}", testapp()),
        "port": 8000,
        "health": { "path": "/health", "grace": 0, "interval": 1, "timeout": 1 },
        "scale": { "count": 1 },
    }}})
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
        json!({ "manifest": manifest("--healthy-after-ms 200") }),
        Some(traceparent),
    )
    .await;
    assert_eq!(status, 202, "{started}");
    let id = started["deployment"]["id"].as_str().unwrap().to_owned();
    let deadline = Instant::now() + Duration::from_secs(60);
    let done = loop {
        let (_, d) = request(
            reqwest::Method::GET,
            &format!("{url}/apps/shop/deployments/{id}"),
            &token,
            None,
            None,
        )
        .await;
        if ["succeeded", "rolled_back", "failed"].contains(&d["status"].as_str().unwrap_or("")) {
            break d;
        }
        assert!(Instant::now() < deadline, "not final: {d}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    assert_eq!(done["status"], "succeeded", "{done}");
    assert_eq!(done["trace_id"], CI_TRACE, "{done}");

    let spans = collector.wait_for("the rollout's spans", |spans| {
        spans
            .iter()
            .any(|s| s.name == "rollout" && hex(&s.trace_id) == CI_TRACE)
    });
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

/// Like `support::start`, keeping every line the server prints. The
/// returned `Server` kills and waits for the child when dropped.
#[allow(clippy::zombie_processes)]
fn start_logged(mut command: std::process::Command) -> (Server, Lines) {
    use std::process::Stdio;
    let mut child = command
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run slipway");
    let lines: Lines = Arc::default();
    for stream in [
        Box::new(child.stdout.take().unwrap()) as Box<dyn Read + Send>,
        Box::new(child.stderr.take().unwrap()),
    ] {
        let lines = lines.clone();
        std::thread::spawn(move || {
            for line in BufReader::new(stream).lines().map_while(Result::ok) {
                lines.lock().unwrap().push(line);
            }
        });
    }
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let url = {
            let seen = lines.lock().unwrap();
            seen.iter().any(|l| l.contains("Try:")).then(|| {
                seen.iter()
                    .find_map(|l| l.split_once("API:"))
                    .map(|(_, rest)| rest.trim().to_owned())
                    .expect("an API: line")
            })
        };
        if let Some(url) = url {
            let url = if url.starts_with("http") {
                url
            } else {
                format!("http://{url}")
            };
            return (Server::new(child, url, &command), lines);
        }
        assert!(
            Instant::now() < deadline,
            "not ready: {:#?}",
            lines.lock().unwrap()
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// Deploys with `traceparent` and waits for a final state.
pub(crate) async fn deploy_traced(url: &str, token: &str, flags: &str, traceparent: &str) -> Value {
    let (status, started) = request(
        reqwest::Method::POST,
        &format!("{url}/apps/shop/deploy"),
        token,
        Some(json!({ "manifest": manifest(flags) })),
        Some(traceparent),
    )
    .await;
    assert_eq!(status, 202, "{started}");
    let id = started["deployment"]["id"].as_str().unwrap().to_owned();
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let (_, d) = request(
            reqwest::Method::GET,
            &format!("{url}/apps/shop/deployments/{id}"),
            token,
            None,
            None,
        )
        .await;
        if ["succeeded", "rolled_back", "failed"].contains(&d["status"].as_str().unwrap_or("")) {
            return d;
        }
        assert!(Instant::now() < deadline, "not final: {d}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
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

    let spans = collector.wait_for("the rollback span", |spans| {
        spans
            .iter()
            .any(|s| s.name == "rollback" && hex(&s.trace_id) == bad_trace)
            && spans
                .iter()
                .any(|s| s.name == "rollout" && hex(&s.trace_id) == bad_trace)
    });
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
    let metrics = scrape(&url).await;
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

/// `GET /metrics` without a token.
async fn scrape(url: &str) -> String {
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
    let spans = collector.wait_for("the delivery span", |spans| {
        spans
            .iter()
            .any(|s| s.kind == SpanKind::Client as i32 && hex(&s.span_id) == parts[2])
    });
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
        .post("/apps/shop/deploy", json!({ "manifest": manifest("") }))
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
