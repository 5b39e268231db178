//! Producers and consumers over a real Redis, each test in its own namespace.

use super::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_consumer_built_from_a_separate_queue_receives_the_exact_job() {
    let redis = TestRedis::new();
    let producer = redis.queue().await;
    let consumer_queue = redis.queue().await; // as a separate worker process would
    let recorder = Recorder::default();
    let consumer = Consumer::start(
        JobSource::from_queue(&consumer_queue).expect("a Redis queue"),
        config("delivery"),
        recorder.handler(Script::default()),
    );

    let job = RolloutJob::new(DeploymentId::generate(), Some(TRACEPARENT.into()));
    producer.enqueue(job.clone()).await.expect("enqueue");

    wait_until("the job to arrive", Duration::from_secs(5), || {
        recorder.calls() == 1
    })
    .await;
    assert_eq!(recorder.jobs(), vec![job]);
    wait_until("the job to be acknowledged", Duration::from_secs(5), || {
        redis.count("done") == 1
    })
    .await;
    consumer.stop().await;
    assert_eq!(redis.count("active"), 0);
}

/// With its fallback poll an hour away and its heartbeat (which wakes it
/// too) half a minute, only the notification of a pushed job can wake the
/// consumer: each job is picked up at once, also after the consumer's
/// connections to Redis were cut (its listener subscribes again).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pushed_jobs_wake_the_consumer_also_after_its_connections_were_cut() {
    let redis = TestRedis::new();
    let relay = Relay::to(&redis.url).await;
    let producer = redis.queue().await;
    let consumer_queue = JobQueue::redis(&relay.url, &redis.namespace)
        .await
        .expect("a queue through the relay");
    let mut config = config("notified");
    config.poll_interval = Duration::from_secs(3600);
    config.heartbeat_interval = Duration::from_secs(30);
    let recorder = Recorder::default();
    let consumer = Consumer::start(
        JobSource::from_queue(&consumer_queue).expect("a Redis queue"),
        config,
        recorder.handler(Script::default()),
    );
    let second = Duration::from_secs(1);
    wait_until("the consumer to listen", 5 * second, || {
        redis.listeners() == 1
    })
    .await;
    for picked in 1..=2 {
        let job = RolloutJob::new(DeploymentId::generate(), None);
        producer.enqueue(job).await.expect("enqueue");
        wait_until("the job, woken by its notification", second / 2, || {
            recorder.calls() == picked
        })
        .await;
        if picked == 1 {
            relay.cut();
            wait_until("the listener to go", 5 * second, || redis.listeners() == 0).await;
            wait_until("the listener back", 5 * second, || redis.listeners() == 1).await;
            // The fetch connection too has reconnected by the time it is used.
            tokio::time::sleep(second).await;
        }
    }
    consumer.stop().await;
}

