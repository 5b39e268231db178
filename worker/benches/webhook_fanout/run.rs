//! One run of the scenario on a fresh schema: webhooks, delivery loops,
//! the paced writer, the wait, then the checks and figures.

use super::receiver::{CountingReceiver, Tally};
use chrono::{DateTime, Utc};
use slipway_core::domain::{AppName, DeliveryStatus, EventPattern, WebhookId, WebhookKind};
use slipway_core::seal::Keyring;
use slipway_core::store::{Backend, NewWebhook, Store};
use slipway_core::testing::TestDatabase;
use slipway_worker::webhooks::{Deliverer, DeliveryConfig};
use std::collections::HashMap;
use std::time::{Duration, Instant};

/// Longest wait for the last outcome after the last event is written.
const DRAIN_LIMIT: Duration = Duration::from_secs(180);
/// Connections per worker's pool, as `SLIPWAY_DATABASE_POOL_SIZE` defaults.
const WORKER_POOL: u32 = 10;

pub struct Scenario {
    pub webhooks: usize,
    pub events: usize,
    /// 0: as fast as one writer goes.
    pub events_per_second: usize,
}

pub struct Latency {
    pub p50: Duration,
    pub p99: Duration,
    pub max: Duration,
}

pub struct Outcome {
    pub events: usize,
    pub delivered: usize,
    pub writing: Duration,
    /// First event's commit to the last outcome recorded.
    pub elapsed: Duration,
    pub per_second: f64,
    pub latency: Latency,
    pub tally: Tally,
    pub memory_before: String,
    pub memory_peak: String,
    /// Missing, duplicated, failed or retried deliveries, in words.
    pub problems: Vec<String>,
}

fn text(err: impl std::fmt::Display) -> String {
    err.to_string()
}

pub async fn once(scenario: &Scenario, loops: usize) -> Result<Outcome, String> {
    let db = TestDatabase::new(Backend::Postgres);
    let store = db.store();
    let receiver = CountingReceiver::start().await.map_err(text)?;
    let mut hooks: Vec<WebhookId> = Vec::new();
    for n in 0..scenario.webhooks {
        let new = NewWebhook {
            url: receiver.url(n),
            kind: WebhookKind::Generic,
            events: vec![EventPattern::parse("*").map_err(text)?],
            apps: vec![],
            description: format!("fan-out {n}"),
        };
        hooks.push(store.create_webhook(&new, "bench").map_err(text)?.0.id);
    }

    reset_peak_memory();
    let memory_before = memory("VmRSS");
    let (stop, stopped) = tokio::sync::watch::channel(false);
    let mut tasks = Vec::new();
    for k in 0..loops {
        let keyring = Keyring::from_base64(db.secret_key(), None).map_err(text)?;
        let worker_store = Store::connect(db.url(), WORKER_POOL)
            .map_err(text)?
            .with_keyring(keyring);
        let config = DeliveryConfig {
            allow_private: true, // the receiver is on 127.0.0.1
            ..DeliveryConfig::default()
        };
        let deliverer =
            Deliverer::new(worker_store, config, format!("fanout-worker-{k}")).map_err(text)?;
        let mut stopped = stopped.clone();
        tasks.push(tokio::spawn(deliverer.run(async move {
            let _ = stopped.wait_for(|stop| *stop).await;
        })));
    }

    let (events, pace) = (scenario.events, scenario.events_per_second);
    let writer = store.clone();
    let commits = tokio::task::spawn_blocking(move || write_events(&writer, events, pace))
        .await
        .map_err(text)??;
    let writing = (commits[commits.len() - 1].1 - commits[0].1)
        .to_std()
        .unwrap_or_default();

    let expected = scenario.webhooks * scenario.events;
    let drained = wait_drained(&store, &receiver, expected).await;
    let _ = stop.send(true);
    for task in tasks {
        let _ = task.await;
    }
    let memory_peak = memory("VmHWM");
    drained?;
    let tally = receiver.tally();

    let checked = {
        let store = store.clone();
        tokio::task::spawn_blocking(move || check(&store, &hooks, events))
            .await
            .map_err(text)??
    };
    let mut problems = checked.problems;
    if tally.total != expected || tally.distinct != expected {
        problems.push(format!(
            "the receiver got {} requests for {} distinct deliveries, expected exactly {expected}",
            tally.total, tally.distinct
        ));
    }
    if tally.duplicated > 0 || tally.strays > 0 {
        problems.push(format!(
            "{} deliveries received more than once, {} requests to no webhook",
            tally.duplicated, tally.strays
        ));
    }
    let app_commits: HashMap<String, DateTime<Utc>> = commits.into_iter().collect();
    let first = app_commits.values().min().copied().unwrap_or_else(Utc::now);
    let last = checked.last.values().max().copied().unwrap_or(first);
    let elapsed = (last - first).to_std().unwrap_or_default();
    let mut latencies: Vec<Duration> = Vec::new();
    for (event_app, done) in checked
        .last
        .iter()
        .filter_map(|(event, done)| checked.apps.get(event).map(|app| (app, done)))
    {
        match app_commits.get(event_app) {
            Some(commit) => latencies.push((*done - *commit).to_std().unwrap_or_default()),
            None => problems.push(format!("an event of an unknown app {event_app}")),
        }
    }
    latencies.sort();
    if latencies.len() != events {
        problems.push(format!(
            "{} of {events} events were delivered everywhere",
            latencies.len()
        ));
    }
    let at = |q: f64| {
        latencies
            .get(((latencies.len() as f64 * q).ceil() as usize).saturating_sub(1))
            .copied()
            .unwrap_or_default()
    };
    Ok(Outcome {
        events,
        delivered: checked.delivered,
        writing,
        elapsed,
        per_second: checked.delivered as f64 / elapsed.as_secs_f64().max(1e-9),
        latency: Latency {
            p50: at(0.50),
            p99: at(0.99),
            max: latencies.last().copied().unwrap_or_default(),
        },
        tally,
        memory_before,
        memory_peak,
        problems,
    })
}

