//! Servers from the real binary: `dev`, `server api`, `migrate`, and how
//! each fails on bad configuration.

use crate::support::{get, post_app, run, slipway, start, stderr};
use slipway_core::testing::TestDatabase;
use std::os::unix::fs::PermissionsExt;

#[test]
fn dev_serves_on_embedded_defaults_and_keeps_its_state() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let mut command = slipway(&["dev"]);
    command.env("SLIPWAY_DATA_DIR", &data);
    let (server, lines) = start(command, "Try:", "API:");
    let token_line = lines.iter().find(|l| l.contains("Token:"));
    let printed = token_line
        .expect("the token is printed")
        .split_whitespace()
        .last()
        .unwrap();
    let kept = std::fs::read_to_string(data.join("admin-token")).unwrap();
    assert_eq!(kept.trim(), printed);
    assert!(printed.starts_with("slp_"));
    let mode = |p: &std::path::Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode(&data.join("admin-token")), 0o600);
    assert_eq!(mode(&data.join("slipway.db")), 0o600);
    // Apps pass through to their directories; nobody else lists it.
    assert_eq!(mode(&data), 0o711);

    assert_eq!(get(&format!("{}/healthz", server.url), None).0, 200);
    assert_eq!(post_app(&server.url, printed, "kept"), 201);
    drop(server);

    // Restarted: same token, same data.
    let mut command = slipway(&["dev"]);
    command.env("SLIPWAY_DATA_DIR", &data);
    let (server, _) = start(command, "Try:", "API:");
    let (status, body) = get(&format!("{}/apps/kept", server.url), Some(printed));
    assert_eq!(status, 200, "{body}");
}

#[test]
fn dev_honours_a_configured_token_and_refuses_a_weak_one() {
    let dir = tempfile::tempdir().unwrap();
    let mut command = slipway(&["dev"]);
    command
        .env("SLIPWAY_DATA_DIR", dir.path())
        .env("SLIPWAY_ADMIN_TOKEN", "short");
    let output = run(command);
    assert_eq!(output.status.code(), Some(1));
    let message = stderr(&output);
    assert!(
        message.contains("ERROR: SLIPWAY_ADMIN_TOKEN is unusable"),
        "{message}"
    );
    assert!(
        !message.contains("short"),
        "the token is not echoed: {message}"
    );

    let token = "a-configured-token-0123456789";
    let mut command = slipway(&["dev"]);
    command
        .env("SLIPWAY_DATA_DIR", dir.path())
        .env("SLIPWAY_ADMIN_TOKEN", token);
    let (server, _) = start(command, "Try:", "API:");
    assert_eq!(get(&format!("{}/apps", server.url), Some(token)).0, 200);
    assert!(
        !dir.path().join("admin-token").exists(),
        "nothing generated"
    );
}

#[test]
fn server_api_migrates_postgres_and_serves() {
    let db = TestDatabase::postgres();
    let token = "server-api-test-token-0123456789";
    let redis = crate::support::Redis::start();
    let mut command = slipway(&["server", "api"]);
    command
        .env("SLIPWAY_DATABASE_URL", db.url())
        .env("SLIPWAY_REDIS_URL", &redis.url)
        .env("SLIPWAY_ADMIN_TOKEN", token);
    let (server, _) = start(command, "address=", "address=");
    assert_eq!(get(&format!("{}/readyz", server.url), None).0, 200);
    assert_eq!(post_app(&server.url, token, "on-postgres"), 201);
    drop(server);

    let mut command = slipway(&["migrate"]);
    command.env("SLIPWAY_DATABASE_URL", db.url());
    let output = run(command);
    assert!(
        output.status.success(),
        "{:?}: {}",
        output.status,
        stderr(&output)
    );
    assert_eq!(
        String::from_utf8_lossy(&output.stdout).trim(),
        "Applied 0 migration(s)."
    );
}

#[test]
fn migrate_applies_then_finds_nothing_to_do() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("m.db").display());
    let migrations = concat!(env!("CARGO_MANIFEST_DIR"), "/../migrations/sqlite");
    let all = std::fs::read_dir(migrations).unwrap().count();
    assert!(all >= 2, "{migrations}: {all}");
    let first = format!("Applied {all} migration(s).");
    for expected in [first.as_str(), "Applied 0 migration(s)."] {
        let mut command = slipway(&["migrate"]);
        command.env("SLIPWAY_DATABASE_URL", &url);
        let output = run(command);
        assert!(
            output.status.success(),
            "{:?}: {}",
            output.status,
            stderr(&output)
        );
        assert_eq!(String::from_utf8_lossy(&output.stdout).trim(), expected);
    }
}