/// Jobs that find every slot busy are taken as soon as one frees, not at the
/// next poll (an hour away here): queued before the consumer starts, three
/// jobs get no notification it hears, and its start looks once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn jobs_waiting_for_a_slot_are_taken_as_slots_free() {
    let redis = TestRedis::new();
    let queue = redis.queue().await;
    for _ in 0..3 {
        let job = RolloutJob::new(DeploymentId::generate(), None);
        queue.enqueue(job).await.expect("enqueue");
    }
    let mut config = config("one-slot");
    config.poll_interval = Duration::from_secs(3600);
    config.concurrency = 1;
    let recorder = Recorder::default();
    let script = Script::default().with_default(Behaviour::Sleep(Duration::from_millis(200)));
    let consumer = Consumer::start(
        JobSource::from_queue(&queue).expect("a Redis queue"),
        config,
        recorder.handler(script),
    );
    wait_until(
        "all three, one after another",
        Duration::from_secs(5),
        || recorder.finished() == 3,
    )
    .await;
    assert_eq!(recorder.max_in_flight(), 1);
    consumer.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failures_are_retried_up_to_the_attempt_limit_and_then_stop() {
    let redis = TestRedis::new();
    let queue = redis.queue().await;
    let [always, once, permanent] = [(); 3].map(|_| DeploymentId::generate());
    let script = Script::from([
        (always.clone(), Behaviour::FailAlways),
        (once.clone(), Behaviour::FailOnce),
        (permanent.clone(), Behaviour::FailPermanently),
    ]);
    let recorder = Recorder::default();
    let consumer = Consumer::start(
        JobSource::from_queue(&queue).expect("a Redis queue"),
        config("retries"),
        recorder.handler(script),
    );
    for id in [&always, &once, &permanent] {
        queue
            .enqueue(RolloutJob::new(id.clone(), None))
            .await
            .expect("enqueue");
    }

    wait_until("3 + 2 + 1 calls", Duration::from_secs(10), || {
        recorder.calls() == 6
    })
    .await;
    // Without our limit the Redis backend would reschedule a failed job 1-3 s later.
    tokio::time::sleep(Duration::from_secs(4)).await;
    assert_eq!(recorder.calls_for(&always), 3, "attempt limit");
    assert_eq!(recorder.calls_for(&once), 2, "retried once, then succeeded");
    assert_eq!(
        recorder.calls_for(&permanent),
        1,
        "permanent failures are not retried"
    );
    assert_eq!(redis.count("dead"), 2, "both abandoned jobs are dead");
    assert_eq!(redis.count("done"), 1);
    assert_eq!(redis.count("scheduled"), 0, "nothing waits for a retry");
    consumer.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_panicking_handler_does_not_stop_later_jobs() {
    let redis = TestRedis::new();
    let queue = redis.queue().await;
    let panics = DeploymentId::generate();
    let recorder = Recorder::default();
    let mut config = config("panic");
    config.concurrency = 1;
    let consumer = Consumer::start(
        JobSource::from_queue(&queue).expect("a Redis queue"),
        config,
        recorder.handler(Script::from([(panics.clone(), Behaviour::Panic)])),
    );
    queue
        .enqueue(RolloutJob::new(panics.clone(), None))
        .await
        .expect("enqueue");
    let later: Vec<_> = (0..3).map(|_| DeploymentId::generate()).collect();
    for id in &later {
        queue
            .enqueue(RolloutJob::new(id.clone(), None))
            .await
            .expect("enqueue");
    }

    wait_until("the jobs after the panic", Duration::from_secs(10), || {
        later.iter().all(|id| recorder.calls_for(id) == 1)
    })
    .await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(recorder.calls_for(&panics), 1, "a panic is not retried");
    consumer.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_consumers_share_the_load_and_run_each_job_once() {
    const JOBS: usize = 40;
    let redis = TestRedis::new();
    let producer = redis.queue().await;
    let (first, second) = (Recorder::default(), Recorder::default());
    let script = Script::default().with_default(Behaviour::Sleep(Duration::from_millis(50)));
    let mut consumers = Vec::new();
    for (recorder, name) in [(&first, "share-a"), (&second, "share-b")] {
        let queue = redis.queue().await;
        let mut config = config(name);
        config.concurrency = 2;
        consumers.push(Consumer::start(
            JobSource::from_queue(&queue).expect("a Redis queue"),
            config,
            recorder.handler(script.clone()),
        ));
    }
    let ids: Vec<_> = (0..JOBS).map(|_| DeploymentId::generate()).collect();
    for id in &ids {
        producer
            .enqueue(RolloutJob::new(id.clone(), None))
            .await
            .expect("enqueue");
    }

    wait_until("every job to run", Duration::from_secs(20), || {
        first.calls() + second.calls() >= JOBS
    })
    .await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    for id in &ids {
        assert_eq!(
            first.calls_for(id) + second.calls_for(id),
            1,
            "{id} ran once"
        );
    }
    assert!(
        first.calls() > 0 && second.calls() > 0,
        "{} / {}",
        first.calls(),
        second.calls()
    );
    assert!(
        first.max_in_flight() <= 2 && second.max_in_flight() <= 2,
        "concurrency limit"
    );
    for consumer in consumers {
        consumer.stop().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shutdown_lets_a_running_handler_finish_and_acknowledges_it() {
    let redis = TestRedis::new();
    let queue = redis.queue().await;
    let recorder = Recorder::default();
    let script = Script::default().with_default(Behaviour::Sleep(Duration::from_millis(500)));
    let config = config("shutdown");
    let name = config.worker_name.clone();
    let consumer = Consumer::start(
        JobSource::from_queue(&queue).expect("a Redis queue"),
        config,
        recorder.handler(script),
    );
    queue
        .enqueue(RolloutJob::new(DeploymentId::generate(), None))
        .await
        .expect("enqueue");
    wait_until("the handler to start", Duration::from_secs(5), || {
        recorder.calls() == 1
    })
    .await;

    consumer.stop().await;
    assert_eq!(recorder.finished(), 1, "stop waited for the handler");
    assert_eq!(
        redis.count("done"),
        1,
        "and acknowledged it before returning"
    );
    let mut conn = redis::Client::open(redis.url.as_str())
        .and_then(|client| client.get_connection())
        .expect("Redis");
    let prefix = format!("{}:rollouts", redis.namespace);
    let registered: Option<f64> = redis::cmd("ZSCORE")
        .arg(format!("{prefix}:workers"))
        .arg(&name)
        .query(&mut conn)
        .expect("ZSCORE");
    assert_eq!(registered, None, "the stopped worker left the workers set");
    let metadata: bool = redis::cmd("EXISTS")
        .arg(format!("{prefix}:workers:metadata:{name}"))
        .query(&mut conn)
        .expect("EXISTS");
    assert!(!metadata, "and its metadata was deleted");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_job_of_a_killed_worker_comes_back_after_the_orphan_timeout() {
    let redis = TestRedis::new();
    let queue = redis.queue().await;
    let stuck = Recorder::default();
    let killed = Consumer::start(
        JobSource::from_queue(&queue).expect("a Redis queue"),
        config("killed"),
        stuck.handler(Script::default().with_default(Behaviour::Hang)),
    );
    let job = RolloutJob::new(DeploymentId::generate(), None);
    queue.enqueue(job.clone()).await.expect("enqueue");
    wait_until(
        "the first worker to take the job",
        Duration::from_secs(5),
        || stuck.calls() == 1,
    )
    .await;

    killed.kill(); // no graceful close, as with SIGKILL
    let killed_at = Instant::now();
    let survivor = Recorder::default();
    let config = config("survivor");
    let orphan_timeout = config.orphan_timeout();
    let consumer = Consumer::start(
        JobSource::from_queue(&redis.queue().await).expect("a Redis queue"),
        config,
        survivor.handler(Script::default()),
    );
    wait_until(
        "the orphaned job to come back",
        orphan_timeout + Duration::from_secs(5),
        || survivor.calls() == 1,
    )
    .await;
    let back_after = killed_at.elapsed();
    eprintln!("orphaned job came back after {back_after:?} (orphan timeout {orphan_timeout:?})");
    assert!(
        back_after >= orphan_timeout - Duration::from_secs(1),
        "{back_after:?}"
    );
    assert_eq!(survivor.jobs(), vec![job]);
    consumer.stop().await;
}

#[tokio::test]
async fn unreachable_redis_fails_without_echoing_the_password() {
    let started = Instant::now();
    let err = JobQueue::<RolloutJob>::redis("redis://:hunter2@127.0.0.1:1/0", "slipway-test")
        .await
        .expect_err("nothing listens on port 1");
    assert!(matches!(err, QueueError::Connect(_)), "{err}");
    assert!(!format!("{err} {err:?}").contains("hunter2"), "{err:?}");
    assert!(
        started.elapsed() < Duration::from_secs(30),
        "{:?}",
        started.elapsed()
    );
}
