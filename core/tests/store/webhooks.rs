//! Webhooks: subscriptions, one delivery per matching webhook written with
//! its event, the claim / finish cycle, rotation, redelivery and 410.

use crate::{fixture, on_both_backends, Fixture};
use chrono::{TimeDelta, Utc};
use serde_json::Value;
use slipway_core::domain::{AppName, DeliveryStatus, EventPattern, ServiceName, WebhookKind};
use slipway_core::events::{AppCrashed, BodyKind};
use slipway_core::store::{Backend, Finished, NewWebhook, Outcome, PromoteOptions, StoreError};

on_both_backends!(
    subscriptions_are_created_listed_and_deleted,
    events_become_deliveries_for_matching_webhooks_only,
    payloads_are_flat_snapshots_without_env_values,
    progress_payloads_name_their_deployment,
    crash_payloads_say_which_instance_and_what_next,
    a_claim_locks_a_delivery_until_it_expires,
    outcomes_are_recorded_and_retries_come_due,
    gone_disables_the_webhook_and_fails_its_pending_deliveries,
    rotation_keeps_the_old_secret_signing,
    redeliver_and_test_queue_new_deliveries,
);

pub(crate) const LOCK: TimeDelta = TimeDelta::seconds(60);

pub(crate) fn subscribe(
    f: &Fixture,
    events: &[&str],
    apps: &[&str],
) -> slipway_core::store::Webhook {
    subscribe_on(&f.store, events, apps)
}

/// A webhook created through `store`, which may be another store than a
/// fixture's own.
pub(crate) fn subscribe_on(
    store: &slipway_core::store::Store,
    events: &[&str],
    apps: &[&str],
) -> slipway_core::store::Webhook {
    let new = NewWebhook {
        url: "https://example.com/hook".into(),
        kind: WebhookKind::Generic,
        events: events
            .iter()
            .map(|e| EventPattern::parse(e).unwrap())
            .collect(),
        apps: apps.iter().map(|a| AppName::parse(a).unwrap()).collect(),
        description: "ci".into(),
    };
    store.create_webhook(&new, "tester").unwrap().0
}

pub(crate) fn types_of(f: &Fixture, webhook: &slipway_core::store::Webhook) -> Vec<String> {
    let mut list = f.store.list_deliveries(&webhook.id, 100).unwrap();
    list.reverse();
    list.into_iter().map(|d| d.event_type.to_string()).collect()
}

fn subscriptions_are_created_listed_and_deleted(backend: Backend) {
    let f = fixture(backend);
    let new = NewWebhook {
        url: "https://example.com/hook".into(),
        kind: WebhookKind::Slack,
        events: vec![EventPattern::parse("*").unwrap()],
        apps: vec![],
        description: "team channel".into(),
    };
    let (webhook, secret) = f.store.create_webhook(&new, "tester").unwrap();
    assert!(secret.expose().starts_with("whsec_"));
    assert_eq!(webhook.kind, WebhookKind::Slack);
    assert_eq!(f.store.list_webhooks().unwrap(), vec![webhook.clone()]);
    assert_eq!(
        f.store.get_webhook(&webhook.id).unwrap(),
        Some(webhook.clone())
    );
    let json = serde_json::to_string(&webhook).unwrap();
    assert!(!json.contains(secret.expose()), "{json}");
    assert!(f.store.delete_webhook(&webhook.id).unwrap());
    assert!(!f.store.delete_webhook(&webhook.id).unwrap());
    assert!(f.store.list_webhooks().unwrap().is_empty());
    assert!(matches!(
        f.store.list_deliveries(&webhook.id, 10),
        Err(StoreError::NotFound(_))
    ));
}

fn events_become_deliveries_for_matching_webhooks_only(backend: Backend) {
    let f = fixture(backend);
    let everything = subscribe(&f, &["*"], &[]);
    let deploys = subscribe(&f, &["deployment.*"], &[]);
    let releases_here = subscribe(&f, &["release.created"], &["myapp"]);
    let elsewhere = subscribe(&f, &["*"], &["otherapp"]);
    let (_, release) = f.build(None);
    f.store
        .promote(&f.app, &release.id, &PromoteOptions::default(), "tester")
        .unwrap();
    assert_eq!(
        types_of(&f, &everything),
        ["build.created", "release.created", "deployment.created"]
    );
    assert_eq!(types_of(&f, &deploys), ["deployment.created"]);
    assert_eq!(types_of(&f, &releases_here), ["release.created"]);
    assert!(types_of(&f, &elsewhere).is_empty());
    let delivery = &f.store.list_deliveries(&deploys.id, 1).unwrap()[0];
    assert_eq!(delivery.status, DeliveryStatus::Pending);
    assert_eq!(delivery.attempts, 0);
    // The delivery carries the id of the event it was written with.
    let events = f.store.list_events(Some(&f.app)).unwrap();
    assert_eq!(delivery.event, events.last().unwrap().id);
}

