//! The in-process queue `slipway dev` uses.

use super::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn in_process_jobs_run_once_each_within_the_concurrency_limit() {
    let (queue, jobs) = JobQueue::in_process();
    let ids: Vec<_> = (0..12).map(|_| DeploymentId::generate()).collect();
    for id in &ids {
        queue
            .enqueue(RolloutJob::new(id.clone(), Some(TRACEPARENT.into())))
            .await
            .expect("enqueue");
    }
    let recorder = Recorder::default();
    let mut config = config("in-process");
    config.concurrency = 3;
    let script = Script::default().with_default(Behaviour::Sleep(Duration::from_millis(50)));
    let consumer = Consumer::start(jobs.into(), config, recorder.handler(script));

    wait_until("every job to finish", Duration::from_secs(5), || {
        recorder.finished() == 12
    })
    .await;
    for id in &ids {
        assert_eq!(recorder.calls_for(id), 1, "{id}");
    }
    assert!(recorder
        .jobs()
        .iter()
        .all(|job| job.traceparent.as_deref() == Some(TRACEPARENT)));
    assert_eq!(recorder.max_in_flight(), 3, "concurrency limit, reached");
    consumer.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn in_process_failures_retry_to_the_limit_and_a_panic_is_contained() {
    let (queue, jobs) = JobQueue::in_process();
    let [always, once, permanent, panics, fine] = [(); 5].map(|_| DeploymentId::generate());
    let script = Script::from([
        (always.clone(), Behaviour::FailAlways),
        (once.clone(), Behaviour::FailOnce),
        (permanent.clone(), Behaviour::FailPermanently),
        (panics.clone(), Behaviour::Panic),
    ]);
    let recorder = Recorder::default();
    let mut config = config("in-process-failures");
    config.concurrency = 1;
    let consumer = Consumer::start(jobs.into(), config, recorder.handler(script));
    for id in [&panics, &always, &once, &permanent, &fine] {
        queue
            .enqueue(RolloutJob::new(id.clone(), None))
            .await
            .expect("enqueue");
    }

    wait_until("1 + 3 + 2 + 1 + 1 calls", Duration::from_secs(5), || {
        recorder.calls() == 8
    })
    .await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    let counts: Vec<_> = [&panics, &always, &once, &permanent, &fine]
        .map(|id| recorder.calls_for(id))
        .into();
    assert_eq!(
        counts,
        vec![1, 3, 2, 1, 1],
        "panic, always, once, permanent, fine"
    );
    consumer.stop().await;
}

#[tokio::test]
async fn in_process_shutdown_waits_for_running_handlers_and_bad_configs_are_refused() {
    let (queue, jobs) = JobQueue::in_process();
    let recorder = Recorder::default();
    let script = Script::default().with_default(Behaviour::Sleep(Duration::from_millis(300)));
    let consumer = Consumer::start(
        jobs.into(),
        config("in-process-stop"),
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
    assert_eq!(recorder.finished(), 1);

    let (_queue, jobs) = JobQueue::<RolloutJob>::in_process();
    let mut bad = config("bad");
    bad.concurrency = 0;
    let err = consume(jobs.into(), bad, |_| async { Ok(()) }, async {})
        .await
        .expect_err("concurrency 0");
    assert!(matches!(err, QueueError::InvalidConfig(_)), "{err}");
}
