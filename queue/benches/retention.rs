//! Growth, and the retention that bounds it.
//!
//! Redis: 100,000 rollout jobs pushed and finished through the real consumer
//! (4 consumers, as workers run them), then the bytes their keys use
//! (`MEMORY USAGE` of every key of the bench's namespace, summed) before and
//! after a sweep that keeps the last 1,000, and the sweep's duration.
//! Goal: after the sweep, memory within 1,000 x the measured bytes per job
//! plus 64 KiB for the queue's fixed keys.
//!
//! PostgreSQL: 200,000 events and 200,000 deliveries past the retention
//! period (plus young rows and old pending deliveries, which stay), pruned in
//! batches of the default size (`PRUNE_BATCH`): rows a second, and the longest single batch.
//! Goal: the longest batch within 100 ms.
//!
//! `cargo bench -p slipway-queue --bench retention`
//! Redis from `SLIPWAY_TEST_REDIS_URL`, PostgreSQL from
//! `SLIPWAY_TEST_DATABASE_URL` (a key prefix and a schema of the bench's
//! own, deleted on the way out). `SLIPWAY_BENCH_JOBS` and
//! `SLIPWAY_BENCH_ROWS` override the counts. Exits non-zero when a goal is
//! missed or something fails.

use std::process::ExitCode;
use std::time::{Duration, Instant};

use futures_util::{stream, StreamExt};
use redis::aio::ConnectionManager;
use slipway_core::domain::{DeploymentId, EventPattern, RolloutJob, WebhookKind};
use slipway_core::store::{Backend, NewWebhook, DEFAULT_EVENT_RETENTION, PRUNE_BATCH};
use slipway_core::testing::TestDatabase;
use slipway_queue::retention::{sweep_finished, JobRetention};
use slipway_queue::testing::TestRedis;
use slipway_queue::{consume, ConsumerConfig, JobFailed, JobSource};
use tokio::sync::oneshot;

const KEEP: usize = 1_000;
const FIXED_ALLOWANCE: u64 = 64 * 1024;
const GOAL_LONGEST_BATCH: Duration = Duration::from_millis(100);
const CONSUMERS: usize = 4;
/// Jobs pushed before the consumers catch up (see `redis_growth`).
const WAVE: usize = 5_000;

fn main() -> ExitCode {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("tokio runtime");
    let mut failed = false;
    for (name, result) in [
        ("redis", runtime.block_on(redis_growth())),
        ("postgres", runtime.block_on(event_log_prune())),
    ] {
        if let Err(message) = result {
            eprintln!("retention ({name}): {message}");
            failed = true;
        }
    }
    if failed {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    }
}

