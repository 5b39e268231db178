//! The processes a test starts, and making sure each one ends with the
//! test, also when it fails: servers (with the app instances their local
//! runtime started) and a Redis of the test's own, killed when dropped.

use serde_json::Value;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

/// A running server process. Dropped (also when a test fails), it is
/// SIGKILLed, and so is every instance its local runtime recorded: a killed
/// `dev` or `server worker` cannot stop them itself.
pub struct Server {
    pub child: Child,
    pub url: String,
    /// The local runtime's state dir (`<data dir>/runtime`) of a `dev` or
    /// `server worker`; `None` for servers that run no instances.
    runtime_dir: Option<PathBuf>,
}

impl Server {
    /// `child`, started from `command`, listening on `url`.
    pub fn new(child: Child, url: String, command: &Command) -> Server {
        Server {
            child,
            url,
            runtime_dir: runtime_dir(command),
        }
    }
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
        let _ = Command::new("kill")
            .args(["-KILL", "--", &format!("-{pid}")])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status();
        let _ = std::fs::remove_file(&path);
    }
}

/// Field 22 of `/proc/<pid>/stat` (after the parenthesised command name).
fn start_time(pid: i64) -> Option<u64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let (_, rest) = stat.rsplit_once(')')?;
    rest.split_whitespace().nth(19)?.parse().ok()
}

/// Starts the command and waits for a line (on stdout or stderr) holding
/// `ready`; the address it listens on follows `marker` on a line seen by then.
pub fn start(mut command: Command, ready: &str, marker: &str) -> (Server, Vec<String>) {
    let mut child = command
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run slipway");
    let (tx, rx) = mpsc::channel();
    for stream in [
        Box::new(child.stdout.take().unwrap()) as Box<dyn std::io::Read + Send>,
        Box::new(child.stderr.take().unwrap()),
    ] {
        let tx = tx.clone();
        std::thread::spawn(move || {
            for line in BufReader::new(stream).lines().map_while(Result::ok) {
                let _ = tx.send(line);
            }
        });
    }
    let mut seen = Vec::new();
    loop {
        let line = rx
            .recv_timeout(Duration::from_secs(30))
            .unwrap_or_else(|_| panic!("no `{marker}` line; output so far: {seen:#?}"));
        seen.push(line.clone());
        if !line.contains(ready) {
            continue;
        }
        let addr = seen
            .iter()
            .find_map(|l| l.split_once(marker))
            .map(|(_, rest)| rest.trim().trim_start_matches("http://").to_owned())
            .unwrap_or_else(|| panic!("no `{marker}` line in {seen:#?}"));
        let url = format!("http://{addr}");
        return (Server::new(child, url, &command), seen);
    }
}

/// A Redis server of the test's own (so a test may FLUSHALL), killed when dropped.
pub struct Redis {
    child: Child,
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
            .args([
                "--port",
                &port.to_string(),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
            ])
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

    /// Sends one inline command; returns the first reply line.
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
