//! What the bench reads of processes from `/proc`: the resident memory of
//! the workers (idle, and the peak while sampled), the CPU time they used,
//! and whether any process of an instance's group is still alive.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// `VmRSS` of `pid` in KB; `None` once it is gone.
pub(crate) fn rss_kb(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let line = status.lines().find(|l| l.starts_with("VmRSS:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

/// User and system CPU time `pid` used so far, in seconds (clock ticks of
/// 1/100 s, as Linux reports them to every process here).
pub(crate) fn cpu_seconds(pid: u32) -> f64 {
    let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else {
        return 0.0;
    };
    // After the parenthesised name, utime and stime are the 12th and 13th fields.
    let Some((_, rest)) = stat.rsplit_once(')') else {
        return 0.0;
    };
    let ticks: u64 = rest
        .split_whitespace()
        .skip(11)
        .take(2)
        .filter_map(|t| t.parse::<u64>().ok())
        .sum();
    ticks as f64 / 100.0
}

/// The median `VmRSS` of each of `pids` over `period`, sampled every 10 ms.
pub(crate) async fn idle_kb(pids: &[u32], period: Duration) -> Vec<u64> {
    let mut samples: Vec<Vec<u64>> = vec![Vec::new(); pids.len()];
    let until = Instant::now() + period;
    while Instant::now() < until {
        for (pid, samples) in pids.iter().zip(&mut samples) {
            samples.extend(rss_kb(*pid));
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    samples
        .into_iter()
        .map(|mut s| {
            s.sort_unstable();
            s.get(s.len() / 2).copied().unwrap_or(0)
        })
        .collect()
}

/// Samples the `VmRSS` of processes every 5 ms on a thread of its own
/// until stopped, keeping each one's peak.
pub(crate) struct Peak {
    stop: Arc<AtomicBool>,
    thread: JoinHandle<Vec<u64>>,
}

impl Peak {
    pub(crate) fn start(pids: &[u32]) -> Peak {
        let stop = Arc::new(AtomicBool::new(false));
        let (pids, stopped) = (pids.to_vec(), stop.clone());
        let thread = std::thread::spawn(move || {
            let mut peaks = vec![0; pids.len()];
            while !stopped.load(Ordering::Relaxed) {
                for (pid, peak) in pids.iter().zip(&mut peaks) {
                    *peak = rss_kb(*pid).unwrap_or(0).max(*peak);
                }
                std::thread::sleep(Duration::from_millis(5));
            }
            peaks
        });
        Peak { stop, thread }
    }

    /// Each process's peak in KB.
    pub(crate) fn stop(self) -> Vec<u64> {
        self.stop.store(true, Ordering::Relaxed);
        self.thread.join().expect("the sampler")
    }
}

/// The processes still alive (not zombies) in the process groups `groups`.
pub(crate) fn alive_in_groups(groups: &[i64]) -> Vec<(i64, i64)> {
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    let mut alive = Vec::new();
    for entry in entries.filter_map(Result::ok) {
        let Some(pid) = entry
            .file_name()
            .to_str()
            .and_then(|n| n.parse::<i64>().ok())
        else {
            continue;
        };
        let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else {
            continue;
        };
        // After the parenthesised name: state, ppid, pgrp, ...
        let Some((_, rest)) = stat.rsplit_once(')') else {
            continue;
        };
        let fields: Vec<&str> = rest.split_whitespace().collect();
        let (Some(state), Some(group)) = (fields.first(), fields.get(2)) else {
            continue;
        };
        let group: i64 = group.parse().unwrap_or(0);
        if *state != "Z" && groups.contains(&group) {
            alive.push((pid, group));
        }
    }
    alive
}
