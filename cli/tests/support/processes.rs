//! The processes the end-to-end tests and the handover bench start, and
//! making sure each ends with them, also on failure: servers of the real
//! binary (every output line kept, the app instances their local runtime
//! started killed with them) and a Redis of their own. Included by
//! `tests/e2e` and `benches/handover` with `#[path]`: the one harness for
//! running `slipway` as a process.

// Each of the two uses a part of it.
#![allow(dead_code)]

use serde_json::Value;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{mpsc, Arc, Mutex};
use std::time::{Duration, Instant};

/// Every line a server printed (stdout and stderr), as it prints them.
pub type Lines = Arc<Mutex<Vec<String>>>;

/// How long a server may take to print its ready line.
const READY_WITHIN: Duration = Duration::from_secs(30);

/// A running server process. Dropped (also when a test fails), it is
/// SIGKILLed, and so is every instance its local runtime recorded: a killed
/// `dev` or `server worker` cannot stop them itself.
pub struct Server {
    pub child: Child,
    /// The address after the marker of its ready output, as `http://...`.
    pub url: String,
    pub lines: Lines,
    /// The local runtime's state dir (`<data dir>/runtime`) of a `dev` or
    /// `server worker`; `None` for servers that run no instances, or whose
    /// instances outlive them on purpose ([`Server::leaving_instances`]).
    runtime_dir: Option<PathBuf>,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        if let Some(dir) = &self.runtime_dir {
            kill_instances(dir);
        }
    }
}

impl Server {
    /// Starts `command` and waits for a line (stdout or stderr) holding
    /// `ready`; the address is the word after `marker` on a line seen by then.
    #[allow(clippy::zombie_processes)] // the Server kills and waits when dropped
    pub fn start(mut command: Command, ready: &str, marker: &str) -> Server {
        let mut child = command
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("run slipway");
        let lines: Lines = Arc::default();
        let (tx, rx) = mpsc::channel();
        let streams: [Box<dyn Read + Send>; 2] = [
            Box::new(child.stdout.take().unwrap()),
            Box::new(child.stderr.take().unwrap()),
        ];
        for stream in streams {
            let (tx, lines) = (tx.clone(), lines.clone());
            std::thread::spawn(move || {
                for line in BufReader::new(stream).lines().map_while(Result::ok) {
                    lines.lock().unwrap().push(line.clone());
                    let _ = tx.send(line);
                }
            });
        }
        let mut server = Server {
            child,
            url: String::new(),
            lines,
            runtime_dir: runtime_dir(&command),
        };
        let deadline = Instant::now() + READY_WITHIN;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            let Ok(line) = rx.recv_timeout(left) else {
                let seen = server.tail(200);
                drop(server);
                panic!("no `{ready}` line within {READY_WITHIN:?}; output:\n{seen}");
            };
            if !line.contains(ready) {
                continue;
            }
            let address = server.lines.lock().unwrap().iter().find_map(|l| {
                let (_, rest) = l.split_once(marker)?;
                Some(rest.split_whitespace().next()?.to_owned())
            });
            let Some(address) = address else {
                let seen = server.tail(200);
                drop(server);
                panic!("no `{marker}` line before `{ready}`; output:\n{seen}");
            };
            server.url = format!("http://{}", address.trim_start_matches("http://"));
            return server;
        }
    }

    /// Its instances are left running when it is dropped: another worker
    /// adopts them.
    pub fn leaving_instances(mut self) -> Server {
        self.runtime_dir = None;
        self
    }

    /// What it printed so far.
    pub fn output(&self) -> Vec<String> {
        self.lines.lock().unwrap().clone()
    }

    /// Its last `count` lines, one string.
    pub fn tail(&self, count: usize) -> String {
        let lines = self.lines.lock().unwrap();
        lines[lines.len().saturating_sub(count)..].join("\n")
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }
}