fn payloads_are_flat_snapshots_without_env_values(backend: Backend) {
    let f = fixture(backend);
    subscribe(&f, &["*"], &[]);
    let (build, _) = f.build(Some(("7329df90c1aa", "fix login")));
    f.change_env(&[("SECRET_TOKEN", "hunter2-value")], &[]);
    let release = f.releases()[0].clone();
    f.store
        .promote(&f.app, &release.id, &PromoteOptions::default(), "tester")
        .unwrap();
    let due = f.store.claim_deliveries("w1", 10, 10, LOCK).unwrap();
    // build, release, env change (+ its release), deployment
    assert_eq!(due.len(), 5);
    for d in &due {
        assert!(!d.payload.contains("hunter2-value"), "{}", d.payload);
    }
    let delivery = |kind: &str| due.iter().find(|d| d.event_type.as_str() == kind).unwrap();
    let payload = |kind: &str| -> Value { serde_json::from_str(&delivery(kind).payload).unwrap() };
    let env = payload("env.changed");
    assert_eq!(env["type"], "env.changed");
    assert_eq!(env["data"]["changes"]["added"][0], "SECRET_TOKEN");
    assert_eq!(env["data"]["release"], release.id.as_str());
    assert_eq!(env["data"]["build"], build.id.as_str());
    let created = payload("deployment.created");
    let data = &created["data"];
    let event = &delivery("deployment.created").event;
    assert_eq!(created["id"].as_str().unwrap(), event.as_str());
    assert_eq!(data["app"], "myapp");
    assert_eq!(data["release"], release.id.as_str());
    assert_eq!(data["build"], build.id.as_str());
    assert_eq!(data["description"], release.description);
    assert_eq!(data["status"], "pending");
    assert_eq!(data["actor"], "tester");
    assert!(data["deployment"].as_str().unwrap().starts_with('D'));
    assert!(created["timestamp"].as_str().unwrap().ends_with('Z'));
}

fn progress_payloads_name_their_deployment(backend: Backend) {
    let f = fixture(backend);
    subscribe(&f, &["deployment.progress"], &[]);
    let (_, release) = f.build(None);
    let (_, deployment) = f
        .store
        .promote(&f.app, &release.id, &PromoteOptions::default(), "tester")
        .unwrap();
    f.store
        .cancel_deployment(&f.app, &deployment.id, "ops")
        .unwrap();
    let due = f.store.claim_deliveries("w1", 10, 10, LOCK).unwrap();
    assert_eq!(due.len(), 1);
    let payload: Value = serde_json::from_str(&due[0].payload).unwrap();
    let data = &payload["data"];
    assert_eq!(payload["type"], "deployment.progress");
    assert_eq!(data["deployment"], deployment.id.as_str());
    assert_eq!(data["release"], release.id.as_str());
    assert_eq!(data["status"], "pending");
    assert_eq!(data["actor"], "ops");
    assert_eq!(data["progress"]["step"], "cancel");
}

fn crash_payloads_say_which_instance_and_what_next(backend: Backend) {
    let f = fixture(backend);
    subscribe(&f, &["app.*"], &[]);
    let (_, release) = f.build(None);
    let crash = AppCrashed {
        app: f.app.clone(),
        service: ServiceName::parse("web").unwrap(),
        release: release.id.clone(),
        instance: "web-r1-abc123".into(),
        reason: "exited with status 1".into(),
        restarts: 2,
        restart_in_ms: 2000,
    };
    f.store.record_crash(&crash).unwrap();
    let due = f.store.claim_deliveries("w1", 10, 10, LOCK).unwrap();
    assert_eq!(due.len(), 1);
    let payload: Value = serde_json::from_str(&due[0].payload).unwrap();
    let data = &payload["data"];
    assert_eq!(payload["type"], "app.crashed");
    assert_eq!(data["release"], release.id.as_str());
    assert_eq!(data["instance"], "web-r1-abc123");
    assert_eq!(data["service"], "web");
    assert_eq!(data["reason"], "exited with status 1");
    assert_eq!(
        (data["restarts"].as_u64(), data["restart_in_ms"].as_u64()),
        (Some(2), Some(2000))
    );
    assert_eq!(data["actor"], "slipway");
}

