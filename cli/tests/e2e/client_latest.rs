//! A new release copies what it does not change from the latest release,
//! even when that one was never promoted: `build`, `deploy`, `env set` and
//! `env unset` then print one warning line on stderr naming the env keys
//! it differs in from the active release, and the rollback that starts
//! from the active release instead.

use crate::support::{dev_client, Ran};

/// Asserts a successful run whose stderr is the one warning line, made
/// from `base` against `active`, naming `keys`; returns the line.
fn warned(ran: Ran, active: &str, keys: &str) -> String {
    assert_eq!(ran.code, Some(0), "{ran:#?}");
    let lines: Vec<&str> = ran.stderr.lines().collect();
    assert_eq!(lines.len(), 1, "one line on stderr: {ran:#?}");
    let line = lines[0];
    assert!(line.starts_with("WARNING: R"), "{line}");
    assert!(
        line.contains(&format!("is not the active one ({active})")),
        "{line}"
    );
    assert!(line.contains(&format!("in env keys {keys}")), "{line}");
    assert!(
        line.ends_with(&format!("slipway releases rollback {active}")),
        "{line}"
    );
    line.to_owned()
}

fn quiet(ran: Ran) -> String {
    assert_eq!(ran.code, Some(0), "{ran:#?}");
    assert_eq!(ran.stderr, "", "no warning: {ran:#?}");
    ran.stdout
}

#[test]
fn changes_made_from_a_latest_release_that_is_not_active_say_so() {
    let data = tempfile::tempdir().unwrap();
    let (_server, client) = dev_client(data.path());
    client.run(&["apps", "create", "shop"]).ok();
    client.manifest("shop", "--healthy-after-ms 100", 1);
    // No active release yet: nothing to compare with.
    let built = client.run(&["build", "--json"]);
    assert_eq!(built.stderr, "", "{built:#?}");
    let active = built.json()["release"]["id"].as_str().unwrap().to_owned();
    client
        .run(&["releases", "promote", &active, "--wait", "--deadline", "1m"])
        .ok();

    // Latest == active: no warning; this change is not promoted.
    let out = quiet(client.run(&["env", "set", "BROKEN=1"]));
    assert!(out.contains("Release: R"), "{out}");
    let broken = out.trim().rsplit(' ').next().unwrap().to_owned();

    // Now the latest (BROKEN) is not the active release.
    let line = warned(client.run(&["env", "set", "X=1"]), &active, "BROKEN");
    assert!(
        line.contains(&format!("from the latest release {broken},")),
        "{line}"
    );
    assert!(!line.contains("=1"), "keys only: {line}");
    warned(client.run(&["env", "unset", "X"]), &active, "BROKEN, X");
    warned(client.run(&["build"]), &active, "BROKEN");
    let deploy = client.run(&["deploy", "--wait", "--deadline", "1m"]);
    warned(deploy, &active, "BROKEN");

    // Starting from the active release: the same env, and no warning after.
    let quiet_active = client.run(&["releases", "rollback", &active, "--wait"]);
    quiet(quiet_active);
    let out = quiet(client.run(&["env", "set", "FINE=1"]));
    assert!(out.contains("Setting FINE... OK"), "{out}");
    assert_eq!(
        client.run(&["env", "get", "BROKEN"]).error(1),
        "ERROR: BROKEN is not set in app shop"
    );
}
