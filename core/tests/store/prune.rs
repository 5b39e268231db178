//! Retention of the event log: old events and deliveries pruned in batches;
//! young ones, pending deliveries (and their events), releases and
//! deployments kept.

use crate::{fixture, on_both_backends, Fixture};
use slipway_core::domain::{EventPattern, WebhookKind};
use slipway_core::events::EventKind;
use slipway_core::store::{Backend, NewWebhook, Webhook, DEFAULT_EVENT_RETENTION};
use std::time::Duration;

on_both_backends!(
    old_rows_go_and_young_or_pending_ones_stay,
    old_rows_go_in_batches_of_the_given_size,
    nothing_is_old_enough_on_a_young_database,
);

const LONG_AGO: &str = "2020-01-01 00:00:00";

fn subscribe_to_everything(f: &Fixture) -> Webhook {
    let new = NewWebhook {
        url: "https://example.com/hook".into(),
        kind: WebhookKind::Generic,
        events: vec![EventPattern::parse("*").unwrap()],
        apps: vec![],
        description: "audit".into(),
    };
    f.store.create_webhook(&new, "tester").unwrap().0
}

fn old_rows_go_and_young_or_pending_ones_stay(backend: Backend) {
    let f = fixture(backend);
    let webhook = subscribe_to_everything(&f);
    f.build(None); // build.created and release.created, a delivery each
    let deliveries = f.store.list_deliveries(&webhook.id, 100).unwrap();
    assert_eq!(deliveries.len(), 2);
    // Everything so far is old; the release.created delivery was delivered,
    // the build.created one is still being retried.
    f.db.execute(&format!("UPDATE events SET created_at = '{LONG_AGO}'"));
    f.db.execute(&format!("UPDATE deliveries SET created_at = '{LONG_AGO}'"));
    f.db.execute("UPDATE deliveries SET status = 'delivered' WHERE event_type = 'release.created'");
    // Young: an env change (release.created and env.changed, pending).
    f.change_env(&[("A", "1")], &[]);

    let pruned = f.store.prune_event_log(DEFAULT_EVENT_RETENTION).unwrap();
    assert_eq!((pruned.deliveries, pruned.batches), (1, 2), "{pruned:?}");

    let left = f.store.list_deliveries(&webhook.id, 100).unwrap();
    let mut left: Vec<_> = left
        .iter()
        .map(|d| (d.event_type.to_string(), d.status.as_str()))
        .collect();
    left.sort();
    assert_eq!(
        left,
        [
            ("build.created".to_owned(), "pending"),
            ("env.changed".to_owned(), "pending"),
            ("release.created".to_owned(), "pending"),
        ],
        "the old delivered one is gone, the old pending one stays"
    );
    // Old events go, except build.created whose delivery is pending.
    assert_eq!(
        f.event_kinds(),
        [
            EventKind::BuildCreated,
            EventKind::ReleaseCreated,
            EventKind::EnvChanged
        ]
    );
    assert_eq!(pruned.events, 2, "app.created and the old release.created");
    // History stays.
    assert_eq!(f.releases().len(), 2);

    // Once delivered, the old event goes on the next pass.
    f.db.execute("UPDATE deliveries SET status = 'failed' WHERE event_type = 'build.created'");
    let pruned = f.store.prune_event_log(DEFAULT_EVENT_RETENTION).unwrap();
    assert_eq!((pruned.deliveries, pruned.events), (1, 1), "{pruned:?}");
    assert_eq!(
        f.event_kinds(),
        [EventKind::ReleaseCreated, EventKind::EnvChanged]
    );
}

fn old_rows_go_in_batches_of_the_given_size(backend: Backend) {
    let f = fixture(backend);
    let webhook = subscribe_to_everything(&f);
    f.db.execute(&format!(
        "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 2500) \
         INSERT INTO events (id, app, kind, data, actor, created_at) \
         SELECT 'EOLD' || i, 'oldapp', 'app.created', '{{}}', 'tester', '{LONG_AGO}' FROM n"
    ));
    f.db.execute(&format!(
        "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 2500) \
         INSERT INTO deliveries (id, webhook, event, event_type, payload, status, attempts, created_at) \
         SELECT 'DOLD' || i, '{}', 'EOLD' || i, 'app.created', '{{}}', 'delivered', 1, '{LONG_AGO}' FROM n",
        webhook.id
    ));
    // (The ids are not valid event ids: nothing reads these rows back.)
    let young = f.store.list_events(Some(&f.app)).unwrap();

    let pruned = f
        .store
        .prune_event_log_in_batches(Duration::from_secs(24 * 60 * 60), 1_000)
        .unwrap();
    assert_eq!(
        (pruned.events, pruned.deliveries),
        (2500, 2500),
        "{pruned:?}"
    );
    assert_eq!(
        pruned.batches, 6,
        "1,000 + 1,000 + 500 rows, for each table"
    );
    assert!(pruned.longest_batch > Duration::ZERO);
    assert_eq!(f.store.list_events(None).unwrap(), young);
    assert!(f
        .store
        .list_deliveries(&webhook.id, 100)
        .unwrap()
        .is_empty());
    let again = f.store.prune_event_log(Duration::from_secs(60)).unwrap();
    assert_eq!(again.batches, 0);
}

fn nothing_is_old_enough_on_a_young_database(backend: Backend) {
    let f = fixture(backend);
    subscribe_to_everything(&f);
    f.build(None);
    let before = f.event_kinds();
    let pruned = f.store.prune_event_log(Duration::from_secs(3600)).unwrap();
    assert_eq!(pruned.events + pruned.deliveries, 0, "{pruned:?}");
    assert_eq!(f.event_kinds(), before);
}
