//! An OTLP/HTTP collector started here, which decodes what arrives with
//! `opentelemetry-proto` (not with the code under test), and `slipway dev`
//! exporting to it: what the trace tests share.

use crate::processes::Lines;
use crate::support::{slipway, testapp_manifest, Server};
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::trace::v1::Span;
use prost::Message;
use serde_json::{json, Value};
use slipway_core::testing::Wait;
use std::future::ready;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// A trace id the "CI" starts with.
pub(crate) const CI_TRACE: &str = "4bf92f3577b34da6a3ce929d0e0e4736";
pub(crate) const CI_SPAN: &str = "00f067aa0ba902b7";

/// An OTLP/HTTP receiver: `POST /v1/traces` with protobuf bodies.
pub(crate) struct Collector {
    pub(crate) endpoint: String,
    spans: Arc<Mutex<Vec<Span>>>,
    /// Raw request bodies, to look for leaked values.
    pub(crate) raw: Arc<Mutex<Vec<Vec<u8>>>>,
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

    pub(crate) fn spans(&self) -> Vec<Span> {
        self.spans.lock().unwrap().clone()
    }

    /// Waits until `done` holds for the spans received; fails showing the
    /// names of the spans seen.
    pub(crate) async fn wait_for(&self, what: &str, done: impl Fn(&[Span]) -> bool) -> Vec<Span> {
        let waited = Wait::new(what)
            .within(Duration::from_secs(30))
            .every(Duration::from_millis(100))
            .try_until(|| ready(self.spans()), |spans| done(spans))
            .await;
        waited.unwrap_or_else(|timed_out| {
            let seen = names(&timed_out.last);
            panic!("no {what} within {:?}; spans: {seen:#?}", timed_out.within)
        })
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

pub(crate) fn names(spans: &[Span]) -> Vec<String> {
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

/// Starts `slipway dev` (or anything printing `API:` then `Try:` when
/// ready); its lines keep coming in as it prints them.
pub(crate) fn start_logged(command: std::process::Command) -> (Server, Lines) {
    let server = Server::start(command, "Try:", "API:");
    let lines = server.lines.clone();
    (server, lines)
}

/// Deploys with `traceparent` and waits for a final state.
pub(crate) async fn deploy_traced(url: &str, token: &str, flags: &str, traceparent: &str) -> Value {
    let (status, started) = request(
        reqwest::Method::POST,
        &format!("{url}/apps/shop/deploy"),
        token,
        Some(json!({ "manifest": testapp_manifest(flags, 1) })),
        Some(traceparent),
    )
    .await;
    assert_eq!(status, 202, "{started}");
    let id = started["deployment"]["id"].as_str().unwrap().to_owned();
    let deployment = format!("{url}/apps/shop/deployments/{id}");
    let look = || async {
        let get = reqwest::Method::GET;
        request(get, &deployment, token, None, None).await.1
    };
    Wait::new(format!("{id} to end"))
        .within(Duration::from_secs(60))
        .every(Duration::from_millis(100))
        .until(look, |d| {
            ["succeeded", "rolled_back", "failed"].contains(&d["status"].as_str().unwrap_or(""))
        })
        .await
}
