//! wrk as a child process: a Lua script whose `done` prints one JSON line of
//! figures, parsed into a [`WrkRun`].

use serde::Deserialize;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;
use tokio::process::{Child, Command};

/// Marks the line the script's `done` prints among wrk's own report.
const MARK: &str = "SLIPWAY_WRK ";

/// Counts answers outside 2xx per thread (wrk's own `status` error only
/// counts those above 399), paces each connection when `delay_ms` is set
/// (the `DELAY_MS` placeholder), and prints the figures as JSON.
const SCRIPT: &str = r#"
non2xx = 0
local threads = {}

function setup(thread)
  table.insert(threads, thread)
end

function response(status, headers, body)
  if status < 200 or status > 299 then
    non2xx = non2xx + 1
  end
end

DELAY

function done(summary, latency, requests)
  local bad = 0
  for _, thread in ipairs(threads) do
    bad = bad + thread:get("non2xx")
  end
  local e = summary.errors
  io.write(string.format(
    'MARK{"requests":%.0f,"duration_us":%.0f,"connect":%.0f,"read":%.0f,"write":%.0f,' ..
    '"status":%.0f,"timeout":%.0f,"non2xx":%.0f,"p50_us":%.0f,"p99_us":%.0f,"max_us":%.0f}\n',
    summary.requests, summary.duration, e.connect, e.read, e.write, e.status, e.timeout,
    bad, latency:percentile(50), latency:percentile(99), latency.max))
end
"#;

/// What one wrk run measured; times in microseconds.
#[derive(Clone, Copy, Debug, Deserialize)]
pub struct WrkRun {
    pub requests: u64,
    pub duration_us: u64,
    pub connect: u64,
    pub read: u64,
    pub write: u64,
    /// wrk's own count of answers above 399 (included in `non2xx`).
    pub status: u64,
    pub timeout: u64,
    /// Answers outside 2xx.
    pub non2xx: u64,
    pub p50_us: f64,
    pub p99_us: f64,
    pub max_us: f64,
}

impl WrkRun {
    pub fn per_second(&self) -> f64 {
        self.requests as f64 / (self.duration_us as f64 / 1e6)
    }

    /// Socket errors (connect, read, write, timeout).
    pub fn socket_errors(&self) -> u64 {
        self.connect + self.read + self.write + self.timeout
    }

    /// Requests that failed: socket errors and answers outside 2xx.
    pub fn failed(&self) -> u64 {
        self.socket_errors() + self.non2xx
    }
}

/// How to load: the same for every run of one benchmark.
#[derive(Clone, Copy, Debug)]
pub struct Load {
    pub threads: u32,
    pub connections: u32,
    pub duration: Duration,
    /// A pause after each answer on each connection, to bound the rate.
    pub delay_ms: Option<u64>,
}

/// The path of wrk on `$PATH`; panics naming the script that installs it.
pub fn find() -> PathBuf {
    std::env::var_os("PATH")
        .iter()
        .flat_map(std::env::split_paths)
        .map(|dir| dir.join("wrk"))
        .find(|p| p.is_file())
        .expect("wrk is not installed: run scripts/bench-router (it installs wrk), or apt-get install wrk")
}

/// Writes the script for `load` into `dir`.
pub fn script(dir: &Path, load: &Load) -> PathBuf {
    let delay = match load.delay_ms {
        Some(ms) => format!("function delay()\n  return {ms}\nend"),
        None => String::new(),
    };
    let path = dir.join(format!("load-{}.lua", load.delay_ms.unwrap_or(0)));
    let text = SCRIPT.replace("DELAY", &delay).replace("MARK", MARK);
    let mut file = std::fs::File::create(&path).expect("create the wrk script");
    file.write_all(text.as_bytes())
        .expect("write the wrk script");
    path
}

/// A wrk run under way; killed if dropped before [`Running::finish`].
pub struct Running {
    child: Child,
    what: String,
}

/// Starts wrk on `url` (with `Host: host` when given) under `load`.
pub fn start(wrk: &Path, script: &Path, load: &Load, url: &str, host: Option<&str>) -> Running {
    let mut command = Command::new(wrk);
    command
        .arg(format!("-t{}", load.threads))
        .arg(format!("-c{}", load.connections))
        .arg(format!("-d{}s", load.duration.as_secs()))
        .args(["--timeout", "2s", "--latency", "-s"])
        .arg(script);
    if let Some(host) = host {
        command.arg("-H").arg(format!("Host: {host}"));
    }
    command
        .arg(url)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true);
    let child = command.spawn().expect("start wrk");
    Running {
        child,
        what: format!("wrk on {url}"),
    }
}

impl Running {
    /// Waits for wrk to end and reads its figures; panics with its output
    /// when it failed or printed none.
    pub async fn finish(self) -> WrkRun {
        let output = self.child.wait_with_output().await.expect("wait for wrk");
        let stdout = String::from_utf8_lossy(&output.stdout);
        let stderr = String::from_utf8_lossy(&output.stderr);
        let line = stdout.lines().find_map(|l| l.strip_prefix(MARK));
        match (output.status.success(), line) {
            (true, Some(line)) => serde_json::from_str(line)
                .unwrap_or_else(|e| panic!("{}: unreadable figures {line:?}: {e}", self.what)),
            _ => panic!(
                "{} failed ({}):\n{stdout}\n{stderr}",
                self.what, output.status
            ),
        }
    }
}