async fn redis_growth() -> Result<(), String> {
    let jobs = env_number("SLIPWAY_BENCH_JOBS").unwrap_or(100_000);
    let redis = TestRedis::<RolloutJob>::with_prefix("slipway-bench-retention");
    let queue = redis.try_queue().await?;
    let mut conn = queue.as_redis().expect("a Redis queue").connection();
    println!("retention: {jobs} jobs pushed, finished by {CONSUMERS} consumers, then swept to the last {KEEP}");

    // In waves: apalis-redis 1.0 moves every due job of the scheduled set
    // (where it files each push) to the active list in one Lua `unpack`,
    // which fails past about 8,000 ids, so a larger backlog stalls every
    // consumer (seen with 100,000 at once: nothing ran in 8 minutes).
    let started = Instant::now();
    let mut pushed = 0;
    while pushed < jobs {
        let wave = WAVE.min(jobs - pushed);
        stream::iter(0..wave)
            .map(|_| queue.enqueue(RolloutJob::new(DeploymentId::generate(), None)))
            .buffer_unordered(64)
            .collect::<Vec<_>>()
            .await
            .into_iter()
            .collect::<Result<Vec<()>, _>>()
            .map_err(|e| format!("enqueue: {e}"))?;
        pushed += wave;
        finish_all(&redis, pushed).await?;
    }
    let consumed = started.elapsed();
    println!(
        "  pushed and finished in {:.1} s ({:.0} jobs/s through the consumer)",
        consumed.as_secs_f64(),
        jobs as f64 / consumed.as_secs_f64()
    );

    let before = namespace_bytes(&mut conn, &redis.namespace).await?;
    let per_job = before.bytes / jobs as u64;
    let started = Instant::now();
    let retention = JobRetention {
        keep_last: Some(KEEP),
        keep_for: None,
    };
    let swept = sweep_finished(queue.as_redis().expect("Redis"), &retention)
        .await
        .map_err(|e| format!("sweep: {e}"))?;
    let took = started.elapsed();
    let after = namespace_bytes(&mut conn, &redis.namespace).await?;
    let bound = KEEP as u64 * per_job + FIXED_ALLOWANCE;
    let done = redis.count("done");

    println!("  | figure | goal | measured |");
    println!("  | --- | --- | --- |");
    println!(
        "  | Redis bytes, {jobs} finished jobs | | {} in {} keys ({per_job} B a job) |",
        before.bytes, before.keys
    );
    println!(
        "  | Redis bytes after keeping the last {KEEP} | <= {bound} | {} in {} keys |",
        after.bytes, after.keys
    );
    println!(
        "  | sweep | | {:.0} ms: {} removed in {} round trips, {} skipped |",
        took.as_secs_f64() * 1000.0,
        swept.removed,
        swept.batches,
        swept.skipped
    );
    if swept.removed != jobs - KEEP.min(jobs) || done != KEEP.min(jobs) {
        return Err(format!(
            "expected {} removed and {} kept, got {} removed and {done} kept",
            jobs - KEEP.min(jobs),
            KEEP.min(jobs),
            swept.removed
        ));
    }
    if after.bytes > bound {
        return Err(format!(
            "missed the goal: {} bytes left > {bound}",
            after.bytes
        ));
    }
    Ok(())
}