/// Where the runtime of `slipway dev` / `slipway server worker` started by
/// `command` records its instances: under `SLIPWAY_DATA_DIR`, else under
/// the default `.slipway` in its working directory.
fn runtime_dir(command: &Command) -> Option<PathBuf> {
    let args: Vec<_> = command.get_args().collect();
    let runs_instances = args.first().is_some_and(|a| *a == "dev")
        || (args.first().is_some_and(|a| *a == "server")
            && args.get(1).is_some_and(|a| *a == "worker"));
    if !runs_instances {
        return None;
    }
    let set = command
        .get_envs()
        .find(|(key, _)| *key == "SLIPWAY_DATA_DIR")
        .and_then(|(_, value)| value.map(PathBuf::from));
    let data = set.unwrap_or_else(|| PathBuf::from(".slipway"));
    let data = match command.get_current_dir() {
        Some(cwd) if data.is_relative() => cwd.join(data),
        _ => data,
    };
    Some(data.join("runtime"))
}

/// SIGKILLs the process group of every instance recorded under `dir`
/// (`instances/*.json`, whose `pid` leads the group) and forgets it, unless
/// that pid now belongs to another process.
pub fn kill_instances(dir: &Path) {
    let Ok(entries) = std::fs::read_dir(dir.join("instances")) else {
        return;
    };
    for path in entries.filter_map(|e| Some(e.ok()?.path())) {
        let Some(record) = std::fs::read(&path)
            .ok()
            .and_then(|bytes| serde_json::from_slice::<Value>(&bytes).ok())
        else {
            continue;
        };
        let Some(pid) = record["pid"].as_i64().filter(|pid| *pid > 1) else {
            continue;
        };
        // A leader that exited leaves its group id unused by new processes
        // while members live on, so only a live leader of another start
        // time means the pid (and group) is someone else's now.
        let recorded = record["start_time"].as_u64();
        if matches!((start_time(pid), recorded), (Some(now), Some(then)) if now != then) {
            continue;
        }
        kill("KILL", &format!("-{pid}"));
        let _ = std::fs::remove_file(&path);
    }
}

/// Field 22 of `/proc/<pid>/stat` (after the parenthesised command name).
fn start_time(pid: i64) -> Option<u64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let (_, rest) = stat.rsplit_once(')')?;
    rest.split_whitespace().nth(19)?.parse().ok()
}

/// `kill -s SIGNAL -- TARGET` (a pid, or `-pgid` for a process group).
pub fn kill(signal: &str, target: &str) -> bool {
    Command::new("kill")
        .args(["-s", signal, "--", target])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

/// A Redis server of its own (so a test may FLUSHALL), killed when dropped.
pub struct Redis {
    pub child: Child,
    pub url: String,
}

impl Drop for Redis {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Redis {
    pub fn start() -> Redis {
        let port = free_port();
        let child = Command::new("redis-server")
            .args(["--port", &port.to_string(), "--bind", "127.0.0.1"])
            .args(["--save", "", "--appendonly", "no"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("redis-server must be installed (scripts/services installs it)");
        let redis = Redis {
            child,
            url: format!("redis://127.0.0.1:{port}"),
        };
        let deadline = Instant::now() + Duration::from_secs(10);
        while redis.command("PING") != "+PONG" {
            assert!(
                Instant::now() < deadline,
                "redis-server did not start on port {port}"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
        redis
    }

    /// Sends one inline command; returns the first reply line ("" when
    /// Redis does not answer).
    pub fn command(&self, command: &str) -> String {
        let addr = self.url.trim_start_matches("redis://");
        let Ok(mut stream) = TcpStream::connect(addr) else {
            return String::new();
        };
        let _ = stream.set_read_timeout(Some(Duration::from_secs(5)));
        let _ = stream.write_all(format!("{command}\r\n").as_bytes());
        let mut reply = [0u8; 256];
        let n = stream.read(&mut reply).unwrap_or(0);
        String::from_utf8_lossy(&reply[..n]).trim().to_owned()
    }
}

pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// Starts `command` as [`Server::start`] does; also returns what it printed
/// until it was ready.
pub fn start(command: Command, ready: &str, marker: &str) -> (Server, Vec<String>) {
    let server = Server::start(command, ready, marker);
    let seen = server.output();
    (server, seen)
}
