//! Commands CI can run again: `--idempotency-key` makes a repeated deploy
//! replay the first one, and a write whose answer is lost on the way back
//! is retried by the client with the same key, so the work happens once.

use crate::support::{dev_client, Client};
use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::time::Duration;

fn count(client: &Client, what: &str) -> usize {
    let listed = client.run(&[what, "--json"]).json();
    listed[what].as_array().unwrap().len()
}

#[test]
fn a_deploy_run_again_with_its_key_deploys_once() {
    let data = tempfile::tempdir().unwrap();
    let (_server, client) = dev_client(data.path());
    client.run(&["apps", "create", "shop"]).ok();
    client.manifest("shop", "--healthy-after-ms 100", 1);

    let key = ["--idempotency-key", "pipeline-42-deploy"];
    let deploy = |extra: &[&str]| {
        let mut args = vec!["deploy", "--wait"];
        args.extend_from_slice(&key);
        args.extend_from_slice(extra);
        client.run(&args)
    };
    let first = deploy(&[]).ok();
    let again = deploy(&[]).ok();
    let release = |out: &str| {
        out.lines()
            .find(|l| l.starts_with("Release: "))
            .unwrap_or_else(|| panic!("{out}"))
            .to_owned()
    };
    assert_eq!(release(&first), release(&again), "{first}\n---\n{again}");
    assert_eq!(count(&client, "releases"), 1);
    assert_eq!(count(&client, "deployments"), 1);

    // The same key for another request: one clear line, nothing done.
    let line = deploy(&["-d", "something else"]).error(1);
    assert!(line.contains("different request"), "{line}");
    assert_eq!(count(&client, "releases"), 1);

    // Without a key, each run is its own deploy.
    client.run(&["deploy"]).ok();
    assert_eq!(count(&client, "releases"), 2);
}

/// Forwards to `upstream`, but the first connection's answer is read and
/// thrown away: the request arrived and its work was done, the client
/// sees the connection drop.
fn lossy_proxy(upstream: String) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let address = format!("http://{}", listener.local_addr().unwrap());
    std::thread::spawn(move || {
        for (n, inbound) in listener.incoming().enumerate() {
            let Ok(inbound) = inbound else { return };
            let outbound = TcpStream::connect(&upstream).unwrap();
            let (mut from_client, mut to_upstream) =
                (inbound.try_clone().unwrap(), outbound.try_clone().unwrap());
            std::thread::spawn(move || std::io::copy(&mut from_client, &mut to_upstream));
            if n == 0 {
                let mut upstream = outbound;
                let mut answer = [0u8; 4096];
                let read = upstream.read(&mut answer).unwrap_or(0);
                assert!(read > 0, "the API answered");
                inbound.shutdown(std::net::Shutdown::Both).ok();
            } else {
                let (mut from_upstream, mut to_client) = (outbound, inbound);
                std::thread::spawn(move || {
                    std::io::copy(&mut from_upstream, &mut to_client).ok();
                    to_client.flush().ok();
                    to_client.shutdown(std::net::Shutdown::Both).ok();
                });
            }
        }
    });
    address
}

#[test]
fn a_write_whose_answer_is_lost_is_retried_and_done_once() {
    let data = tempfile::tempdir().unwrap();
    let (server, client) = dev_client(data.path());
    client.run(&["apps", "create", "shop"]).ok();
    client.manifest("shop", "--healthy-after-ms 100", 1);

    let upstream = server.server.url.trim_start_matches("http://").to_owned();
    let through = Client::new(&lossy_proxy(upstream), &client.token);
    through.manifest("shop", "--healthy-after-ms 100", 1);
    let started = std::time::Instant::now();
    let out = through.run(&["build"]).ok();
    assert!(out.contains("Release: R"), "{out}");
    assert!(
        started.elapsed() >= Duration::from_secs(1),
        "it waited before retrying"
    );
    assert_eq!(
        count(&client, "releases"),
        1,
        "the retry replayed the build"
    );
}
