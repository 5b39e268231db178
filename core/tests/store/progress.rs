//! A rollout's progress: recorded on its own, outside any change, and
//! delivered to the webhooks that want it.

use crate::webhooks::{subscribe, types_of, LOCK};
use crate::{fixture, on_both_backends, Fixture};
use serde_json::Value;
use slipway_core::domain::ServiceName;
use slipway_core::events::{EventKind, Progress};
use slipway_core::store::{Backend, PromoteOptions};

on_both_backends!(a_rollouts_progress_is_delivered_to_the_webhooks_that_want_it);

/// Progress is recorded on its own, outside any change: without a webhook
/// that wants it as one statement, with one in the same transaction as its
/// deliveries. Both ways the event is in the log.
fn a_rollouts_progress_is_delivered_to_the_webhooks_that_want_it(backend: Backend) {
    let f = fixture(backend);
    let elsewhere = subscribe(&f, &["*"], &["otherapp"]);
    let (_, release) = f.build(None);
    let (_, deployment) = f
        .store
        .promote(&f.app, &release.id, &PromoteOptions::default(), "tester")
        .unwrap();
    let wave = |instances| Progress::Wave {
        service: ServiceName::parse("web").unwrap(),
        release: release.id.clone(),
        instances,
        count: 2,
    };
    f.store.record_progress(&deployment, &wave(1)).unwrap();
    let progress = |f: &Fixture| {
        let events = f.store.list_events(Some(&f.app)).unwrap();
        events
            .iter()
            .filter(|e| e.kind == EventKind::DeploymentProgress)
            .count()
    };
    assert_eq!(progress(&f), 1);
    assert!(f
        .store
        .claim_deliveries("w1", 10, 10, LOCK)
        .unwrap()
        .is_empty());

    let here = subscribe(&f, &["deployment.progress"], &["myapp"]);
    f.store.record_progress(&deployment, &wave(2)).unwrap();
    assert_eq!(progress(&f), 2);
    let due = f.store.claim_deliveries("w1", 10, 10, LOCK).unwrap();
    assert_eq!(due.len(), 1);
    assert_eq!(due[0].webhook, here.id);
    let payload: Value = serde_json::from_str(&due[0].payload).unwrap();
    assert_eq!(payload["data"]["progress"]["instances"], 2, "{payload}");
    assert!(types_of(&f, &elsewhere).is_empty());
}