/// Creates `events` apps (one `app.created` each), `pace` a second or as
/// fast as it goes; returns each app's name and when its commit returned.
fn write_events(
    store: &Store,
    events: usize,
    pace: usize,
) -> Result<Vec<(String, DateTime<Utc>)>, String> {
    let started = Instant::now();
    let mut commits = Vec::with_capacity(events);
    for i in 0..events {
        if pace > 0 {
            let due = started + Duration::from_secs_f64(i as f64 / pace as f64);
            std::thread::sleep(due.saturating_duration_since(Instant::now()));
        }
        let name = format!("fanout-{i}");
        let app = AppName::parse(&name).map_err(text)?;
        store.create_app(&app, None, "bench").map_err(text)?;
        commits.push((name, Utc::now()));
    }
    if commits.is_empty() {
        return Err("no events to write".into());
    }
    Ok(commits)
}

/// Waits until the receiver has every request and no delivery is pending.
async fn wait_drained(
    store: &Store,
    receiver: &CountingReceiver,
    expected: usize,
) -> Result<(), String> {
    let deadline = Instant::now() + DRAIN_LIMIT;
    loop {
        if receiver.total() >= expected {
            let reader = store.clone();
            let pending = tokio::task::spawn_blocking(move || reader.count_pending_deliveries())
                .await
                .map_err(text)?
                .map_err(text)?;
            if pending == 0 {
                return Ok(());
            }
        }
        if Instant::now() > deadline {
            return Err(format!(
                "not drained {} s after the last event: the receiver saw {} of {expected}",
                DRAIN_LIMIT.as_secs(),
                receiver.total()
            ));
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

struct Checked {
    delivered: usize,
    /// Event id → app, for the events written.
    apps: HashMap<String, String>,
    /// Event id → its last delivery's outcome.
    last: HashMap<String, DateTime<Utc>>,
    problems: Vec<String>,
}

/// Every webhook has one delivered delivery per event, each in one attempt.
fn check(store: &Store, hooks: &[WebhookId], events: usize) -> Result<Checked, String> {
    let apps = store
        .list_events(None)
        .map_err(text)?
        .into_iter()
        .map(|e| (e.id.as_str().to_owned(), e.app))
        .collect();
    let mut checked = Checked {
        delivered: 0,
        apps,
        last: HashMap::new(),
        problems: Vec::new(),
    };
    let (mut not_delivered, mut retried) = (0, 0);
    for hook in hooks {
        let log = store
            .list_deliveries(hook, (events * 2) as i64)
            .map_err(text)?;
        if log.len() != events {
            checked.problems.push(format!(
                "webhook {hook} has {} deliveries, not {events}",
                log.len()
            ));
        }
        for delivery in log {
            match (delivery.status, delivery.delivered_at) {
                (DeliveryStatus::Delivered, Some(at)) => {
                    checked.delivered += 1;
                    let last = checked
                        .last
                        .entry(delivery.event.as_str().to_owned())
                        .or_insert(at);
                    *last = (*last).max(at);
                }
                _ => not_delivered += 1,
            }
            if delivery.attempts != 1 {
                retried += 1;
            }
        }
    }
    if not_delivered > 0 || retried > 0 {
        checked.problems.push(format!(
            "{not_delivered} deliveries not delivered, {retried} took more than one attempt"
        ));
    }
    Ok(checked)
}

/// Starts a new peak for `VmHWM` (Linux: 5 to clear_refs).
fn reset_peak_memory() {
    let _ = std::fs::write("/proc/self/clear_refs", "5");
}

/// A line of /proc/self/status, e.g. `VmHWM` (peak resident memory).
fn memory(field: &str) -> String {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|status| {
            status.lines().find_map(|l| {
                l.strip_prefix(&format!("{field}:"))
                    .map(|v| v.trim().to_owned())
            })
        })
        .unwrap_or_else(|| "unknown".into())
}
