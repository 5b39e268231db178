//! The router over real HTTP in front of real `slipway-testapp` processes on
//! the local runtime, with releases rolled out by the engine from a real
//! database: routing by host, the forwarding headers, draining, health
//! ejection, and the router's own answers when no instance can.

#[path = "../support/mod.rs"]
mod support;

mod faults;
mod rollouts;

use serde_json::Value;
use slipway_core::store::Backend;
use slipway_core::testing::ManifestBuilder;
use slipway_worker::router::RouterConfig;
use slipway_worker::testing::Rig;
use std::net::SocketAddr;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use support::{testapp, testapp_manifest};

/// A rig of an app no other test uses, with the router in front looking at
/// the table every 50 ms, and `tune` applied to the router's config.
pub async fn rig(backend: Backend, tune: impl FnOnce(&mut RouterConfig)) -> Rig {
    Rig::builder(backend, support::unique_app("routed"))
        .router(|config| {
            config.refresh = Duration::from_millis(50);
            tune(config)
        })
        .start()
        .await
}

/// The error object of a router answer.
pub async fn error_of(response: reqwest::Response) -> (u16, Value) {
    let status = response.status().as_u16();
    let body: Value = response.json().await.unwrap();
    (status, body["error"].clone())
}

/// Sends `raw` to `address` and reads what comes back until the
/// connection closes or `until` appears.
pub async fn raw(address: SocketAddr, raw: &[u8], until: &str) -> String {
    let mut stream = TcpStream::connect(address).await.unwrap();
    stream.write_all(raw).await.unwrap();
    read_until(&mut stream, until).await
}

pub async fn read_until(stream: &mut TcpStream, until: &str) -> String {
    let mut got = Vec::new();
    let mut buf = [0_u8; 4096];
    let read = async {
        loop {
            let n = stream.read(&mut buf).await.unwrap_or(0);
            got.extend_from_slice(&buf[..n]);
            if n == 0 || String::from_utf8_lossy(&got).contains(until) {
                break;
            }
        }
    };
    let _ = tokio::time::timeout(Duration::from_secs(10), read).await;
    String::from_utf8_lossy(&got).into_owned()
}

#[tokio::test]
async fn requests_reach_the_service_named_by_the_host() {
    let rig = rig(Backend::Postgres, |config| {
        config.add_suffix("Apps.Example.test")
    })
    .await;
    let web = testapp("").count(2).domains(&["Shop.Example.test"]);
    let release = rig.running(ManifestBuilder::web(web).build()).await;
    rig.serves(&release).await;
    for host in [
        format!("web.{}.localhost:8000", rig.app),
        format!("{}.localhost", rig.app),
        "shop.example.test".to_owned(),
        "SHOP.example.test:80".to_owned(),
        format!("web.{}.apps.example.test", rig.app),
        format!("{}.apps.example.test", rig.app),
    ] {
        let response = rig.get(&host, "/").await;
        assert_eq!(response.status(), 200, "{host}");
        assert_eq!(response.text().await.unwrap(), release.as_str(), "{host}");
    }
    // Both instances take requests.
    let mut answered = std::collections::HashSet::new();
    for _ in 0..20 {
        answered.insert(rig.web("/env/SLIPWAY_INSTANCE").await.1);
    }
    assert_eq!(answered.len(), 2, "{answered:?}");
}

#[tokio::test]
async fn unknown_and_malformed_hosts_are_refused_without_naming_an_app() {
    let rig = rig(Backend::Sqlite, |_| {}).await;
    rig.running(testapp_manifest("", 1)).await;
    for host in [
        "nothing.localhost".to_owned(),
        format!("api.{}.localhost", rig.app),
        "127.0.0.1".to_owned(),
    ] {
        let (status, error) = error_of(rig.get(&host, "/").await).await;
        assert_eq!(status, 404, "{host}");
        assert_eq!(error["code"], "unknown_host");
        assert!(!error.to_string().contains(rig.app.as_str()), "{error}");
    }
    for head in ["Host: bad host\r\n", "Host: a@b.localhost\r\n", ""] {
        let request = format!("GET / HTTP/1.1\r\n{head}Connection: close\r\n\r\n");
        let answer = raw(rig.router(), request.as_bytes(), "\r\n\r\n{").await;
        assert!(answer.starts_with("HTTP/1.1 400"), "{head:?}: {answer}");
        assert!(answer.contains("bad_host"), "{answer}");
    }
}

#[tokio::test]
async fn the_instance_learns_who_asked_under_which_id_and_trace() {
    let rig = rig(Backend::Sqlite, |_| {}).await;
    let release = rig.running(testapp_manifest("", 1)).await;
    rig.serves(&release).await;
    let traceparent = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";
    let response = rig
        .http
        .get(format!("http://{}/headers", rig.router()))
        .header("host", rig.host("web"))
        .header("x-request-id", "ci-run-42")
        .header("x-forwarded-for", "203.0.113.9")
        .header("traceparent", traceparent)
        .header("connection", "keep-alive, x-hop")
        .header("x-hop", "dropped")
        .send()
        .await
        .unwrap();
    assert_eq!(response.headers()["x-request-id"], "ci-run-42");
    let head = response.text().await.unwrap().to_ascii_lowercase();
    assert!(head.contains("x-request-id: ci-run-42"), "{head}");
    assert!(
        head.contains("x-forwarded-for: 203.0.113.9, 127.0.0.1"),
        "{head}"
    );
    assert!(head.contains("x-forwarded-proto: http"), "{head}");
    assert!(
        head.contains(&format!("x-forwarded-host: web.{}.localhost", rig.app)),
        "{head}"
    );
    assert!(
        head.contains(&format!("traceparent: {traceparent}")),
        "{head}"
    );
    assert!(
        !head.contains("x-hop"),
        "a hop-by-hop header passed: {head}"
    );

    let response = rig.get(&rig.host("web"), "/headers").await;
    let made = response.headers()["x-request-id"]
        .to_str()
        .unwrap()
        .to_owned();
    assert_eq!(made.len(), 32, "{made}");
    let head = response.text().await.unwrap();
    assert!(
        head.contains(&made),
        "the instance sees the id the client gets: {head}"
    );
}

#[tokio::test]
async fn an_upgraded_connection_is_passed_through_both_ways() {
    let rig = rig(Backend::Sqlite, |_| {}).await;
    let release = rig.running(testapp_manifest("", 1)).await;
    rig.serves(&release).await;
    let mut stream = TcpStream::connect(rig.router()).await.unwrap();
    let request = format!(
        "GET /echo HTTP/1.1\r\nHost: {}\r\nConnection: Upgrade\r\nUpgrade: echo\r\n\r\n",
        rig.host("web")
    );
    stream.write_all(request.as_bytes()).await.unwrap();
    let head = read_until(&mut stream, "\r\n\r\n").await;
    assert!(head.starts_with("HTTP/1.1 101"), "{head}");
    for message in ["ping", "pong and more"] {
        stream.write_all(message.as_bytes()).await.unwrap();
        assert_eq!(read_until(&mut stream, message).await, message);
    }
}

#[tokio::test]
async fn a_release_is_routed_from_its_rollouts_start_not_the_feeds_next_look() {
    // The feed looks once, before there is anything to route.
    let rig = rig(Backend::Sqlite, |config| {
        config.refresh = Duration::from_secs(3600)
    })
    .await;
    tokio::time::sleep(Duration::from_millis(100)).await;
    let release = rig.running(testapp_manifest("", 1)).await;
    assert_eq!(rig.web("/").await, (200, release.to_string()));
}
