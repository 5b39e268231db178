//! The `slipway` client against a real `slipway dev`: apps, login, the
//! global options, and how errors and bad usage read.

use crate::support::{dev_client, BIN};
use std::os::unix::fs::PermissionsExt;

#[test]
fn apps_are_created_listed_shown_and_deleted() {
    let data = tempfile::tempdir().unwrap();
    let (_server, client) = dev_client(data.path());

    assert_eq!(
        client.run(&["apps", "create", "shop"]).ok(),
        "Creating shop... OK\n"
    );
    client
        .run(&["apps", "create", "web-2", "--deadline", "2m"])
        .ok();
    let listed = client.run(&["apps"]).ok();
    let lines: Vec<&str> = listed.lines().collect();
    assert_eq!(lines[0], "APP    RELEASE  CREATED", "{listed}");
    assert_eq!(lines[1], "shop            just now", "{listed}");
    assert_eq!(lines[2], "web-2           just now", "{listed}");

    let json = client.run(&["apps", "--json"]).json();
    assert_eq!(json["apps"][1]["deadline_seconds"], 120);
    let info = client.run(&["apps", "info", "--app", "web-2"]).ok();
    assert!(info.contains("Name      web-2\n"), "{info}");
    assert!(info.contains("Deadline  120 s\n"), "{info}");
    let info = client.run(&["apps", "info", "shop", "--json"]).json();
    assert_eq!(info["name"], "shop");

    client.run(&["apps", "delete", "web-2"]).ok();
    let gone = client.run(&["apps", "info", "-a", "web-2"]).error(1);
    assert_eq!(gone, "ERROR: app `web-2` not found");
    let json = client.run(&["--json", "apps", "delete", "shop"]).json();
    assert_eq!(json["deleted"], "shop");
    assert_eq!(
        client.run(&["apps", "--json"]).json()["apps"],
        serde_json::json!([])
    );

    // The API's refusals are one line each.
    let bad = client.run(&["apps", "create", "Not_A_Name"]).error(1);
    assert!(bad.contains("name"), "{bad}");
    client.run(&["apps", "create", "dup"]).ok();
    let twice = client.run(&["apps", "create", "dup"]).error(1);
    assert!(twice.contains("dup"), "{twice}");
}

#[test]
fn bad_usage_and_unknown_ids_read_as_one_line() {
    let data = tempfile::tempdir().unwrap();
    let (_server, client) = dev_client(data.path());
    client.run(&["apps", "create", "shop"]).ok();

    // Usage errors: exit 2, one line.
    for args in [
        &["bogus"][..],
        &["apps", "--bogus"],
        &["releases", "--limit", "zero", "-a", "shop"],
        &["releases", "--limit", "0", "-a", "shop"],
        &["releases", "promote", "-a", "shop"],
        &["env", "set", "-a", "shop"],
        &["deploy", "--deadline", "soon", "-a", "shop"],
        &["webhooks", "add", "http://x", "--kind", "teams"],
    ] {
        let line = client.run(args).error(2);
        assert!(line.contains("--help"), "{args:?}: {line}");
    }

    // Unknown or malformed ids, unknown apps: exit 1, one line naming them.
    for (args, names) in [
        (
            &["releases", "info", "RAAAAAAAAAA", "-a", "shop"][..],
            "RAAAAAAAAAA",
        ),
        (&["releases", "info", "nonsense", "-a", "shop"], "nonsense"),
        (
            &["releases", "promote", "RAAAAAAAAAA", "-a", "shop"],
            "RAAAAAAAAAA",
        ),
        (
            &["releases", "rollback", "RAAAAAAAAAA", "-a", "shop"],
            "RAAAAAAAAAA",
        ),
        (
            &["deployments", "info", "DAAAAAAAAAA", "-a", "shop"],
            "DAAAAAAAAAA",
        ),
        (
            &["deployments", "cancel", "DAAAAAAAAAA", "-a", "shop"],
            "DAAAAAAAAAA",
        ),
        (&["releases", "-a", "nope"], "nope"),
        (&["env", "-a", "../apps"], "../apps"),
        (&["env", "get", "MISSING", "-a", "shop"], "MISSING"),
    ] {
        let line = client.run(args).error(1);
        assert!(line.contains(names), "{args:?}: {line}");
    }

    // No app anywhere.
    let line = client.run(&["releases"]).error(1);
    assert!(line.contains("--app"), "{line}");
    // A manifest that is not YAML.
    std::fs::write(client.cwd().join("slipway.yml"), "services: [\n").unwrap();
    let line = client.run(&["build"]).error(1);
    assert!(line.contains("slipway.yml"), "{line}");
    let line = client
        .run(&["build", "--manifest", "missing.yml", "-a", "shop"])
        .error(1);
    assert!(line.contains("missing.yml"), "{line}");

    // With stderr a pipe nobody reads, the error cannot be told, but the
    // exit code still says what happened (a panic would be 101).
    for (args, code) in [
        (&["bogus"][..], 2),
        (&["releases", "info", "nonsense", "-a", "shop"], 1),
    ] {
        let (reader, writer) = std::io::pipe().unwrap();
        drop(reader);
        let status = client.command(args).stderr(writer).status().unwrap();
        assert_eq!(status.code(), Some(code), "{args:?}");
    }
}

