//! Receivers that hang, refuse, are private, are gone, or ask to wait:
//! timeouts, retries on schedule, and when delivery stops.

use super::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hanging_receiver_times_out_and_is_retried_while_others_keep_flowing() {
    let hanging = Receiver::start().await;
    hanging.script([Reply::Hang]);
    let healthy = Receiver::start().await;
    let mut setup = Setup::new();
    let (stuck, _) = setup.subscribe(&hanging.url("/"), WebhookKind::Generic, &["*"]);
    let (_, _) = setup.subscribe(&healthy.url("/"), WebhookKind::Generic, &["*"]);
    setup.deliver(|config| config.timeout = Duration::from_secs(2));
    let started = Instant::now();
    setup.create_app("first");
    setup.create_app("second");
    healthy.wait_for(2, WAIT).await;
    assert!(
        started.elapsed() < Duration::from_secs(1),
        "the healthy receiver waited for the hanging one: {:?}",
        started.elapsed()
    );
    let requests = hanging.wait_for(3, WAIT).await;
    assert_eq!(
        requests.len(),
        3,
        "two events, one retried after the timeout"
    );
    let log = setup
        .wait_all(&stuck, 2, |d| d.status == DeliveryStatus::Delivered)
        .await;
    let mut attempts: Vec<i32> = log.iter().map(|d| d.attempts).collect();
    attempts.sort();
    assert_eq!(attempts, [1, 2]);
    assert!(started.elapsed() >= Duration::from_secs(2));
    setup.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hanging_receiver_with_a_backlog_holds_only_its_share_of_slots() {
    let hanging = Receiver::start().await;
    hanging.answer(Reply::Hang);
    let healthy = Receiver::start().await;
    let mut setup = Setup::new();
    // The hanging webhook's deliveries are the oldest, and more than all slots.
    setup.subscribe(&hanging.url("/"), WebhookKind::Generic, &["*"]);
    for i in 0..6 {
        setup.create_app(&format!("backlog-{i}"));
    }
    setup.subscribe(&healthy.url("/"), WebhookKind::Generic, &["*"]);
    setup.create_app("latest");
    setup.deliver(|config| {
        config.timeout = Duration::from_secs(3);
        config.concurrency = 4;
        config.per_webhook = 2;
    });
    let started = Instant::now();
    healthy.wait_for(1, WAIT).await;
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "the healthy webhook waited for the hanging one's timeouts: {:?}",
        started.elapsed()
    );
    hanging.wait_for(2, WAIT).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(started.elapsed() < Duration::from_secs(3), "timeouts began");
    assert_eq!(hanging.count(), 2, "more than the hanging webhook's share");
    setup.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_timeout_is_logged_and_retried_on_schedule() {
    let hanging = Receiver::start().await;
    hanging.answer(Reply::Hang);
    let mut setup = Setup::new();
    let (stuck, _) = setup.subscribe(&hanging.url("/"), WebhookKind::Generic, &["*"]);
    setup.deliver(|config| {
        config.timeout = Duration::from_millis(300);
        config.schedule = RetrySchedule::parse("10m").unwrap();
    });
    setup.create_app("slow");
    let slow = setup.wait_log(&stuck, |d| d.last_error.is_some()).await;
    assert_eq!((slow.status, slow.attempts), (DeliveryStatus::Pending, 1));
    assert_eq!(slow.last_error.as_deref(), Some("no answer within 0.3s"));
    let next = slow.next_attempt_at.unwrap();
    assert!(
        next > chrono::Utc::now() + chrono::TimeDelta::minutes(8),
        "{next}"
    );
    setup.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn private_targets_are_refused_at_delivery_with_a_clear_reason() {
    let receiver = Receiver::start().await;
    let mut setup = Setup::new();
    // Stored directly: the API refuses these at creation.
    let port = receiver.addr().port();
    let urls = [
        format!("http://127.0.0.1:{port}/"),
        format!("http://[::ffff:127.0.0.1]:{port}/"),
        format!("http://localhost:{port}/"),
    ];
    let webhooks: Vec<Webhook> = urls
        .iter()
        .map(|url| setup.subscribe(url, WebhookKind::Generic, &["*"]).0)
        .collect();
    setup.deliver(|config| config.allow_private = false);
    setup.create_app("refused");
    for webhook in &webhooks {
        let refused = setup
            .wait_log(webhook, |d| d.status == DeliveryStatus::Failed)
            .await;
        let error = refused.last_error.unwrap();
        assert!(error.starts_with("refused: "), "{error}");
        assert!(error.contains("loopback"), "{error}");
        assert!(error.contains("SLIPWAY_WEBHOOK_ALLOW_PRIVATE"), "{error}");
        assert_eq!(refused.attempts, 1);
    }
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_eq!(receiver.count(), 0, "a refused target was contacted");
    setup.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn gone_disables_the_webhook() {
    let receiver = Receiver::start().await;
    receiver.answer(Reply::Status(410));
    let mut setup = Setup::new();
    let (webhook, _) = setup.subscribe(&receiver.url("/"), WebhookKind::Generic, &["*"]);
    setup.deliver(|_| {});
    setup.create_app("gone");
    let failed = setup
        .wait_log(&webhook, |d| d.status == DeliveryStatus::Failed)
        .await;
    assert_eq!(failed.last_status_code, Some(410));
    let disabled = setup.store.get_webhook(&webhook.id).unwrap().unwrap();
    assert!(disabled.disabled_at.is_some());
    setup.create_app("after");
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(receiver.count(), 1);
    assert_eq!(setup.log(&webhook).len(), 1);
    setup.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn retry_after_is_honoured_and_redirects_are_not_followed() {
    let receiver = Receiver::start().await;
    let elsewhere = Receiver::start().await;
    let retry_after = vec![("retry-after".to_owned(), "1".to_owned())];
    let location = vec![("location".to_owned(), elsewhere.url("/"))];
    receiver.script([
        Reply::StatusWith(503, retry_after),
        Reply::StatusWith(302, location),
    ]);
    let mut setup = Setup::new();
    let (webhook, _) = setup.subscribe(&receiver.url("/"), WebhookKind::Generic, &["app.created"]);
    setup.deliver(|_| {});
    setup.create_app("patience");
    let done = setup
        .wait_log(&webhook, |d| d.status == DeliveryStatus::Delivered)
        .await;
    assert_eq!(done.attempts, 3);
    let requests = receiver.requests();
    let waited = requests[1].at - requests[0].at;
    assert!(waited >= Duration::from_millis(950), "{waited:?}");
    assert_eq!(elsewhere.count(), 0, "the redirect was followed");
    setup.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn attempts_stop_at_the_end_of_the_schedule() {
    let receiver = Receiver::start().await;
    receiver.answer(Reply::Status(500));
    let mut setup = Setup::new();
    let (webhook, _) = setup.subscribe(&receiver.url("/"), WebhookKind::Generic, &["app.created"]);
    setup.deliver(|config| config.schedule = RetrySchedule::parse("50ms,50ms").unwrap());
    setup.create_app("doomed");
    let failed = setup
        .wait_log(&webhook, |d| d.status == DeliveryStatus::Failed)
        .await;
    assert_eq!(failed.attempts, 3);
    assert_eq!(failed.last_status_code, Some(500));
    assert_eq!(
        failed.last_error.as_deref(),
        Some("the receiver answered 500 Internal Server Error")
    );
    assert_eq!(failed.next_attempt_at, None);
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(receiver.count(), 3);
    setup.stop().await;
}
