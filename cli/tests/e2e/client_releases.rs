//! `slipway build`, `env`, `releases` and `deployments` against a real
//! `slipway dev`: the Convox table, git descriptions, env from stdin,
//! masked values, diffs, and `--json` everywhere.

use crate::support::{dev_client, Client};
use diesel::{Connection, RunQueryDsl, SqliteConnection};
use serde_json::Value;
use std::path::Path;
use std::process::Command;

fn git(dir: &Path, args: &[&str]) {
    let status = Command::new("git")
        .args(["-c", "user.name=CI", "-c", "user.email=ci@example.com"])
        .args(args)
        .current_dir(dir)
        .output()
        .expect("git must be installed");
    assert!(status.status.success(), "git {args:?}: {status:?}");
}

/// Moves a release's creation back by `days` in the dev database.
fn backdate(data: &Path, release: &str, days: u32) {
    let url = data.join("slipway.db");
    let mut conn = SqliteConnection::establish(url.to_str().unwrap()).unwrap();
    let sql = format!(
        "UPDATE releases SET created_at = datetime('now', '-{days} days') WHERE id = '{release}'"
    );
    assert_eq!(diesel::sql_query(sql).execute(&mut conn).unwrap(), 1);
}

fn release_ids(client: &Client) -> Vec<String> {
    let listed = client.run(&["releases", "--json"]).json();
    listed["releases"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["id"].as_str().unwrap().to_owned())
        .collect()
}