fn a_claim_locks_a_delivery_until_it_expires(backend: Backend) {
    let f = fixture(backend);
    let webhook = subscribe(&f, &["*"], &[]);
    f.build(None);
    let first = f.store.claim_deliveries("w1", 1, 1, LOCK).unwrap();
    assert_eq!(first.len(), 1);
    assert_eq!(first[0].attempts, 1);
    assert_eq!(first[0].webhook, webhook.id);
    assert_eq!(first[0].secrets.len(), 1);
    // One in flight is this webhook's whole share when its share is one.
    assert!(f
        .store
        .claim_deliveries("w1", 10, 1, LOCK)
        .unwrap()
        .is_empty());
    // The other event is still free; the claimed one is not.
    let second = f.store.claim_deliveries("w2", 10, 10, LOCK).unwrap();
    assert_eq!(second.len(), 1);
    assert_ne!(second[0].id, first[0].id);
    assert!(f
        .store
        .claim_deliveries("w3", 10, 10, LOCK)
        .unwrap()
        .is_empty());
    // A claim whose lock expired (its worker died) comes back.
    let short = TimeDelta::milliseconds(1);
    f.build(None);
    let dying = f.store.claim_deliveries("w4", 10, 10, short).unwrap();
    assert_eq!(dying.len(), 2);
    std::thread::sleep(std::time::Duration::from_millis(20));
    let again = f.store.claim_deliveries("w5", 10, 10, LOCK).unwrap();
    assert_eq!(again.len(), 2);
    assert!(again.iter().all(|d| d.attempts == 2));
    // The dead worker's late outcome does not overwrite the new claim.
    let late = Finished {
        id: dying[0].id.clone(),
        webhook: webhook.id.clone(),
        outcome: Outcome::Delivered { status: 200 },
    };
    f.store.finish_deliveries("w4", &[late]).unwrap();
    let log = f
        .store
        .get_delivery(&webhook.id, &dying[0].id)
        .unwrap()
        .unwrap();
    assert_eq!(log.status, DeliveryStatus::Pending);
}

fn outcomes_are_recorded_and_retries_come_due(backend: Backend) {
    let f = fixture(backend);
    let webhook = subscribe(&f, &["release.created", "build.created"], &[]);
    f.build(None);
    let due = f.store.claim_deliveries("w1", 10, 10, LOCK).unwrap();
    let [a, b] = &due[..] else { panic!("{due:?}") };
    let soon = Utc::now() + TimeDelta::milliseconds(50);
    let finished = [
        Finished {
            id: a.id.clone(),
            webhook: webhook.id.clone(),
            outcome: Outcome::Delivered { status: 204 },
        },
        Finished {
            id: b.id.clone(),
            webhook: webhook.id.clone(),
            outcome: Outcome::Retry {
                status: Some(500),
                error: "the receiver answered 500".into(),
                at: soon,
            },
        },
    ];
    f.store.finish_deliveries("w1", &finished).unwrap();
    let done = f.store.get_delivery(&webhook.id, &a.id).unwrap().unwrap();
    assert_eq!(done.status, DeliveryStatus::Delivered);
    assert_eq!(done.last_status_code, Some(204));
    assert!(done.delivered_at.is_some() && done.next_attempt_at.is_none());
    let retry = f.store.get_delivery(&webhook.id, &b.id).unwrap().unwrap();
    assert_eq!(retry.status, DeliveryStatus::Pending);
    assert_eq!(retry.last_status_code, Some(500));
    assert_eq!(
        retry.last_error.as_deref(),
        Some("the receiver answered 500")
    );
    assert!(f
        .store
        .claim_deliveries("w1", 10, 10, LOCK)
        .unwrap()
        .is_empty());
    std::thread::sleep(std::time::Duration::from_millis(80));
    let again = f.store.claim_deliveries("w1", 10, 10, LOCK).unwrap();
    assert_eq!(again.len(), 1);
    assert_eq!((again[0].id.clone(), again[0].attempts), (b.id.clone(), 2));
    let failed = Finished {
        id: b.id.clone(),
        webhook: webhook.id.clone(),
        outcome: Outcome::Failed {
            status: None,
            error: "connection refused".into(),
        },
    };
    f.store.finish_deliveries("w1", &[failed]).unwrap();
    let log = f.store.get_delivery(&webhook.id, &b.id).unwrap().unwrap();
    assert_eq!((log.status, log.attempts), (DeliveryStatus::Failed, 2));
    assert_eq!(log.last_status_code, None);
}

