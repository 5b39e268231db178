//! Processes: launching an instance (its command, in its own process group, in
//! its app's directory and as its app's user, with a clean env and its output
//! appended to a log file), telling whether a pid is still the process that
//! was launched, and signalling its group.

use std::collections::BTreeMap;
use std::ffi::OsString;
use std::fs::OpenOptions;
use std::io::{self, Read};
use std::os::unix::process::ExitStatusExt;
use std::path::Path;
use std::process::{ExitStatus, Stdio};

use nix::errno::Errno;
use nix::sys::signal::{self, Signal};
use nix::unistd::Pid;
use tokio::process::{Child, Command};

use super::command::{self, Program};
use super::isolation::AppHome;
use super::switch::Switch;
use super::InstanceSpec;
use crate::runtime::RuntimeError;

/// Variables copied from the worker's own environment; everything else of it
/// (API tokens, database URLs, its `HOME` and `USER`) must never reach an app.
const INHERITED_VARS: &[&str] = &["PATH", "LANG", "TMPDIR"];

/// Length of the random suffix of an instance id.
const SUFFIX_LEN: usize = 6;
const SUFFIX_ALPHABET: &[u8; 36] = b"abcdefghijklmnopqrstuvwxyz0123456789";

/// A launched process, not yet handed to its reaper.
pub(super) struct Launched {
    pub child: Child,
    pub pid: i32,
    pub start_time: Option<u64>,
}

/// Where and as whom one instance runs.
pub(super) struct Placement<'a> {
    pub id: &'a str,
    pub port: u16,
    /// Opened by the worker: the app gets the open file, not the path.
    pub log: &'a Path,
    pub home: &'a AppHome,
    /// Needed when `home.uid` is set.
    pub switch: Option<&'a Switch>,
}

/// Starts `command` for `spec` (directly or through `sh -c`, see the command
/// module) with `$PORT` = `at.port`, stdout and stderr appended to `at.log`,
/// in `home.dir` (also its `$HOME`), as `home.uid` if set.
pub(super) fn launch(
    spec: &InstanceSpec,
    command: &str,
    at: &Placement<'_>,
) -> Result<Launched, RuntimeError> {
    let log = at.log;
    let out = OpenOptions::new()
        .create(true)
        .append(true)
        .open(log)
        .map_err(|e| transient(format!("cannot open log {}", log.display()), e))?;
    let err = out
        .try_clone()
        .map_err(|e| transient("cannot share the log file".to_owned(), e))?;

    let env = environment(spec, at);
    let (program, args) = match command::program(command, &env) {
        Program::Direct(mut words) => (words.remove(0), words),
        Program::Shell(line) => ("sh".to_owned(), vec!["-c".to_owned(), line]),
    };
    let mut cmd = match (at.home.uid, at.switch) {
        (None, _) => Command::new(&program),
        // The worker enters the directory, then the switch drops to the app's
        // uid and group and runs the program.
        (Some(uid), Some(switch)) => switch.command(uid, &program),
        (Some(_), None) => {
            return Err(RuntimeError::Failed(
                "cannot switch to the app's uid: no switch was found".to_owned(),
            ))
        }
    };
    cmd.args(&args)
        .current_dir(&at.home.dir)
        .env_clear()
        .envs(&env)
        .stdin(Stdio::null())
        .stdout(out)
        .stderr(err)
        // Its own group, so SIGTERM/SIGKILL reach everything the command starts.
        .process_group(0);

    let child = cmd.spawn().map_err(|e| {
        let what = format!("cannot run {program} in {}", at.home.dir.display());
        match e.kind() {
            io::ErrorKind::NotFound | io::ErrorKind::PermissionDenied => failed(what, e),
            _ => transient(what, e),
        }
    })?;
    let pid = child
        .id()
        .and_then(|pid| i32::try_from(pid).ok())
        .ok_or_else(|| RuntimeError::Transient("the child has no pid".to_owned()))?;
    // Read now: the child cannot be reaped before its reaper first polls it, so
    // even a process that exited at once still has its /proc entry.
    let start_time = stat(pid).map(|s| s.start_time);
    Ok(Launched {
        child,
        pid,
        start_time,
    })
}

/// The instance's whole environment: a few of the worker's own variables,
/// `HOME`, the release's env, then what the runtime assigns, which a
/// release env cannot override.
fn environment(spec: &InstanceSpec, at: &Placement<'_>) -> BTreeMap<String, OsString> {
    let mut env = BTreeMap::new();
    for key in INHERITED_VARS {
        if let Some(value) = std::env::var_os(key) {
            env.insert((*key).to_owned(), value);
        }
    }
    env.insert("HOME".to_owned(), at.home.dir.clone().into_os_string());
    env.extend(spec.env.iter().map(|(k, v)| (k.to_owned(), v.into())));
    for (key, value) in [
        ("PORT", at.port.to_string()),
        ("SLIPWAY_APP", spec.app.to_string()),
        ("SLIPWAY_SERVICE", spec.service.to_string()),
        ("SLIPWAY_RELEASE", spec.release.to_string()),
        ("SLIPWAY_INSTANCE", at.id.to_owned()),
    ] {
        env.insert(key.to_owned(), value.into());
    }
    env
}