#[test]
fn builds_take_git_descriptions_and_releases_read_like_convox() {
    let data = tempfile::tempdir().unwrap();
    let (_server, client) = dev_client(data.path());
    client.run(&["apps", "create", "shop"]).ok();
    client.manifest("shop", "--healthy-after-ms 100", 1);
    let cwd = client.cwd();

    // Outside git, no description: empty.
    let out = client.run(&["build"]).ok();
    let lines: Vec<&str> = out.lines().collect();
    assert!(
        lines[0].starts_with("Build: B") && lines[0].len() == 18,
        "{out}"
    );
    assert!(
        lines[1].starts_with("Release: R") && lines[1].len() == 20,
        "{out}"
    );
    let first = lines[1].trim_start_matches("Release: ").to_owned();

    // A clean working tree: the commit's sha and subject.
    git(&cwd, &["init", "-q"]);
    git(&cwd, &["add", "slipway.yml"]);
    git(
        &cwd,
        &[
            "commit",
            "-q",
            "-m",
            "this is my commit message",
            "-m",
            "body",
        ],
    );
    let sha = String::from_utf8(
        Command::new("git")
            .args(["rev-parse", "HEAD"])
            .current_dir(&cwd)
            .output()
            .unwrap()
            .stdout,
    )
    .unwrap();
    let built = client.run(&["build", "--json"]).json();
    let expected = format!("build {} this is my commit message", &sha[..10]);
    assert_eq!(built["release"]["description"], expected.as_str());
    assert_eq!(built["build"]["git_sha"], sha.trim());
    let clean = built["release"]["id"].as_str().unwrap().to_owned();

    // A dirty tree (an untracked file counts): nothing from git.
    std::fs::write(cwd.join("notes.txt"), "wip").unwrap();
    let built = client.run(&["build", "--json"]).json();
    assert_eq!(built["release"]["description"], "");
    assert_eq!(built["build"]["git_sha"], Value::Null);
    std::fs::remove_file(cwd.join("notes.txt")).unwrap();
    // An explicit description wins over git.
    let built = client.run(&["build", "-d", "hotfix 12"]).ok();
    assert!(built.contains("Release: R"), "{built}");

    // Env changes: from stdin too, values never in the output.
    let out = client
        .run_with_stdin(&["env", "set", "FOO=1", "TOKEN=-"], "s3cr3t-value\n")
        .ok();
    assert!(
        out.starts_with("Setting FOO, TOKEN... OK\nRelease: R"),
        "{out}"
    );
    let out = client
        .run(&["env", "set", "FOO=3", "BAR=2", "-d", "by hand"])
        .ok();
    assert!(out.starts_with("Setting FOO, BAR... OK\n"), "{out}");
    let out = client.run(&["env", "unset", "BAR"]).ok();
    assert!(out.starts_with("Unsetting BAR... OK\nRelease: R"), "{out}");
    let out = client.run(&["env", "set", "FOO=3"]).ok();
    assert_eq!(out, "Setting FOO... OK\nNo change: no release created\n");
    assert_eq!(client.run(&["env"]).ok(), "FOO=3\nTOKEN=s3cr3t-value\n");
    assert_eq!(client.run(&["env", "get", "TOKEN"]).ok(), "s3cr3t-value\n");
    let json = client.run(&["env", "--json"]).json();
    assert_eq!(json["env"]["FOO"], "3");
    let line = client.run(&["env", "set", "1BAD=x"]).error(1);
    assert!(line.contains("1BAD") && !line.contains("=x"), "{line}");
    let line = client.run(&["env", "set", "NOEQUALS"]).error(1);
    assert!(line.contains("KEY=VALUE"), "{line}");

    // The table: Convox's columns, newest first, relative times.
    let ids = release_ids(&client);
    assert_eq!(ids.len(), 7, "{ids:?}");
    backdate(data.path(), &first, 21);
    backdate(data.path(), &clean, 8);
    let table = client.run(&["releases"]).ok();
    let lines: Vec<&str> = table.lines().collect();
    assert_eq!(
        lines[0], "ID           STATUS  BUILD        CREATED      DESCRIPTION",
        "{table}"
    );
    assert_eq!(lines.len(), 8, "{table}");
    assert!(
        lines[1].starts_with(&format!("{}          B", ids[0])),
        "{table}"
    );
    assert!(
        lines[1].ends_with("  just now     env remove:BAR"),
        "{table}"
    );
    assert!(lines[2].ends_with("just now     by hand"), "{table}");
    assert!(
        lines[3].ends_with("just now     env add:FOO add:TOKEN"),
        "{table}"
    );
    assert!(lines[4].ends_with("just now     hotfix 12"), "{table}");
    assert!(lines[5].ends_with("  just now"), "{table:?}");
    let week = lines.iter().find(|l| l.starts_with(&clean)).unwrap();
    assert!(
        week.ends_with(&format!("1 week ago   {expected}")),
        "{table}"
    );
    let weeks = lines.last().unwrap();
    assert!(weeks.starts_with(&first), "{table}");
    assert!(
        weeks.ends_with("3 weeks ago"),
        "no trailing spaces: {table:?}"
    );
    assert!(!table.contains("s3cr3t"), "{table}");
    let two = client.run(&["releases", "--limit", "2"]).ok();
    assert_eq!(two.lines().count(), 3, "{two}");

    // info masks values unless --reveal; diff names keys only.
    let info = client.run(&["releases", "info", &ids[0]]).ok();
    assert!(
        info.contains("Env          FOO=****\n             TOKEN=****"),
        "{info}"
    );
    assert!(!info.contains("s3cr3t"), "{info}");
    let masked = client.run(&["releases", "info", &ids[0], "--json"]).json();
    assert_eq!(masked["env"]["TOKEN"], "****");
    let revealed = client.run(&["releases", "info", &ids[0], "--reveal"]).ok();
    assert!(revealed.contains("TOKEN=s3cr3t-value"), "{revealed}");
    let diff = client.run(&["releases", "diff", &clean, &ids[0]]).ok();
    assert!(diff.starts_with("build  B"), "{diff}");
    assert!(diff.contains("\nadd    FOO\nadd    TOKEN"), "{diff}");
    assert!(!diff.contains("s3cr3t") && !diff.contains("=3"), "{diff}");
    let json = client
        .run(&["releases", "diff", &ids[2], &ids[1], "--json"])
        .json();
    assert_eq!(json["env"]["added"], serde_json::json!(["BAR"]));
    assert_eq!(json["env"]["changed"], serde_json::json!(["FOO"]));
    assert_eq!(json["build"]["changed"], false);
    let line = client
        .run(&["releases", "diff", &ids[0], "RAAAAAAAAAA"])
        .error(1);
    assert!(line.contains("RAAAAAAAAAA"), "{line}");
}

