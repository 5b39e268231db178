//! `slipway deploy --wait` and friends against a real `slipway dev`: the
//! rollout's progress as it happens, exit 0 only on success (with where the
//! app answers), 3 when it rolled back, 4 when the connection is lost.

use crate::support::dev_client;
use std::time::{Duration, Instant};

#[test]
fn deploy_wait_shows_progress_and_exits_by_outcome() {
    let data = tempfile::tempdir().unwrap();
    let (_server, client) = dev_client(data.path());
    client.run(&["apps", "create", "shop"]).ok();

    // A healthy release: waves and healthy instances, then success.
    client.manifest("shop", "--healthy-after-ms 200", 3);
    let ran = client.run(&["deploy", "--wait"]);
    assert_eq!(ran.code, Some(0), "{ran:#?}");
    let out = &ran.stdout;
    let lines: Vec<&str> = out.lines().collect();
    assert!(lines[0].starts_with("Build: B"), "{out}");
    assert!(lines[1].starts_with("Release: R"), "{out}");
    assert!(lines[2].starts_with("Deployment: D"), "{out}");
    let release = lines[1].trim_start_matches("Release: ");
    let deployment = lines[2].trim_start_matches("Deployment: ");
    assert_eq!(lines[3], format!("Rolling out {release}"), "{out}");
    assert!(
        out.contains(&format!(
            "web: starting 3 instances of {release} (3 wanted)\n"
        )),
        "{out}"
    );
    assert!(
        out.contains(&format!("web: 3/3 healthy ({release})\n")),
        "{out}"
    );
    let last = lines.last().unwrap();
    assert!(
        last.starts_with(&format!("Deployment {deployment} succeeded in ")),
        "{out}"
    );
    // `web`, the only service with a port, is the default: dev's router URL
    // is http://localhost:<router port>.
    assert!(last.contains("s: http://shop.localhost:"), "{out}");
    let port = last.rsplit(':').next().unwrap();
    let info = client.run(&["apps", "info"]).ok();
    assert!(
        info.ends_with(&format!(
            "\n\nSERVICE  URL\nweb      http://shop.localhost:{port}\n\
             web      http://web.shop.localhost:{port}\n"
        )),
        "{info}"
    );
    // It answers there, through dev's router.
    let router = format!("http://127.0.0.1:{port}/");
    for host in ["shop.localhost", "web.shop.localhost"] {
        let (status, body) = crate::support::get_at(&router, &format!("{host}:{port}"), &[]);
        assert_eq!((status, body.as_str()), (200, release), "{host}");
    }
    assert!(
        !out.contains('\x1b'),
        "no colour or spinner off a terminal: {out:?}"
    );
    assert_eq!(ran.stderr, "", "{ran:#?}");

    // A release that crashes: rolled back, exit 3, the reason on stderr.
    client.manifest("shop", "--exit-after-ms 0", 3);
    let ran = client.run(&["deploy", "--wait"]);
    assert_eq!(ran.code, Some(3), "{ran:#?}");
    let out = &ran.stdout;
    assert!(out.contains("\nRolling back: web instance "), "{out}");
    assert!(
        out.contains(&format!("\nRolling back to {release}\n")),
        "{out}"
    );
    assert!(
        out.contains(&format!("web: 3/3 healthy ({release})\n")),
        "{out}"
    );
    assert!(out.contains(" rolled back in "), "{out}");
    let line = ran.error(3);
    assert!(line.starts_with("ERROR: deployment D"), "{line}");
    assert!(
        line.contains("rolled back: web instance") && line.contains("before it was healthy"),
        "{line}"
    );

    // --json: one JSON document with the final deployment; progress on stderr.
    client.manifest("shop", "--healthy-after-ms 100", 1);
    let ran = client.run(&["deploy", "--wait", "--json"]);
    assert_eq!(ran.code, Some(0), "{ran:#?}");
    assert!(ran.stderr.contains("web: 1/1 healthy"), "{ran:#?}");
    let json = ran.json();
    assert_eq!(json["deployment"]["status"], "succeeded");
    assert!(json["build"]["id"].is_string() && json["release"]["id"].is_string());

    client.manifest("shop", "--exit-after-ms 0", 1);
    let ran = client.run(&["deploy", "--wait", "--json"]);
    assert_eq!(ran.code, Some(3), "{ran:#?}");
    let json: serde_json::Value = serde_json::from_str(&ran.stdout).unwrap();
    assert_eq!(json["deployment"]["status"], "rolled_back");

    // The first deploy of an app that fails has nothing to return to: failed, exit 3.
    client.run(&["apps", "create", "fresh"]).ok();
    let ran = client.run(&["deploy", "--wait", "--app", "fresh"]);
    let line = ran.error(3);
    assert!(
        line.contains("failed") && line.contains("no previous release"),
        "{line}"
    );
}

#[test]
fn a_lost_connection_has_its_own_exit_code() {
    let data = tempfile::tempdir().unwrap();
    let (mut dev, client) = dev_client(data.path());
    client.run(&["apps", "create", "shop"]).ok();
    client.manifest("shop", "--healthy-after-ms 60000", 1);

    let child = client
        .command(&["deploy", "--wait", "--deadline", "5m"])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    // Let it start following, then take the API away.
    std::thread::sleep(Duration::from_secs(2));
    dev.crash();
    let started = Instant::now();
    let output = child.wait_with_output().unwrap();
    assert!(
        started.elapsed() < Duration::from_secs(30),
        "{:?}",
        started.elapsed()
    );
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(4), "{stdout}\n{stderr}");
    assert!(stdout.contains("Deployment: D"), "{stdout}");
    let last = stderr.lines().last().unwrap();
    assert!(last.starts_with("ERROR: lost the connection"), "{stderr}");
    assert!(last.contains("slipway deployments info D"), "{stderr}");
}
