//! wrk as a child process, one run a round, with a Lua script per endpoint
//! and round: each request's method, path, headers (the admin token; an
//! `Idempotency-Key` of its own on writes, as the CLI sends) and body;
//! `done` prints one JSON line of figures, wrk's latency histogram in it.

use super::server::{TOKEN, WRITE_APPS};
use super::Round;
use serde::Deserialize;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

/// Marks the line the script's `done` prints among wrk's own report.
const MARK: &str = "SLIPWAY_WRK ";

/// Numbers each thread (`id`, from 0) and each of its requests (`counter`,
/// from 0): request `n` is `FIRST + counter * THREADS + id`, so no number
/// repeats in a run, nor across runs when each starts at the `next` the
/// one before printed. Counts answers outside 2xx, and prints the figures
/// as JSON. `REQUEST` is the endpoint's part.
///
/// In `done`, `latency` is wrk's histogram of whole microseconds: `#latency`
/// is how many of its values were seen, `latency(i)` the `i`th of them
/// (from the smallest) and how many times it was (wrk 4's `src/script.c`,
/// `script_stats_len` and `script_stats_call`; `latency[i]` is no bucket).
const SCRIPT: &str = r#"
local threads = {}
counter = 0
non2xx = 0

function setup(thread)
  thread:set("id", #threads)
  table.insert(threads, thread)
end

function next_n()
  local n = FIRST + counter * THREADS + (id or 0)
  counter = counter + 1
  return n
end

function release(kind, n)
  local s = ""
  for i = 1, 9 do
    s = string.char(65 + n % 26) .. s
    n = math.floor(n / 26)
  end
  return "R" .. kind .. s
end

function headers(n, body)
  local h = { ["Authorization"] = "Bearer TOKEN" }
  if body then
    h["Content-Type"] = "application/json"
  end
  h["Idempotency-Key"] = "bench-ENDPOINT-" .. n
  return h
end

REQUEST

function response(status, headers, body)
  if status < 200 or status > 299 then
    non2xx = non2xx + 1
    if non2xx <= 3 then
      io.stderr:write("answer " .. status .. ": " .. string.sub(body, 1, 300) .. "\n")
    end
  end
end

function done(summary, latency, requests)
  local bad, counted = 0, 0
  for _, thread in ipairs(threads) do
    bad = bad + thread:get("non2xx")
    counted = math.max(counted, thread:get("counter"))
  end
  local buckets = {}
  for i = 1, #latency do
    local us, count = latency(i)
    buckets[i] = string.format("[%.0f,%.0f]", us, count)
  end
  local e = summary.errors
  io.write(string.format(
    'MARK{"requests":%.0f,"duration_us":%.0f,"connect":%.0f,"read":%.0f,"write":%.0f,' ..
    '"timeout":%.0f,"non2xx":%.0f,"next":%.0f,"latency":[%s]}\n',
    summary.requests, summary.duration, e.connect, e.read, e.write, e.timeout,
    bad, FIRST + counted * THREADS, table.concat(buckets, ",")))
end
"#;

/// The endpoints under load.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Endpoint {
    Healthz,
    Builds,
    Env,
    Promote,
    Releases,
}

impl Endpoint {
    pub fn label(self) -> &'static str {
        match self {
            Endpoint::Healthz => "GET /healthz",
            Endpoint::Builds => "POST /apps/{app}/builds",
            Endpoint::Env => "PATCH /apps/{app}/env",
            Endpoint::Promote => "POST /apps/{app}/releases/{id}/promote",
            Endpoint::Releases => "GET /apps/{app}/releases",
        }
    }

    fn short(self) -> &'static str {
        match self {
            Endpoint::Healthz => "healthz",
            Endpoint::Builds => "builds",
            Endpoint::Env => "env",
            Endpoint::Promote => "promote",
            Endpoint::Releases => "releases",
        }
    }

    /// The Lua `request` function.
    fn request(self) -> String {
        let apps = WRITE_APPS;
        let body = match self {
            Endpoint::Healthz => {
                return r#"function request() return wrk.format("GET", "/healthz") end"#.into()
            }
            Endpoint::Releases => {
                return format!(
                    r#"function request()
  local n = next_n()
  return wrk.format("GET", "/apps/w-" .. (n % {apps}) .. "/releases",
    {{ ["Authorization"] = "Bearer TOKEN" }})
end"#
                )
            }
            Endpoint::Builds => {
                let build = serde_json::json!({ "manifest": super::server::manifest() });
                let build = build.to_string().replace('\\', "\\\\").replace('"', "\\\"");
                format!(
                    r#"local n = next_n()
  local body = "{build}"
  return wrk.format("POST", "/apps/w-" .. (n % {apps}) .. "/builds", headers(n, body), body)"#
                )
            }
            // A value of its own each time: every change makes a release.
            Endpoint::Env => format!(
                r#"local n = next_n()
  local body = '{{"set":{{"BENCH_VALUE":"v' .. n .. '"}}}}'
  return wrk.format("PATCH", "/apps/w-" .. (n % {apps}) .. "/env", headers(n, body), body)"#
            ),
            // An app of its own each time: one open deployment per app.
            Endpoint::Promote => r#"local n = next_n()
  local path = "/apps/pa-" .. n .. "/releases/" .. release("A", n) .. "/promote"
  return wrk.format("POST", path, headers(n, nil), nil)"#
                .to_owned(),
        };
        format!("function request()\n  {body}\nend")
    }
}

