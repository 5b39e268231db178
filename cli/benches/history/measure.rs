//! Timing API calls: sequential requests over one kept-alive connection,
//! the two apps taking turns (which goes first alternates), so both see the
//! same machine; a warm-up whose answers are checked, then the timed runs.

use super::server::{Api, TOKEN};
use serde_json::Value;
use std::time::Instant;

/// Requests per app and call before timing (their answers are checked).
pub(crate) const WARM_UP: usize = 50;
/// Timed requests per app and call.
pub(crate) const RUNS: usize = 500;

/// One call of the API, on each app: the paths it cycles through (the
/// same call on different rows) and a check of an answer.
pub(crate) struct Call {
    pub(crate) name: &'static str,
    /// Per app (big, small).
    pub(crate) paths: [Vec<String>; 2],
    /// Per app: what is wrong with an answer to the path at that index.
    #[allow(clippy::type_complexity)]
    pub(crate) check: Box<dyn Fn(usize, usize, &Value) -> Result<(), String>>,
}

/// Latencies of one call, in microseconds, sorted: (big, small).
pub(crate) struct Timings {
    pub(crate) name: &'static str,
    pub(crate) apps: [Vec<f64>; 2],
}

pub(crate) fn percentile(sorted: &[f64], p: f64) -> f64 {
    let rank = ((sorted.len() as f64 * p).ceil() as usize).clamp(1, sorted.len());
    sorted[rank - 1]
}

pub(crate) async fn run(api: &Api, calls: &[Call]) -> Vec<Timings> {
    let http = reqwest::Client::builder()
        .pool_max_idle_per_host(1)
        .build()
        .unwrap();
    let mut results = Vec::new();
    for call in calls {
        let mut apps: [Vec<f64>; 2] = [Vec::with_capacity(RUNS), Vec::with_capacity(RUNS)];
        for round in 0..WARM_UP + RUNS {
            let order = if round % 2 == 0 { [0, 1] } else { [1, 0] };
            for app in order {
                let paths = &call.paths[app];
                let index = round % paths.len();
                let url = format!("{}{}", api.url, paths[index]);
                let started = Instant::now();
                let answer = http.get(&url).bearer_auth(TOKEN).send().await;
                let answer = match answer {
                    Ok(answer) => answer,
                    Err(e) => api.fail(&format!("GET {}: {e}", paths[index])),
                };
                let status = answer.status();
                let body = answer.bytes().await;
                let took = started.elapsed().as_secs_f64() * 1e6;
                let body = body.unwrap_or_default();
                if status != 200 {
                    let text = String::from_utf8_lossy(&body);
                    api.fail(&format!("GET {}: {status}: {text}", paths[index]));
                }
                if round < WARM_UP {
                    let value: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
                    if let Err(wrong) = (call.check)(app, index, &value) {
                        api.fail(&format!("GET {}: {wrong}: {value}", paths[index]));
                    }
                } else {
                    apps[app].push(took);
                }
            }
        }
        for latencies in &mut apps {
            latencies.sort_by(f64::total_cmp);
        }
        println!("  {}: done", call.name);
        results.push(Timings {
            name: call.name,
            apps,
        });
    }
    results
}

/// Prints p50/p99 per call and app and the goal (p99 on big within
/// `factor` of p99 on small); whether every call met it.
pub(crate) fn table(timings: &[Timings], factor: f64) -> bool {
    let ms = |us: f64| format!("{:.2} ms", us / 1e3);
    println!(
        "\n  {:<26} {:>10} {:>10} {:>10} {:>10} {:>10}  goal",
        "call", "small p50", "small p99", "big p50", "big p99", "p99 ratio"
    );
    let mut met = true;
    for t in timings {
        let [big, small] = &t.apps;
        let ratio = percentile(big, 0.99) / percentile(small, 0.99);
        let ok = ratio <= factor;
        met &= ok;
        println!(
            "  {:<26} {:>10} {:>10} {:>10} {:>10} {:>9.2}×  ≤ {factor:.1}×{}",
            t.name,
            ms(percentile(small, 0.5)),
            ms(percentile(small, 0.99)),
            ms(percentile(big, 0.5)),
            ms(percentile(big, 0.99)),
            ratio,
            if ok { "" } else { " MISSED" }
        );
    }
    met
}
