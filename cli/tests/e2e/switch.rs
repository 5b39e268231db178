//! `slipway-switch UID PROGRAM [ARGS]`, which a worker running as root starts
//! every instance through:
//! it drops every uid and gid to UID, with no supplementary groups, and keeps
//! the directory and environment it was started with (and SIGPIPE's default). As another user the
//! switch itself is refused, which is what these tests assert there.

use crate::support::{run, stderr};
use std::os::unix::fs::PermissionsExt;
use std::process::{Command, Output};

const SWITCH: &str = env!("CARGO_BIN_EXE_slipway-switch");
const UID: &str = "200777";
const USAGE: &str = "usage: slipway-switch UID PROGRAM [ARGS], with a UID from 1000 to 4294967294";

fn switch(args: &[&str]) -> Command {
    let mut command = Command::new(SWITCH);
    command.args(args).env_clear();
    command
}

/// `Uid:` or `Gid:` of `/proc/self/status` (real, effective, saved, fs).
fn ids(status: &str, key: &str) -> String {
    status
        .lines()
        .find_map(|line| line.strip_prefix(key))
        .unwrap_or_else(|| panic!("no {key} in {status}"))
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
}

fn is_root() -> bool {
    let status = std::fs::read_to_string("/proc/self/status").expect("own status");
    ids(&status, "Uid:").split(' ').nth(1) == Some("0")
}

fn assert_refused(output: &Output, code: i32, message: &str) {
    assert_eq!(output.status.code(), Some(code), "{}", stderr(output));
    assert!(stderr(output).contains(message), "{}", stderr(output));
    assert!(output.stdout.is_empty(), "nothing ran: {output:?}");
}

#[test]
fn the_switch_drops_every_id_and_keeps_directory_and_env() {
    let dir = tempfile::tempdir().expect("temp dir");
    let mut command = switch(&[
        UID,
        "/bin/sh",
        "-c",
        "cat /proc/self/status; pwd; echo $MARK",
    ]);
    command.current_dir(dir.path()).env("MARK", "kept-7c1e");
    let output = run(command);
    if !is_root() {
        // setgroups needs root: refused before anything runs.
        return assert_refused(&output, 125, "cannot switch to uid 200777");
    }
    assert!(output.status.success(), "{}", stderr(&output));
    let out = String::from_utf8(output.stdout).expect("utf-8");
    assert_eq!(ids(&out, "Uid:"), [UID; 4].join(" "));
    assert_eq!(ids(&out, "Gid:"), [UID; 4].join(" "));
    assert_eq!(ids(&out, "Groups:"), "");
    // Rust ignores SIGPIPE in its own processes; the program must not inherit that.
    let ignored = u64::from_str_radix(&ids(&out, "SigIgn:"), 16).expect("SigIgn in hex");
    let sigpipe = 1 << (13 - 1);
    assert_eq!(ignored & sigpipe, 0, "SIGPIPE ignored: {ignored:x}");
    let dir = dir.path().canonicalize().expect("canonical dir");
    let tail: Vec<&str> = out.lines().rev().take(2).collect();
    assert_eq!(tail, ["kept-7c1e", dir.to_str().expect("utf-8 path")]);
}

#[test]
fn bad_uids_and_missing_programs_are_refused_before_anything_runs() {
    for args in [
        vec![],
        vec!["0", "/bin/echo", "ran"],
        vec!["999", "/bin/echo", "ran"],
        vec!["-5", "/bin/echo", "ran"],
        vec!["4294967295", "/bin/echo", "ran"],
        vec!["abc", "/bin/echo", "ran"],
        vec![UID],
    ] {
        assert_refused(&run(switch(&args)), 125, USAGE);
    }
    if !is_root() {
        return;
    }
    let missing = run(switch(&[UID, "/nonexistent/program"]));
    assert_refused(&missing, 127, "cannot run /nonexistent/program");
    let not_executable = run(switch(&[UID, "/etc/passwd"]));
    assert_refused(&not_executable, 126, "cannot run /etc/passwd");
    // Once switched, there is no switching again (a copy of the switch the
    // app's uid can reach, whatever the checkout's directories allow).
    let dir = tempfile::tempdir().expect("temp dir");
    std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755)).expect("chmod");
    let copy = dir.path().join("slipway-switch");
    std::fs::copy(SWITCH, &copy).expect("copy of the switch");
    let copy = copy.to_str().expect("utf-8 path");
    let twice = run(switch(&[UID, copy, "200778", "/bin/echo", "ran"]));
    assert_refused(&twice, 125, "cannot switch to uid 200778");
}