/// The figures the script's `done` prints; times in microseconds.
#[derive(Deserialize)]
struct Figures {
    requests: u64,
    duration_us: u64,
    connect: u64,
    read: u64,
    write: u64,
    timeout: u64,
    /// Answers outside 2xx.
    non2xx: u64,
    /// The first request number the next run may use.
    next: usize,
    /// `[value, count]` for each latency seen, from the smallest.
    latency: Vec<(u64, u64)>,
}

/// The load of every round.
#[derive(Clone, Copy, Debug)]
pub struct Load {
    pub threads: u32,
    pub connections: u32,
    pub duration: Duration,
}

/// The path of wrk on `$PATH`; panics naming the script that installs it.
pub fn find() -> PathBuf {
    std::env::var_os("PATH")
        .iter()
        .flat_map(std::env::split_paths)
        .map(|dir| dir.join("wrk"))
        .find(|p| p.is_file())
        .expect("wrk is not installed: run scripts/bench-api (it installs wrk)")
}

/// Writes the script of `endpoint` into `dir`, numbering from `first`.
fn script(dir: &Path, endpoint: Endpoint, load: &Load, first: usize) -> PathBuf {
    let path = dir.join(format!("{}.lua", endpoint.short()));
    let text = SCRIPT
        .replace("REQUEST", &endpoint.request())
        .replace("FIRST", &first.to_string())
        .replace("THREADS", &load.threads.to_string())
        .replace("TOKEN", TOKEN)
        .replace("MARK", MARK)
        .replace("ENDPOINT", endpoint.short());
    std::fs::write(&path, text).expect("write the wrk script");
    path
}

/// One round: wrk with `endpoint`'s script on `url` under `load`, its
/// requests numbered from `*next`, which it leaves past the last number
/// used. Panics with wrk's output when it failed or printed no figures.
pub fn run(
    wrk: &Path,
    dir: &Path,
    endpoint: Endpoint,
    load: &Load,
    url: &str,
    next: &mut usize,
) -> Round {
    let script = script(dir, endpoint, load, *next);
    let output = Command::new(wrk)
        .arg(format!("-t{}", load.threads))
        .arg(format!("-c{}", load.connections))
        .arg(format!("-d{}s", load.duration.as_secs()))
        .args(["--timeout", "5s", "--latency", "-s"])
        .arg(script)
        .arg(url)
        .stdin(Stdio::null())
        .output()
        .expect("run wrk");
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    if !stderr.trim().is_empty() {
        eprintln!("  wrk: {}", stderr.trim().replace('\n', "\n  wrk: "));
    }
    let line = stdout.lines().find_map(|l| l.strip_prefix(MARK));
    let figures: Figures = match (output.status.success(), line) {
        (true, Some(line)) => serde_json::from_str(line)
            .unwrap_or_else(|e| panic!("wrk: unreadable figures {line:?}: {e}")),
        _ => panic!(
            "wrk on {url} failed ({}):\n{stdout}\n{stderr}",
            output.status
        ),
    };
    *next = figures.next;
    Round {
        requests: figures.requests,
        duration: Duration::from_micros(figures.duration_us),
        errors: figures.non2xx + figures.connect + figures.read + figures.write + figures.timeout,
        latencies: figures.latency.into_iter().collect(),
    }
}