/// `<service>-<release id lower-case>-<6 random lower-case letters/digits>`.
pub(super) fn new_id(spec: &InstanceSpec) -> Result<String, RuntimeError> {
    // /dev/urandom rather than a new dependency: this runtime is Linux-only anyway.
    let mut bytes = [0_u8; 64];
    std::fs::File::open("/dev/urandom")
        .and_then(|mut f| f.read_exact(&mut bytes))
        .map_err(|e| transient("cannot read /dev/urandom".to_owned(), e))?;
    // 252 = 7 * 36: dropping bytes above it keeps every character equally likely.
    let suffix: String = bytes
        .iter()
        .filter(|b| **b < 252)
        .take(SUFFIX_LEN)
        .map(|b| char::from(SUFFIX_ALPHABET[usize::from(*b % 36)]))
        .collect();
    if suffix.len() < SUFFIX_LEN {
        return Err(RuntimeError::Transient(
            "not enough random bytes for an instance id".to_owned(),
        ));
    }
    Ok(format!(
        "{}-{}-{suffix}",
        spec.service,
        spec.release.as_str().to_ascii_lowercase()
    ))
}

/// What `/proc/<pid>/stat` says about a process.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) struct Stat {
    /// Field 3: `R`, `S`, `Z` (zombie), ...
    pub state: char,
    /// Field 22: start time in clock ticks after boot.
    pub start_time: u64,
}

/// Reads `/proc/<pid>/stat`; `None` when there is no such process (or no /proc).
pub(super) fn stat(pid: i32) -> Option<Stat> {
    let text = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    parse_stat(&text)
}

/// Parses a stat line. The command name (field 2) is in parentheses and may
/// itself contain spaces and parentheses, so fields are counted after the last `)`.
fn parse_stat(text: &str) -> Option<Stat> {
    let (_, rest) = text.rsplit_once(')')?;
    let mut fields = rest.split_whitespace();
    let state = fields.next()?.chars().next()?;
    // `fields` now starts at field 4; field 22 is 18 further.
    let start_time = fields.nth(18)?.parse().ok()?;
    Some(Stat { state, start_time })
}

/// Whether `pid` is still the live process that had `start_time` when launched.
/// A zombie is not alive: it has exited and only waits for its parent.
pub(super) fn is_running(pid: i32, start_time: Option<u64>) -> bool {
    match signal::kill(Pid::from_raw(pid), None) {
        Ok(()) | Err(Errno::EPERM) => {}
        Err(_) => return false,
    }
    match (stat(pid), start_time) {
        (Some(now), Some(then)) => now.start_time == then && !matches!(now.state, 'Z' | 'X'),
        (Some(now), None) => !matches!(now.state, 'Z' | 'X'),
        // No /proc at all: the signal check is all there is.
        (None, None) => true,
        (None, Some(_)) => false,
    }
}

/// Whether the number `pid` is free of other processes: no process has it, or
/// it is still ours (a zombie not yet reaped). Only then may its process group
/// be signalled after its leader is gone.
pub(super) fn pid_not_reused(pid: i32, start_time: Option<u64>) -> bool {
    match (stat(pid), start_time) {
        (None, _) => true,
        (Some(now), Some(then)) => now.start_time == then,
        (Some(_), None) => false,
    }
}

/// Sends `sig` to the process group led by `pid`. Ok(false) when the group no
/// longer exists, which is not an error.
pub(super) fn signal_group(pid: i32, sig: Signal) -> Result<bool, RuntimeError> {
    match signal::killpg(Pid::from_raw(pid), sig) {
        Ok(()) => Ok(true),
        Err(Errno::ESRCH) => Ok(false),
        Err(e) => Err(RuntimeError::Transient(format!(
            "cannot send {sig} to process group {pid}: {e}"
        ))),
    }
}

/// `exited with status 3`, `killed by signal 9`.
pub(super) fn describe_exit(status: &io::Result<ExitStatus>) -> String {
    match status {
        Ok(s) => match (s.code(), s.signal()) {
            (Some(code), _) => format!("exited with status {code}"),
            (None, Some(sig)) => format!("killed by signal {sig}"),
            (None, None) => format!("exited ({s})"),
        },
        Err(e) => format!("exited; its status could not be read: {e}"),
    }
}

pub(super) fn transient(what: String, e: io::Error) -> RuntimeError {
    RuntimeError::Transient(format!("{what}: {e}"))
}

fn failed(what: String, e: io::Error) -> RuntimeError {
    RuntimeError::Failed(format!("{what}: {e}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stat_fields_are_counted_after_the_command_name() {
        let line = "4242 (we(i)rd name) S 1 4242 4242 0 -1 4194560 100 0 0 0 1 2 0 0 20 0 1 0 987654 1000 100";
        assert_eq!(
            parse_stat(line),
            Some(Stat {
                state: 'S',
                start_time: 987654
            })
        );
        assert_eq!(parse_stat("garbage"), None);
    }

    #[test]
    fn own_process_is_running_and_a_wrong_start_time_is_not() {
        let pid = i32::try_from(std::process::id()).expect("pid fits");
        let own = stat(pid).expect("own stat").start_time;
        assert!(is_running(pid, Some(own)));
        assert!(!is_running(pid, Some(own + 1)));
        assert!(!pid_not_reused(pid, Some(own + 1)));
    }
}
