//! What the process-level tests of the local runtime share: the test app,
//! unique app names, finding an app's processes by the `SLIPWAY_APP` the runtime puts in
//! their env, and a [`Reaper`] that SIGKILLs them when a test ends, passed or
//! failed, so no test leaves a process behind.

// Each test file uses its own part of this module.
#![allow(dead_code)]

use std::path::Path;
use std::sync::atomic::{AtomicU32, Ordering};

use nix::sys::signal::{kill, Signal};
use nix::unistd::Pid;
use slipway_core::domain::{AppName, Env, Manifest, ReleaseId, ServiceName};
use slipway_core::testing::{ManifestBuilder, ServiceBuilder};
use slipway_worker::runtime::local::InstanceSpec;

/// The test app the worker crate builds.
pub const TESTAPP: &str = env!("CARGO_BIN_EXE_slipway-testapp");

/// A service running the test app with these flags, one instance,
/// health-checked from the start, every second.
pub fn testapp(flags: &str) -> ServiceBuilder {
    ServiceBuilder::testapp(TESTAPP, flags)
}

/// A manifest of `count` such `web` instances.
pub fn testapp_manifest(flags: &str, count: u32) -> Manifest {
    ManifestBuilder::web(testapp(flags).count(count)).build()
}

/// An app name no other test (or earlier run) uses: `<prefix>-<pid>-<n>`.
pub fn unique_app(prefix: &str) -> AppName {
    static NEXT: AtomicU32 = AtomicU32::new(0);
    let n = NEXT.fetch_add(1, Ordering::Relaxed);
    AppName::parse(&format!("{prefix}-{}-{n}", std::process::id())).expect("app name")
}

/// One `web` instance of `app` running `command`, with `env`.
pub fn spec(app: &AppName, command: &str, env: Env) -> InstanceSpec {
    InstanceSpec {
        app: app.clone(),
        service: ServiceName::parse("web").expect("service name"),
        release: ReleaseId::generate(),
        command: Some(command.to_owned()),
        port: None,
        env,
    }
}

pub fn is_root() -> bool {
    nix::unistd::geteuid().is_root()
}

/// A live process of an app, as `/proc` shows it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct AppProcess {
    pub pid: i32,
    /// Its process group: the pid of the instance's leader.
    pub pgid: i32,
    pub uid: u32,
}

/// Every live (not zombie) process whose env says `SLIPWAY_APP=<app>`.
/// Needs to read other users' `/proc/<pid>/environ`: root, or the same user.
pub fn processes_of(app: &str) -> Vec<AppProcess> {
    let needle = format!("SLIPWAY_APP={app}");
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    entries
        .filter_map(Result::ok)
        .filter_map(|e| e.file_name().to_str()?.parse::<i32>().ok())
        .filter_map(|pid| {
            let env = std::fs::read(format!("/proc/{pid}/environ")).ok()?;
            let ours = env.split(|b| *b == 0).any(|var| var == needle.as_bytes());
            let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
            let (_, rest) = stat.rsplit_once(')')?;
            let fields: Vec<&str> = rest.split_whitespace().collect();
            // After the name: state, ppid, pgrp.
            let live = !matches!(fields.first()?.chars().next()?, 'Z' | 'X');
            let pgid = fields.get(2)?.parse().ok()?;
            let uid = uid_of(&format!("/proc/{pid}"))?;
            (ours && live).then_some(AppProcess { pid, pgid, uid })
        })
        .collect()
}

/// The real uid from `<proc dir>/status`.
fn uid_of(path: &str) -> Option<u32> {
    let status = std::fs::read_to_string(format!("{path}/status")).ok()?;
    let line = status.lines().find(|l| l.starts_with("Uid:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

/// SIGKILLs every process of its apps when dropped, so a failing test leaves
/// nothing running.
pub struct Reaper {
    apps: Vec<String>,
}

impl Reaper {
    pub fn new(apps: &[&AppName]) -> Reaper {
        Reaper {
            apps: apps.iter().map(|a| a.as_str().to_owned()).collect(),
        }
    }

    /// Kills what is left; returns how many processes there were.
    pub fn kill_all(&self) -> usize {
        let mut killed = 0;
        // A second pass catches children started while the first one killed.
        for _ in 0..3 {
            for app in &self.apps {
                for p in processes_of(app) {
                    let _ = kill(Pid::from_raw(p.pid), Signal::SIGKILL);
                    killed += 1;
                }
            }
        }
        killed
    }
}

impl Drop for Reaper {
    fn drop(&mut self) {
        self.kill_all();
    }
}

/// Files in `dir` whose name ends with `suffix`.
pub fn files_ending(dir: &Path, suffix: &str) -> Vec<String> {
    std::fs::read_dir(dir)
        .expect("readable dir")
        .filter_map(Result::ok)
        .filter_map(|e| e.file_name().into_string().ok())
        .filter(|n| n.ends_with(suffix))
        .collect()
}
