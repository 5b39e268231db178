//! Webhook delivery end to end: events written by the store, the delivery
//! loop, and real HTTP receivers on 127.0.0.1 (PostgreSQL, as in production;
//! it must be up, see `SLIPWAY_TEST_DATABASE_URL`). Signatures are checked
//! with an HMAC written here from SHA-256, not with the signer under test.

use base64::Engine;
use serde_json::Value;
use sha2::{Digest, Sha256};
use slipway_core::domain::{AppName, DeliveryStatus, EventPattern, WebhookKind};
use slipway_core::store::{Backend, Delivery, NewWebhook, Store, Webhook};
use slipway_core::testing::{Receiver, Reply, Request, TestDatabase, Wait};
use slipway_worker::webhooks::{Deliverer, DeliveryConfig, RetrySchedule};
use std::future::ready;
use std::time::{Duration, Instant};
use tokio::sync::oneshot;

mod receivers;

const WAIT: Duration = Duration::from_secs(10);

struct Setup {
    store: Store,
    _db: TestDatabase,
    stop: Option<oneshot::Sender<()>>,
    task: Option<tokio::task::JoinHandle<()>>,
}

impl Setup {
    fn new() -> Setup {
        let db = TestDatabase::new(Backend::Postgres);
        Setup {
            store: db.store(),
            _db: db,
            stop: None,
            task: None,
        }
    }

    /// Starts a delivery loop with quick retries, reaching 127.0.0.1.
    fn deliver(&mut self, adjust: impl FnOnce(&mut DeliveryConfig)) {
        let mut config = DeliveryConfig {
            schedule: RetrySchedule::parse("100ms,100ms,100ms").unwrap(),
            allow_private: true,
            poll_interval: Duration::from_millis(20),
            ..DeliveryConfig::default()
        };
        adjust(&mut config);
        let deliverer = Deliverer::new(self.store.clone(), config, "w-test".into()).unwrap();
        let (stop, stopped) = oneshot::channel::<()>();
        self.stop = Some(stop);
        self.task = Some(tokio::spawn(deliverer.run(async {
            let _ = stopped.await;
        })));
    }

    fn subscribe(&self, url: &str, kind: WebhookKind, events: &[&str]) -> (Webhook, String) {
        let new = NewWebhook {
            url: url.to_owned(),
            kind,
            events: events
                .iter()
                .map(|e| EventPattern::parse(e).unwrap())
                .collect(),
            apps: vec![],
            description: String::new(),
        };
        let (webhook, secret) = self.store.create_webhook(&new, "tester").unwrap();
        (webhook, secret.expose().clone())
    }

    /// Records an `app.created` event.
    fn create_app(&self, name: &str) {
        let app = AppName::parse(name).unwrap();
        self.store.create_app(&app, None, "tester").unwrap();
    }

    fn log(&self, webhook: &Webhook) -> Vec<Delivery> {
        self.store.list_deliveries(&webhook.id, 100).unwrap()
    }

    /// Waits until the webhook's newest delivery satisfies `done`.
    async fn wait_log(&self, webhook: &Webhook, done: impl Fn(&Delivery) -> bool) -> Delivery {
        let latest = || ready(self.log(webhook).into_iter().next());
        Wait::new("the newest delivery to get there")
            .within(WAIT)
            .until(latest, |latest| latest.as_ref().is_some_and(&done))
            .await
            .expect("a delivery")
    }

    /// Waits until the webhook has `n` deliveries, all satisfying `done`.
    async fn wait_all(
        &self,
        webhook: &Webhook,
        n: usize,
        done: impl Fn(&Delivery) -> bool,
    ) -> Vec<Delivery> {
        Wait::new(format!("{n} deliveries to get there"))
            .within(WAIT)
            .until(
                || ready(self.log(webhook)),
                |log| log.len() == n && log.iter().all(&done),
            )
            .await
    }

    async fn stop(mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(task) = self.task.take() {
            task.await.unwrap();
        }
    }
}

/// HMAC-SHA256 from its definition (RFC 2104), independent of the signer.
fn hmac_sha256(key: &[u8], message: &[u8]) -> [u8; 32] {
    let mut block = [0u8; 64];
    if key.len() > 64 {
        block[..32].copy_from_slice(&Sha256::digest(key));
    } else {
        block[..key.len()].copy_from_slice(key);
    }
    let pad = |byte: u8| block.map(|k| k ^ byte);
    let inner = Sha256::new()
        .chain_update(pad(0x36))
        .chain_update(message)
        .finalize();
    Sha256::new()
        .chain_update(pad(0x5c))
        .chain_update(inner)
        .finalize()
        .into()
}