fn gone_disables_the_webhook_and_fails_its_pending_deliveries(backend: Backend) {
    let f = fixture(backend);
    let webhook = subscribe(&f, &["*"], &[]);
    let other = subscribe(&f, &["*"], &[]);
    f.build(None);
    let due = f.store.claim_deliveries("w1", 1, 1, LOCK).unwrap();
    assert_eq!(due[0].webhook, webhook.id, "oldest first");
    let gone = Finished {
        id: due[0].id.clone(),
        webhook: webhook.id.clone(),
        outcome: Outcome::Gone,
    };
    f.store.finish_deliveries("w1", &[gone]).unwrap();
    let disabled = f.store.get_webhook(&webhook.id).unwrap().unwrap();
    assert!(disabled.disabled_at.is_some());
    assert!(disabled.disabled_reason.unwrap().contains("410"));
    let log = f.store.list_deliveries(&webhook.id, 10).unwrap();
    assert!(
        log.iter().all(|d| d.status == DeliveryStatus::Failed),
        "{log:?}"
    );
    // Later events skip it; the other webhook still gets everything.
    f.build(None);
    assert_eq!(f.store.list_deliveries(&webhook.id, 10).unwrap().len(), 2);
    assert_eq!(f.store.list_deliveries(&other.id, 10).unwrap().len(), 4);
    assert!(matches!(
        f.store.test_webhook(&webhook.id, "tester"),
        Err(StoreError::Conflict(_))
    ));
}

fn rotation_keeps_the_old_secret_signing(backend: Backend) {
    let f = fixture(backend);
    let new = NewWebhook {
        url: "https://example.com/hook".into(),
        kind: WebhookKind::Generic,
        events: vec![EventPattern::parse("*").unwrap()],
        apps: vec![],
        description: String::new(),
    };
    let (webhook, old) = f.store.create_webhook(&new, "tester").unwrap();
    let (rotated, fresh) = f.store.rotate_webhook_secret(&webhook.id).unwrap();
    assert_ne!(old.expose(), fresh.expose());
    let until = rotated.previous_secret_expires_at.unwrap();
    assert!(until > Utc::now() + TimeDelta::hours(23));
    f.build(None);
    let due = f.store.claim_deliveries("w1", 1, 1, LOCK).unwrap();
    let secrets: Vec<&String> = due[0].secrets.iter().map(|s| s.expose()).collect();
    assert_eq!(secrets, [fresh.expose(), old.expose()]);
    assert!(matches!(
        f.store
            .rotate_webhook_secret(&slipway_core::domain::WebhookId::generate()),
        Err(StoreError::NotFound(_))
    ));
}

fn redeliver_and_test_queue_new_deliveries(backend: Backend) {
    let f = fixture(backend);
    let webhook = subscribe(&f, &["build.created"], &[]);
    f.build(None);
    let due = f.store.claim_deliveries("w1", 10, 10, LOCK).unwrap();
    let original = &due[0];
    let again = f.store.redeliver(&webhook.id, &original.id).unwrap();
    assert_ne!(again.id, original.id);
    assert_eq!(again.event, original.event);
    assert_eq!((again.status, again.attempts), (DeliveryStatus::Pending, 0));
    let test = f.store.test_webhook(&webhook.id, "tester").unwrap();
    assert_eq!(test.event_type, BodyKind::Test);
    let due = f.store.claim_deliveries("w1", 10, 10, LOCK).unwrap();
    assert_eq!(due.len(), 2);
    let resent = due.iter().find(|d| d.id == again.id).unwrap();
    assert_eq!(resent.payload, original.payload);
    let unknown = slipway_core::domain::DeliveryId::generate();
    assert!(matches!(
        f.store.redeliver(&webhook.id, &unknown),
        Err(StoreError::NotFound(_))
    ));
}
