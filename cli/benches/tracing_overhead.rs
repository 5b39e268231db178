//! Overhead of tracing on the promote path: `slipway dev` with export off
//! (no `OTEL_EXPORTER_OTLP_ENDPOINT`) and on (OTLP/HTTP to a sink started
//! here that answers 200), p50 of `POST .../promote` over many promotes.
//! Goal: p50 with export on ≤ 1.10 × p50 with export off.
//!
//! Each promote is of a release with no build, so its deployment fails at
//! once and the next promote is not refused with 409; only the request is
//! timed. The two servers alternate in rounds so machine load hits both.
//! Both log at `RUST_LOG=warn`, which must not turn export off: the sink
//! decodes what it receives and the bench fails unless the "on" server
//! exported its spans.
//!
//! Run: `cargo bench -p slipway-cli --bench tracing_overhead`.

use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use prost::Message;
use serde_json::{json, Value};
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

const ROUNDS: usize = 10;
const PER_ROUND: usize = 30;

struct Dev {
    child: Child,
    url: String,
    token: String,
    _dir: tempfile::TempDir,
}

impl Drop for Dev {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// An OTLP/HTTP sink: reads each request, counts the spans in it and
/// answers 200. Returns its endpoint and the count.
fn sink() -> (String, Arc<AtomicUsize>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let endpoint = format!("http://{}", listener.local_addr().unwrap());
    let received = Arc::new(AtomicUsize::new(0));
    let counter = received.clone();
    std::thread::spawn(move || {
        for stream in listener.incoming().map_while(Result::ok) {
            let counter = counter.clone();
            std::thread::spawn(move || {
                let mut writer = stream.try_clone().unwrap();
                let mut reader = BufReader::new(stream);
                loop {
                    let mut line = String::new();
                    if reader.read_line(&mut line).unwrap_or(0) == 0 {
                        return;
                    }
                    let mut length = 0;
                    loop {
                        let mut header = String::new();
                        reader.read_line(&mut header).unwrap();
                        let header = header.trim().to_ascii_lowercase();
                        if header.is_empty() {
                            break;
                        }
                        if let Some(value) = header.strip_prefix("content-length:") {
                            length = value.trim().parse().unwrap();
                        }
                    }
                    let mut body = vec![0; length];
                    reader.read_exact(&mut body).unwrap();
                    let request = ExportTraceServiceRequest::decode(body.as_slice())
                        .expect("an OTLP protobuf body");
                    let spans: usize = request
                        .resource_spans
                        .iter()
                        .flat_map(|r| &r.scope_spans)
                        .map(|s| s.spans.len())
                        .sum();
                    counter.fetch_add(spans, Ordering::SeqCst);
                    let _ = writer.write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 0\r\n\r\n");
                }
            });
        }
    });
    (endpoint, received)
}

#[allow(clippy::zombie_processes)] // Dev kills and waits when dropped
fn dev(endpoint: Option<&str>) -> Dev {
    let dir = tempfile::tempdir().unwrap();
    let mut command = Command::new(env!("CARGO_BIN_EXE_slipway"));
    command
        .arg("dev")
        .env("SLIPWAY_DATA_DIR", dir.path())
        .env("SLIPWAY_LISTEN", "127.0.0.1:0")
        // Hundreds of promotes a minute: over the default write rate.
        .env("SLIPWAY_RATE_LIMIT", "0")
        .env("RUST_LOG", "warn")
        .env_remove("SLIPWAY_ADMIN_TOKEN")
        .env_remove("OTEL_EXPORTER_OTLP_ENDPOINT")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null());
    if let Some(endpoint) = endpoint {
        command.env("OTEL_EXPORTER_OTLP_ENDPOINT", endpoint);
    }
    let mut child = command.spawn().expect("run slipway dev");
    let stdout = child.stdout.take().unwrap();
    let (mut url, mut token) = (String::new(), String::new());
    let mut lines = BufReader::new(stdout).lines();
    for line in lines.by_ref().map_while(Result::ok) {
        if let Some((_, rest)) = line.split_once("API:") {
            url = rest.trim().to_owned();
        }
        if let Some((_, rest)) = line.split_once("Token:") {
            token = rest.trim().to_owned();
        }
        if line.contains("Try:") {
            break;
        }
    }
    std::thread::spawn(move || for _ in lines {});
    Dev {
        child,
        url,
        token,
        _dir: dir,
    }
}

