//! Webhook delivery throughput: 10,000 events (one app created each) for one
//! webhook, delivered by one delivery loop to a real HTTP receiver on
//! 127.0.0.1, over PostgreSQL. Prints deliveries per second (first claim to
//! the last outcome recorded) and the process's memory before and at peak.
//!
//! `cargo bench -p slipway-worker --bench webhooks`
//! PostgreSQL from `SLIPWAY_TEST_DATABASE_URL` (see slipway_core::testing);
//! `SLIPWAY_BENCH_EVENTS` overrides the event count.

use slipway_core::domain::{AppName, DeliveryStatus, EventPattern, WebhookKind};
use slipway_core::store::{Backend, NewWebhook};
use slipway_core::testing::{Receiver, TestDatabase};
use slipway_worker::webhooks::{Deliverer, DeliveryConfig};
use std::process::ExitCode;
use std::time::{Duration, Instant};

const GOAL_PER_SECOND: f64 = 1000.0;

fn main() -> ExitCode {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("tokio runtime");
    match runtime.block_on(run()) {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("webhooks: {message}");
            ExitCode::FAILURE
        }
    }
}

async fn run() -> Result<(), String> {
    let events: usize = std::env::var("SLIPWAY_BENCH_EVENTS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(10_000);
    let db = TestDatabase::new(Backend::Postgres);
    let store = db.store();
    let receiver = Receiver::start().await;
    let new = NewWebhook {
        url: receiver.url("/hook"),
        kind: WebhookKind::Generic,
        events: vec![EventPattern::parse("app.created").expect("pattern")],
        apps: vec![],
        description: "bench".into(),
    };
    let (webhook, _) = store
        .create_webhook(&new, "bench")
        .map_err(|e| e.to_string())?;

    let setup = Instant::now();
    let writer = store.clone();
    tokio::task::spawn_blocking(move || {
        for i in 0..events {
            let app = AppName::parse(&format!("bench-{i}")).expect("name");
            writer.create_app(&app, None, "bench").expect("create app");
        }
    })
    .await
    .map_err(|e| e.to_string())?;
    println!(
        "webhooks: {events} events written in {:.1} s; delivering",
        setup.elapsed().as_secs_f64()
    );

    let before = memory("VmRSS");
    let config = DeliveryConfig {
        allow_private: true, // the receiver is on 127.0.0.1
        ..DeliveryConfig::default()
    };
    let (concurrency, per_webhook) = (config.concurrency, config.per_webhook);
    let deliverer =
        Deliverer::new(store.clone(), config, "bench".into()).map_err(|e| e.to_string())?;
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let started = Instant::now();
    let task = tokio::spawn(deliverer.run(async {
        let _ = stopped.await;
    }));
    let deadline = started + Duration::from_secs(300);
    // Cheap in-memory wait first, then the database for the recorded outcomes.
    while receiver.count() < events && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    loop {
        let reader = store.clone();
        let id = webhook.id.clone();
        let log = tokio::task::spawn_blocking(move || reader.list_deliveries(&id, events as i64))
            .await
            .map_err(|e| e.to_string())?
            .map_err(|e| e.to_string())?;
        if log
            .iter()
            .filter(|d| d.status == DeliveryStatus::Delivered)
            .count()
            == events
        {
            break;
        }
        if Instant::now() > deadline {
            return Err(format!(
                "not all delivered within 300 s ({} received)",
                receiver.count()
            ));
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let elapsed = started.elapsed().as_secs_f64();
    let _ = stop.send(());
    let _ = task.await;
    let received = receiver.count();
    let rate = events as f64 / elapsed;
    println!(
        "webhooks: {events} deliveries in {elapsed:.2} s = {rate:.0}/s (goal ≥ {GOAL_PER_SECOND:.0}/s); \
         {per_webhook} in flight (of {concurrency} slots); receiver saw {received} requests"
    );
    println!(
        "webhooks: memory (bench process, receiver included): {} before delivering, peak {}",
        before,
        memory("VmHWM")
    );
    if received != events {
        return Err(format!(
            "expected exactly {events} requests, got {received}"
        ));
    }
    Ok(())
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