#[test]
fn promote_rollback_and_deployments() {
    let data = tempfile::tempdir().unwrap();
    let (_server, client) = dev_client(data.path());
    client.run(&["apps", "create", "shop"]).ok();
    client.manifest("shop", "--healthy-after-ms 100", 1);

    let built = client.run(&["build", "--json"]).json();
    let good = built["release"]["id"].as_str().unwrap().to_owned();
    let out = client
        .run(&["releases", "promote", &good, "--wait", "--deadline", "1m"])
        .ok();
    assert!(
        out.starts_with(&format!("Promoting {good}... OK\nDeployment: D")),
        "{out}"
    );
    assert!(out.contains(" succeeded in "), "{out}");
    assert!(out.contains("s: http://shop.localhost:"), "{out}");
    let table = client.run(&["releases"]).ok();
    assert!(
        table.lines().nth(1).unwrap().contains(" active "),
        "{table}"
    );

    // An env change promoted at once, and followed.
    let out = client
        .run(&["env", "set", "FOO=1", "--promote", "--wait"])
        .ok();
    assert!(out.contains("Setting FOO... OK\nRelease: R"), "{out}");
    assert!(out.contains(" succeeded in "), "{out}");
    assert!(out.contains("s: http://shop.localhost:"), "{out}");
    let line = client.run(&["env", "set", "FOO=2", "--wait"]).error(1);
    assert!(line.contains("--promote"), "{line}");

    // Rollback: a new release with the old build and env, promoted.
    let out = client.run(&["releases", "rollback", &good, "--wait"]).ok();
    assert!(
        out.starts_with(&format!("Rolling back to {good}... OK\nRelease: R")),
        "{out}"
    );
    let ids = release_ids(&client);
    let table = client.run(&["releases"]).ok();
    let newest = table.lines().nth(1).unwrap();
    assert!(
        newest.starts_with(&format!("{}  active", ids[0])),
        "{table}"
    );
    assert!(newest.ends_with(&format!("rollback to {good}")), "{table}");
    // The rollback release has that release's env: none.
    assert_eq!(client.run(&["env"]).ok(), "");

    // Deployments: a table, one shown, --json.
    let table = client.run(&["deployments"]).ok();
    let lines: Vec<&str> = table.lines().collect();
    assert!(
        lines[0].starts_with(
            "ID           STATUS     RELEASE      PREVIOUS     ACTOR  CREATED   DURATION"
        ),
        "{table}"
    );
    assert_eq!(lines.len(), 4, "{table}");
    assert!(
        lines[1].contains(" succeeded ") && lines[1].contains(&ids[0]),
        "{table}"
    );
    let listed = client.run(&["deployments", "--json"]).json();
    let id = listed["deployments"][0]["id"].as_str().unwrap().to_owned();
    let info = client.run(&["deployments", "info", &id]).ok();
    assert!(info.contains("Status        succeeded\n"), "{info}");
    assert!(
        info.contains(&format!(
            "Previous      {}",
            listed["deployments"][1]["release"].as_str().unwrap()
        )),
        "{info}"
    );
    let shown = client.run(&["deployments", "info", &id, "--json"]).json();
    assert_eq!(shown["status"], "succeeded");
    let line = client.run(&["deployments", "cancel", &id]).error(1);
    assert!(line.contains("already finished"), "{line}");

    // Cancel one under way: it rolls back to the active release.
    client.manifest("shop", "--healthy-after-ms 60000", 1);
    let started = client.run(&["deploy", "--json", "--deadline", "5m"]).json();
    let id = started["deployment"]["id"].as_str().unwrap().to_owned();
    let out = client.run(&["deployments", "cancel", &id, "--wait"]).ok();
    assert!(
        out.starts_with(&format!("Cancelling {id}... OK\n")),
        "{out}"
    );
    assert!(out.contains("Cancel requested by admin\n"), "{out}");
    assert!(
        out.contains(&format!("Deployment {id} rolled back")),
        "{out}"
    );
    let shown = client.run(&["deployments", "info", &id, "--json"]).json();
    assert_eq!(shown["status"], "rolled_back");
    assert_eq!(shown["reason"], "cancelled");
    let app = client.run(&["apps", "info", "--json"]).json();
    assert_eq!(app["active_release"], ids[0].as_str());
}