/// Whether one of the `v1,` signatures in the header is `secret`'s.
fn signed_by(request: &Request, secret: &str) -> bool {
    let b64 = base64::engine::general_purpose::STANDARD;
    let key = b64.decode(secret.strip_prefix("whsec_").unwrap()).unwrap();
    let id = request.header("webhook-id").unwrap();
    let timestamp = request.header("webhook-timestamp").unwrap();
    let mut content = format!("{id}.{timestamp}.").into_bytes();
    content.extend_from_slice(&request.body);
    let expected = format!("v1,{}", b64.encode(hmac_sha256(&key, &content)));
    let header = request.header("webhook-signature").unwrap();
    header.split(' ').any(|candidate| candidate == expected)
}

#[test]
fn the_independent_hmac_matches_rfc_4231() {
    // RFC 4231, test case 2.
    let mac = hmac_sha256(b"Jefe", b"what do ya want for nothing?");
    let hex: String = mac.iter().map(|b| format!("{b:02x}")).collect();
    assert_eq!(
        hex,
        "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deliveries_are_signed_per_standard_webhooks() {
    let receiver = Receiver::start().await;
    let mut setup = Setup::new();
    let (webhook, secret) = setup.subscribe(&receiver.url("/hook"), WebhookKind::Generic, &["*"]);
    setup.deliver(|_| {});
    setup.create_app("signed");
    let request = receiver.wait_for(1, WAIT).await.remove(0);
    assert_eq!(
        (request.method.as_str(), request.path.as_str()),
        ("POST", "/hook")
    );
    assert_eq!(request.header("content-type"), Some("application/json"));
    assert!(signed_by(&request, &secret), "{:?}", request.headers);
    let body = request.json();
    assert_eq!(body["type"], "app.created");
    assert_eq!(body["data"]["app"], "signed");
    assert_eq!(request.header("webhook-id"), body["id"].as_str());
    let sent: i64 = request
        .header("webhook-timestamp")
        .unwrap()
        .parse()
        .unwrap();
    assert!((chrono::Utc::now().timestamp() - sent).abs() <= 5);
    let events = setup.store.list_events(None).unwrap();
    assert_eq!(body["id"], events[0].id.as_str());

    // After a rotation both secrets sign, side by side.
    let (_, fresh) = setup.store.rotate_webhook_secret(&webhook.id).unwrap();
    setup.create_app("rotated");
    let request = receiver.wait_for(2, WAIT).await.remove(1);
    let header = request.header("webhook-signature").unwrap();
    assert_eq!(header.split(' ').count(), 2, "{header}");
    assert!(signed_by(&request, &secret));
    assert!(signed_by(&request, fresh.expose()));
    assert!(!signed_by(
        &request,
        "whsec_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA="
    ));
    setup
        .wait_log(&webhook, |d| d.status == DeliveryStatus::Delivered)
        .await;
    setup.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failing_receiver_gets_the_event_once_successfully_after_three_attempts() {
    let receiver = Receiver::start().await;
    receiver.script([Reply::Status(500), Reply::Status(500)]);
    let mut setup = Setup::new();
    let (webhook, _) = setup.subscribe(&receiver.url("/"), WebhookKind::Generic, &["app.created"]);
    setup.deliver(|_| {});
    setup.create_app("flaky");
    let done = setup
        .wait_log(&webhook, |d| d.status == DeliveryStatus::Delivered)
        .await;
    assert_eq!(done.attempts, 3);
    assert_eq!(done.last_status_code, Some(200));
    assert!(done.delivered_at.is_some());
    // Let any stray retry show itself before counting.
    tokio::time::sleep(Duration::from_millis(400)).await;
    let requests = receiver.requests();
    assert_eq!(requests.len(), 3);
    let ids: Vec<_> = requests.iter().map(|r| r.header("webhook-id")).collect();
    assert!(ids.iter().all(|id| *id == ids[0]), "{ids:?}");
    let bodies: Vec<_> = requests.iter().map(|r| r.body.clone()).collect();
    assert!(bodies.iter().all(|b| *b == bodies[0]));
    // The retries waited for the schedule (100 ms ± 10 %).
    let gap = requests[1].at - requests[0].at;
    assert!(gap >= Duration::from_millis(85), "{gap:?}");
    setup.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slack_webhooks_get_a_message() {
    let receiver = Receiver::start().await;
    let mut setup = Setup::new();
    setup.subscribe(
        &receiver.url("/services/T/B/X"),
        WebhookKind::Slack,
        &["app.created"],
    );
    setup.deliver(|_| {});
    setup.create_app("chatty");
    let request = receiver.wait_for(1, WAIT).await.remove(0);
    let body: Value = request.json();
    let text = body["text"].as_str().unwrap();
    assert!(text.contains("chatty"), "{text}");
    assert!(
        body["blocks"].as_array().is_some_and(|b| !b.is_empty()),
        "{body}"
    );
    setup.stop().await;
}
