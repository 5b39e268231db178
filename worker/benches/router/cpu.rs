//! Who used the 2 cores during a run, from `/proc`: wrk (a waited-for child
//! of this process, so in its `cutime`), this process (the router, with the
//! engine and the feed idle beside it), the app's instances (by the
//! `SLIPWAY_APP` the runtime puts in their env) and the whole machine.

use std::fmt;
use std::time::Instant;

/// Clock ticks per second in `/proc` (USER_HZ, 100 on Linux).
const HZ: f64 = 100.0;

/// CPU time used so far, in ticks.
#[derive(Clone, Copy, Debug)]
pub struct Sample {
    at: Instant,
    this: u64,
    children: u64,
    app: u64,
    machine_busy: u64,
    machine_all: u64,
}

/// Cores used on average between two samples.
#[derive(Clone, Copy, Debug)]
pub struct Usage {
    /// Children waited for in between: wrk.
    pub wrk: f64,
    pub router: f64,
    pub app: f64,
    pub machine: f64,
}

impl fmt::Display for Usage {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "wrk {:.2} router {:.2} app {:.2} all {:.2}",
            self.wrk, self.router, self.app, self.machine
        )
    }
}

pub fn sample(app: &str) -> Sample {
    let (this, children) = process_ticks("self").unwrap_or_default();
    let app = app_pids(app)
        .iter()
        .filter_map(|pid| process_ticks(&pid.to_string()))
        .map(|(own, _)| own)
        .sum();
    let (machine_busy, machine_all) = machine_ticks();
    Sample {
        at: Instant::now(),
        this,
        children,
        app,
        machine_busy,
        machine_all,
    }
}

impl Sample {
    /// Usage from `self` to `later`.
    pub fn until(&self, later: &Sample) -> Usage {
        let secs = later.at.duration_since(self.at).as_secs_f64();
        let cores = |a: u64, b: u64| b.saturating_sub(a) as f64 / HZ / secs;
        let all = later.machine_all.saturating_sub(self.machine_all).max(1) as f64;
        let cpus = std::thread::available_parallelism().map_or(1, |n| n.get()) as f64;
        Usage {
            wrk: cores(self.children, later.children),
            router: cores(self.this, later.this),
            app: cores(self.app, later.app),
            machine: later.machine_busy.saturating_sub(self.machine_busy) as f64 / all * cpus,
        }
    }
}

/// (utime + stime, cutime + cstime) of a process (`self` or a pid).
fn process_ticks(pid: &str) -> Option<(u64, u64)> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let (_, rest) = stat.rsplit_once(')')?;
    // After the name: state is field 3; utime, stime, cutime, cstime are 14-17.
    let fields: Vec<u64> = rest
        .split_whitespace()
        .skip(11)
        .take(4)
        .filter_map(|f| f.parse().ok())
        .collect();
    match fields[..] {
        [utime, stime, cutime, cstime] => Some((utime + stime, cutime + cstime)),
        _ => None,
    }
}

/// (busy, all) ticks of every CPU from the first line of `/proc/stat`.
fn machine_ticks() -> (u64, u64) {
    let stat = std::fs::read_to_string("/proc/stat").unwrap_or_default();
    let ticks: Vec<u64> = stat
        .lines()
        .next()
        .unwrap_or_default()
        .split_whitespace()
        .skip(1)
        .filter_map(|f| f.parse().ok())
        .collect();
    let all: u64 = ticks.iter().take(8).sum();
    // user nice system idle iowait ...: idle and iowait are not busy.
    let idle = ticks.get(3).copied().unwrap_or(0) + ticks.get(4).copied().unwrap_or(0);
    (all.saturating_sub(idle), all)
}

/// Live processes whose env says `SLIPWAY_APP=<app>`.
fn app_pids(app: &str) -> Vec<i32> {
    let needle = format!("SLIPWAY_APP={app}");
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    entries
        .filter_map(Result::ok)
        .filter_map(|e| e.file_name().to_str()?.parse::<i32>().ok())
        .filter(|pid| {
            std::fs::read(format!("/proc/{pid}/environ"))
                .is_ok_and(|env| env.split(|b| *b == 0).any(|var| var == needle.as_bytes()))
        })
        .collect()
}