#[test]
fn tokens_hosts_and_login() {
    let data = tempfile::tempdir().unwrap();
    let (dev, client) = dev_client(data.path());
    let server = &dev.server;

    // A wrong token, no token, a host nobody listens on, a host that is no URL.
    let mut command = client.command(&["apps"]);
    command.env("SLIPWAY_TOKEN", "slp_wrong_wrong_wrong");
    let line = client.run_command(command).error(1);
    assert!(line.contains("SLIPWAY_TOKEN"), "{line}");
    assert!(
        !line.contains("slp_wrong"),
        "the token is not echoed: {line}"
    );
    let mut command = client.command(&["apps"]);
    command.env_remove("SLIPWAY_TOKEN");
    client.run_command(command).error(1);
    let line = client
        .run(&["apps", "--host", "http://127.0.0.1:9"])
        .error(1);
    assert!(
        line.contains("cannot reach Slipway at http://127.0.0.1:9"),
        "{line}"
    );
    let line = client.run(&["apps", "--host", "ftp://x"]).error(1);
    assert!(line.contains("invalid host"), "{line}");

    // `login` checks the token, then keeps host and token for the owner only.
    let mut command = client.command(&["login", &server.url]);
    command.env_remove("SLIPWAY_HOST");
    let ran = client.run_command(command);
    let out = ran.ok();
    assert!(
        out.starts_with(&format!("Logged in to {}", server.url)),
        "{out}"
    );
    let saved = client.dir.path().join("config/slipway/config.json");
    let mode = std::fs::metadata(&saved).unwrap().permissions().mode();
    assert_eq!(mode & 0o777, 0o600, "{mode:o}");
    let dir_mode = std::fs::metadata(saved.parent().unwrap())
        .unwrap()
        .permissions()
        .mode();
    assert_eq!(dir_mode & 0o077, 0, "{dir_mode:o}");

    let mut command = client.command(&["apps", "create", "after-login"]);
    command
        .env_remove("SLIPWAY_HOST")
        .env_remove("SLIPWAY_TOKEN");
    client.run_command(command).ok();
    // The saved token never goes to another host.
    let mut command = client.command(&["apps", "--host", "http://127.0.0.1:9"]);
    command.env_remove("SLIPWAY_TOKEN");
    client.run_command(command).error(1);

    // The token may come from stdin (kept out of shell history); --json says where it went.
    let mut command = client.command(&["login", &server.url, "--json"]);
    command
        .env_remove("SLIPWAY_HOST")
        .env_remove("SLIPWAY_TOKEN");
    let mut child = command
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    use std::io::Write;
    writeln!(child.stdin.take().unwrap(), "{}", client.token).unwrap();
    let output = child.wait_with_output().unwrap();
    assert!(output.status.success(), "{output:?}");
    let stdout = String::from_utf8(output.stdout).unwrap();
    assert!(!stdout.contains(&client.token), "{stdout}");
    let shown: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(shown["host"], server.url.as_str());

    // A wrong token is refused at login and nothing is saved over the good one.
    let mut command = client.command(&["login", &server.url, "--token", "slp_bad_bad_bad_bad"]);
    command.env_remove("SLIPWAY_HOST");
    client.run_command(command).error(1);
    let kept = std::fs::read_to_string(&saved).unwrap();
    assert!(kept.contains(&client.token), "{kept}");

    // Help documents the exit codes.
    let help = std::process::Command::new(BIN)
        .arg("--help")
        .output()
        .unwrap();
    let help = String::from_utf8_lossy(&help.stdout);
    for code in [
        "0  success",
        "2  bad usage",
        "3  a deployment",
        "4  the connection",
    ] {
        assert!(help.contains(code), "{help}");
    }
}