async fn call(
    client: &reqwest::Client,
    dev: &Dev,
    method: reqwest::Method,
    path: &str,
    body: Option<Value>,
) -> (u16, Value) {
    let mut request = client
        .request(method, format!("{}{path}", dev.url))
        .bearer_auth(&dev.token)
        .header(
            "traceparent",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
        );
    if let Some(body) = body {
        request = request.json(&body);
    }
    let response = request.send().await.unwrap();
    let status = response.status().as_u16();
    (status, response.json().await.unwrap_or(Value::Null))
}

/// An app with one release (an env change: no build).
async fn prepare(client: &reqwest::Client, dev: &Dev) -> String {
    assert_eq!(
        call(
            client,
            dev,
            reqwest::Method::POST,
            "/apps",
            Some(json!({ "name": "shop" }))
        )
        .await
        .0,
        201
    );
    let (status, body) = call(
        client,
        dev,
        reqwest::Method::PATCH,
        "/apps/shop/env",
        Some(json!({ "set": { "A": "1" } })),
    )
    .await;
    assert!(status < 300, "{body}");
    let (_, releases) = call(
        client,
        dev,
        reqwest::Method::GET,
        "/apps/shop/releases",
        None,
    )
    .await;
    releases["releases"][0]["id"].as_str().unwrap().to_owned()
}

/// Times `count` promotes, each after the previous deployment ended.
async fn promotes(
    client: &reqwest::Client,
    dev: &Dev,
    release: &str,
    count: usize,
    out: &mut Vec<Duration>,
) {
    let path = format!("/apps/shop/releases/{release}/promote");
    for _ in 0..count {
        let started = Instant::now();
        let (status, body) = call(client, dev, reqwest::Method::POST, &path, Some(json!({}))).await;
        let took = started.elapsed();
        assert_eq!(status, 202, "{body}");
        out.push(took);
        let id = body["deployment"]["id"].as_str().unwrap().to_owned();
        loop {
            let (_, d) = call(
                client,
                dev,
                reqwest::Method::GET,
                &format!("/apps/shop/deployments/{id}"),
                None,
            )
            .await;
            if ["succeeded", "rolled_back", "failed"].contains(&d["status"].as_str().unwrap_or(""))
            {
                break;
            }
            tokio::time::sleep(Duration::from_millis(2)).await;
        }
    }
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    sorted[((sorted.len() - 1) as f64 * p).round() as usize]
}

fn main() {
    if std::env::args().any(|a| a == "--list") {
        return; // `cargo test --benches` lists benches; nothing to list
    }
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let (endpoint, received) = sink();
    let off = dev(None);
    let on = dev(Some(&endpoint));
    let client = reqwest::Client::new();
    let (mut t_off, mut t_on) = (Vec::new(), Vec::new());
    runtime.block_on(async {
        let r_off = prepare(&client, &off).await;
        let r_on = prepare(&client, &on).await;
        // Warm-up, not counted.
        promotes(&client, &off, &r_off, 10, &mut Vec::new()).await;
        promotes(&client, &on, &r_on, 10, &mut Vec::new()).await;
        for _ in 0..ROUNDS {
            promotes(&client, &off, &r_off, PER_ROUND, &mut t_off).await;
            promotes(&client, &on, &r_on, PER_ROUND, &mut t_on).await;
        }
    });
    t_off.sort();
    t_on.sort();
    let ms = |d: Duration| d.as_secs_f64() * 1000.0;
    println!(
        "promote request latency, {} promotes each (export off vs on):",
        t_off.len()
    );
    for (name, t) in [("off", &t_off), ("on", &t_on)] {
        println!(
            "  export {name:3}: p50 {:.2} ms  p90 {:.2} ms  p99 {:.2} ms",
            ms(percentile(t, 0.5)),
            ms(percentile(t, 0.9)),
            ms(percentile(t, 0.99))
        );
    }
    let ratio = ms(percentile(&t_on, 0.5)) / ms(percentile(&t_off, 0.5));
    println!("  p50 on / off: {ratio:.3} (goal ≤ 1.10)");
    // Every promote is at least its server span: wait out the batch delay.
    let promotes = t_on.len() + 10;
    let deadline = Instant::now() + Duration::from_secs(30);
    while received.load(Ordering::SeqCst) < promotes && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(100));
    }
    std::thread::sleep(Duration::from_secs(6));
    let spans = received.load(Ordering::SeqCst);
    println!(
        "  export on: the sink received {spans} spans ({:.1} per promote, warm-up and set-up included)",
        spans as f64 / promotes as f64
    );
    assert!(
        spans >= promotes,
        "export on exported {spans} spans for {promotes} promotes"
    );
}