/// Runs the real consumer until `jobs` are done.
async fn finish_all(redis: &TestRedis<RolloutJob>, jobs: usize) -> Result<(), String> {
    let mut stops = Vec::new();
    let mut tasks = Vec::new();
    for n in 0..CONSUMERS {
        let own = redis.try_queue().await?;
        let mut config =
            ConsumerConfig::new(ConsumerConfig::unique_worker_name(&format!("bench{n}")));
        config.concurrency = 16;
        config.poll_interval = Duration::from_millis(1);
        let (stop, stopped) = oneshot::channel::<()>();
        let source = JobSource::from_queue(&own).expect("a Redis queue");
        let handler = |_job: RolloutJob| async { Ok::<(), JobFailed>(()) };
        tasks.push(tokio::spawn(consume(source, config, handler, async {
            let _ = stopped.await;
        })));
        stops.push(stop);
    }
    let deadline = Instant::now() + Duration::from_secs(900);
    let mut last_report = Instant::now();
    while redis.count("done") < jobs {
        if Instant::now() > deadline {
            return Err("the consumers did not finish the jobs within 15 minutes".into());
        }
        if last_report.elapsed() > Duration::from_secs(15) {
            println!("  ... {} done", redis.count("done"));
            last_report = Instant::now();
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    for stop in stops {
        let _ = stop.send(());
    }
    for task in tasks {
        task.await
            .map_err(|e| format!("consumer task: {e}"))?
            .map_err(|e| format!("consumer: {e}"))?;
    }
    Ok(())
}

struct Usage {
    bytes: u64,
    keys: usize,
}

/// `MEMORY USAGE` (every element counted) of every key of `namespace`.
async fn namespace_bytes(conn: &mut ConnectionManager, namespace: &str) -> Result<Usage, String> {
    let failed = |e: redis::RedisError| format!("measuring memory: {e}");
    let mut keys = Vec::new();
    let mut cursor = 0u64;
    loop {
        let (next, found): (u64, Vec<String>) = redis::cmd("SCAN")
            .arg(cursor)
            .arg("MATCH")
            .arg(format!("{namespace}*"))
            .arg("COUNT")
            .arg(1000)
            .query_async(conn)
            .await
            .map_err(failed)?;
        keys.extend(found);
        if next == 0 {
            break;
        }
        cursor = next;
    }
    let mut bytes = 0;
    for chunk in keys.chunks(500) {
        let mut pipe = redis::pipe();
        for key in chunk {
            pipe.cmd("MEMORY")
                .arg("USAGE")
                .arg(key)
                .arg("SAMPLES")
                .arg(0);
        }
        let sizes: Vec<Option<u64>> = pipe.query_async(conn).await.map_err(failed)?;
        bytes += sizes.into_iter().flatten().sum::<u64>();
    }
    Ok(Usage {
        bytes,
        keys: keys.len(),
    })
}

async fn event_log_prune() -> Result<(), String> {
    let rows = env_number("SLIPWAY_BENCH_ROWS").unwrap_or(200_000);
    tokio::task::spawn_blocking(move || prune_rows(rows))
        .await
        .map_err(|e| format!("prune task: {e}"))?
}

fn prune_rows(rows: usize) -> Result<(), String> {
    println!("retention: {rows} old events and {rows} old deliveries on PostgreSQL, pruned in batches of {PRUNE_BATCH}");
    let db = TestDatabase::new(Backend::Postgres);
    let store = db.store();
    let new = NewWebhook {
        url: "https://example.com/hook".into(),
        kind: WebhookKind::Generic,
        events: vec![EventPattern::parse("*").map_err(|e| e.message)?],
        apps: vec![],
        description: "bench".into(),
    };
    let (webhook, _) = store
        .create_webhook(&new, "bench")
        .map_err(|e| e.to_string())?;
    let old = "(now() AT TIME ZONE 'UTC') - interval '200 days'";
    let young = "(now() AT TIME ZONE 'UTC') - interval '1 day'";
    // Event and delivery bodies of a typical size (a few hundred bytes).
    db.execute(&format!(
        "INSERT INTO events (id, app, kind, data, actor, created_at) \
         SELECT 'E' || i, 'app' || (i % 50), 'release.created', repeat('x', 300), 'ci', \
         CASE WHEN i <= {rows} THEN {old} ELSE {young} END \
         FROM generate_series(1, {rows} + 1000) i"
    ));
    db.execute(&format!(
        "INSERT INTO deliveries (id, webhook, event, event_type, payload, status, attempts, created_at) \
         SELECT 'D' || i, '{webhook}', 'E' || i, 'release.created', repeat('y', 600), \
         CASE WHEN i % 2000 = 0 THEN 'pending' ELSE 'delivered' END, 1, \
         CASE WHEN i <= {rows} THEN {old} ELSE {young} END \
         FROM generate_series(1, {rows} + 1000) i",
        webhook = webhook.id
    ));
    db.execute("ANALYZE events; ANALYZE deliveries");
    let pending_old = rows / 2000;

    let started = Instant::now();
    let pruned = store
        .prune_event_log(DEFAULT_EVENT_RETENTION)
        .map_err(|e| e.to_string())?;
    let took = started.elapsed();
    let deleted = pruned.events + pruned.deliveries;
    let rate = deleted as f64 / took.as_secs_f64();
    println!("  | figure | goal | measured |");
    println!("  | --- | --- | --- |");
    println!(
        "  | prune | | {} events + {} deliveries in {:.2} s, {} batches |",
        pruned.events,
        pruned.deliveries,
        took.as_secs_f64(),
        pruned.batches
    );
    println!("  | prune rate | | {rate:.0} rows/s |");
    println!(
        "  | longest batch (one transaction) | <= {} ms | {:.1} ms |",
        GOAL_LONGEST_BATCH.as_millis(),
        pruned.longest_batch.as_secs_f64() * 1000.0
    );
    let expected = (rows - pending_old) as u64;
    if pruned.deliveries != expected || pruned.events != expected {
        return Err(format!(
            "expected {expected} events and deliveries pruned (the {pending_old} with a pending delivery kept), got {pruned:?}"
        ));
    }
    if pruned.longest_batch > GOAL_LONGEST_BATCH {
        return Err(format!(
            "missed the goal: the longest batch took {:?}",
            pruned.longest_batch
        ));
    }
    Ok(())
}

fn env_number(name: &str) -> Option<usize> {
    std::env::var(name).ok()?.parse().ok()
}
