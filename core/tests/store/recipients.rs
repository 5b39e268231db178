//! Who receives an event when the webhooks change under a store that has
//! already worked out the recipients of earlier events: through another
//! store of the same database (another process, in production), and with
//! stores of two databases in one process.

use crate::webhooks::{subscribe_on, types_of, LOCK};
use crate::{fixture, on_both_backends};
use slipway_core::domain::ServiceName;
use slipway_core::events::Progress;
use slipway_core::store::{Backend, PromoteOptions};

on_both_backends!(
    webhooks_changed_through_another_store_get_the_next_events,
    each_database_delivers_to_its_own_webhooks,
);

fn webhooks_changed_through_another_store_get_the_next_events(backend: Backend) {
    let f = fixture(backend);
    let other = f.db.store();
    // This store works out the recipients of a build's events: nobody.
    let (_, release) = f.build(None);

    let all = ["*", "deployment.progress"];
    let every = subscribe_on(&other, &all, &[]);
    let removed = subscribe_on(&other, &all, &[]);
    let elsewhere = subscribe_on(&other, &all, &["otherapp"]);
    let (_, deployment) = f
        .store
        .promote(&f.app, &release.id, &PromoteOptions::default(), "tester")
        .unwrap();
    assert_eq!(types_of(&f, &every), ["deployment.created"]);
    assert_eq!(types_of(&f, &removed), ["deployment.created"]);

    // Progress is written outside any transaction when nobody wants it:
    // after a webhook is deleted elsewhere, it still reaches the others.
    assert!(other.delete_webhook(&removed.id).unwrap());
    let step = Progress::Wave {
        service: ServiceName::parse("web").unwrap(),
        release: release.id.clone(),
        instances: 1,
        count: 1,
    };
    f.store.record_progress(&deployment, &step).unwrap();
    assert_eq!(
        types_of(&f, &every),
        ["deployment.created", "deployment.progress"]
    );
    assert!(types_of(&f, &elsewhere).is_empty());
    let due = f.store.claim_deliveries("w1", 10, 10, LOCK).unwrap();
    assert_eq!(due.len(), 2, "{due:?}");
    assert!(due.iter().all(|d| d.webhook != removed.id));
}

/// Stores of two databases in one process, events alternating between
/// them: each database's events go to its own webhooks only.
fn each_database_delivers_to_its_own_webhooks(backend: Backend) {
    let f = fixture(backend);
    let g = fixture(backend);
    let here = subscribe_on(&f.store, &["release.created"], &[]);
    for _ in 0..2 {
        f.build(None);
        g.build(None);
    }
    assert_eq!(types_of(&f, &here), ["release.created", "release.created"]);
    assert!(g
        .store
        .claim_deliveries("w1", 10, 10, LOCK)
        .unwrap()
        .is_empty());

    let there = subscribe_on(&g.store, &["release.created"], &[]);
    f.build(None);
    g.build(None);
    assert_eq!(types_of(&f, &here).len(), 3);
    assert_eq!(types_of(&g, &there), ["release.created"]);
}