#[test]
fn bad_configuration_fails_with_one_clear_line() {
    let dir = tempfile::tempdir().unwrap();
    let sqlite = format!("sqlite://{}", dir.path().join("w.db").display());
    type Case<'a> = (&'a [&'a str], &'a [(&'a str, &'a str)], &'a str);
    let kubeconfig = dir.path().join("no-kubeconfig").display().to_string();
    let cases: [Case; 6] = [
        (
            &["server", "api"],
            &[
                ("SLIPWAY_DATABASE_URL", "sqlite:///tmp/x.db"),
                ("SLIPWAY_REDIS_URL", "redis://127.0.0.1:1"),
            ],
            "SLIPWAY_ADMIN_TOKEN must be set",
        ),
        (
            &["migrate"],
            &[("SLIPWAY_DATABASE_URL", "mysql://user:hunter2@db/x")],
            "database URL must start with postgres://",
        ),
        (
            &["migrate"],
            &[(
                "SLIPWAY_DATABASE_URL",
                "postgres://user:hunter2@127.0.0.1:1/x",
            )],
            "cannot connect to the database",
        ),
        (
            &["server", "worker"],
            &[
                ("SLIPWAY_DATABASE_URL", &sqlite),
                ("SLIPWAY_REDIS_URL", "redis://:hunter2@127.0.0.1:1"),
            ],
            "cannot connect to Redis",
        ),
        (
            &["server", "worker"],
            &[
                ("SLIPWAY_DATABASE_URL", &sqlite),
                ("SLIPWAY_REDIS_URL", "redis://127.0.0.1:1"),
                ("SLIPWAY_RUNTIME", "kubernetes"),
                ("KUBECONFIG", &kubeconfig),
                ("KUBERNETES_SERVICE_HOST", ""),
            ],
            "cannot find the Kubernetes cluster",
        ),
        (
            &["server", "worker"],
            &[
                ("SLIPWAY_DATABASE_URL", &sqlite),
                ("SLIPWAY_REDIS_URL", "redis://127.0.0.1:1"),
                ("SLIPWAY_RUNTIME", "kubernetes"),
                ("SLIPWAY_ROUTER_LISTEN", "127.0.0.1:0"),
            ],
            "unset SLIPWAY_ROUTER_LISTEN",
        ),
    ];
    for (args, env, expected) in cases {
        let mut command = slipway(args);
        command.envs(env.iter().copied());
        let output = run(command);
        let message = stderr(&output);
        assert_eq!(output.status.code(), Some(1), "{args:?}: {message}");
        let last = message.lines().last().unwrap_or_default();
        assert!(
            last.starts_with("ERROR: "),
            "{args:?}: one clear last line: {message}"
        );
        assert!(message.contains(expected), "{args:?}: {message}");
        assert!(
            !message.contains("hunter2"),
            "{args:?}: the password leaked: {message}"
        );
    }

    // A router URL or address that cannot be used is refused at start as
    // bad usage, saying what is wrong.
    let router_cases = [
        (
            &["server", "api"][..],
            ("SLIPWAY_ROUTER_URL", "http://localhost:8000/apps"),
            "--router-url <URL>': must not have a path",
        ),
        (
            &["dev"],
            ("SLIPWAY_ROUTER_URL", "ftp://localhost"),
            "must start with http:// or https://",
        ),
        (
            &["dev"],
            ("SLIPWAY_ROUTER_URL", "http://127.0.0.1:8000"),
            "must name a host, not an IP address",
        ),
        (
            &["dev"],
            ("SLIPWAY_ROUTER_LISTEN", "localhost"),
            "--router-listen <ROUTER_LISTEN>'",
        ),
        (
            &["server", "worker"],
            ("SLIPWAY_ROUTER_LISTEN", "8000"),
            "127.0.0.1:8000, or `off`",
        ),
        (
            &["server", "worker"],
            ("SLIPWAY_RUNTIME", "docker"),
            "--runtime <RUNTIME>'",
        ),
        (
            &["server", "worker"],
            ("SLIPWAY_K8S_NAMESPACE_PREFIX", "Apps-"),
            "--k8s-namespace-prefix <NAMESPACE_PREFIX>': expected lowercase letters",
        ),
        (
            &["server", "worker"],
            ("SLIPWAY_JOB_RETENTION", "-1"),
            "--job-retention <JOB_RETENTION>': a whole number of finished jobs from 0 to 10000000 expected",
        ),
        (
            &["server", "worker"],
            ("SLIPWAY_JOB_RETENTION", "20000000"),
            "from 0 to 10000000 expected",
        ),
        (
            &["server", "worker"],
            ("SLIPWAY_JOB_RETENTION_DAYS", "0"),
            "--job-retention-days <JOB_RETENTION_DAYS>': a whole number of days from 1 to 36500, or `forever`, expected",
        ),
        (
            &["dev"],
            ("SLIPWAY_EVENT_RETENTION_DAYS", "90 days"),
            "--event-retention-days <EVENT_RETENTION_DAYS>': a whole number of days",
        ),
    ];
    for (args, (key, value), expected) in router_cases {
        let mut command = slipway(args);
        command
            .env("SLIPWAY_DATA_DIR", dir.path())
            .env("SLIPWAY_DATABASE_URL", &sqlite)
            .env("SLIPWAY_REDIS_URL", "redis://127.0.0.1:1")
            .env(key, value);
        let output = run(command);
        let message = stderr(&output);
        assert_eq!(output.status.code(), Some(2), "{args:?} {key}: {message}");
        let lines: Vec<&str> = message.lines().collect();
        assert_eq!(lines.len(), 1, "{args:?} {key}: {message}");
        assert!(lines[0].starts_with("ERROR: "), "{message}");
        assert!(message.contains(expected), "{args:?} {key}: {message}");
    }

    let output = run(slipway(&["dev", "--no-such-flag"]));
    assert_eq!(output.status.code(), Some(2), "bad usage");
    let output = run(slipway(&["migrate"]));
    assert_eq!(
        output.status.code(),
        Some(2),
        "missing SLIPWAY_DATABASE_URL is bad usage"
    );
    assert!(stderr(&output).contains("--database-url"));
}
