//! Leases: one drive per deployment (a fencing token per claim), one
//! final transition of racing writers, and what the reconciler queues.

use crate::deployments::{promote, TTL};
use crate::{fixture, on_both_backends};
use chrono::TimeDelta;
use slipway_core::domain::{AppName, DeploymentStatus as S};
use slipway_core::events::EventKind;
use slipway_core::store::{Backend, Lease, StoreError};

on_both_backends!(
    leases_give_a_deployment_one_driver,
    a_claim_to_drive_starts_a_pending_deployment_once,
    racing_transitions_end_a_deployment_once,
    the_reconciler_finds_stale_and_orphaned_deployments,
    supervision_goes_to_one_worker_per_app_and_moves_when_its_lease_lapses,
);

fn leases_give_a_deployment_one_driver(backend: Backend) {
    let f = fixture(backend);
    let (_, release) = f.build(None);
    let d = promote(&f, &release.id);
    let (_, w1) = f.store.claim_deployment(&d.id, "w1", TTL).unwrap().unwrap();
    assert!(
        f.store
            .claim_deployment(&d.id, "w2", TTL)
            .unwrap()
            .is_none(),
        "w1 holds it"
    );
    assert!(
        f.store
            .claim_deployment(&d.id, "w1", TTL)
            .unwrap()
            .is_none(),
        "not even w1 itself claims a live lease twice: one drive at a time"
    );
    assert!(f.store.renew_lease(&d.id, &w1, TTL).unwrap());
    let stranger = Lease {
        owner: "w2".into(),
        epoch: w1.epoch,
    };
    assert!(!f.store.renew_lease(&d.id, &stranger, TTL).unwrap());
    let err = f
        .store
        .transition_deployment(&d.id, &stranger, S::Running, None)
        .unwrap_err();
    assert!(matches!(err, StoreError::LeaseLost(_)), "{err:?}");

    // An expired lease can be taken over, by the same worker name too; the
    // old claim then holds nothing: its token is stale.
    assert!(f.store.release_lease(&d.id, &w1, false).unwrap());
    let (_, expiring) = f
        .store
        .claim_deployment(&d.id, "w1", TimeDelta::milliseconds(-1))
        .unwrap()
        .unwrap();
    let (_, again) = f.store.claim_deployment(&d.id, "w1", TTL).unwrap().unwrap();
    assert!(again.epoch > expiring.epoch && expiring.epoch > w1.epoch);
    assert!(!f.store.renew_lease(&d.id, &expiring, TTL).unwrap());
    assert!(!f.store.release_lease(&d.id, &expiring, false).unwrap());
    let err = f
        .store
        .transition_deployment(&d.id, &expiring, S::Running, None)
        .unwrap_err();
    assert!(matches!(err, StoreError::LeaseLost(_)), "{err:?}");
    f.store
        .transition_deployment(&d.id, &again, S::Running, None)
        .unwrap();
    // Given up on shutdown: anyone may take it at once.
    assert!(f.store.release_lease(&d.id, &again, true).unwrap());
    assert!(f
        .store
        .claim_deployment(&d.id, "w3", TTL)
        .unwrap()
        .is_some());
}

/// The claim a drive begins with moves a pending deployment to `running`
/// with its event, in the claim's transaction; a resumed one is only claimed.
fn a_claim_to_drive_starts_a_pending_deployment_once(backend: Backend) {
    let f = fixture(backend);
    let (_, release) = f.build(None);
    let d = promote(&f, &release.id);
    let running = || {
        let kinds = f.event_kinds();
        kinds
            .iter()
            .filter(|k| **k == EventKind::DeploymentStarted)
            .count()
    };
    let (claimed, lease) = f.store.claim_to_drive(&d.id, "w1", TTL).unwrap().unwrap();
    assert_eq!(claimed.status, S::Running);
    assert!(claimed.started_at.is_some());
    assert_eq!(claimed.lease_epoch, lease.epoch);
    assert_eq!(running(), 1);
    assert!(
        f.store.claim_to_drive(&d.id, "w2", TTL).unwrap().is_none(),
        "w1 holds it"
    );
    // Resumed after the lease lapsed: running still, started once.
    assert!(f.store.release_lease(&d.id, &lease, false).unwrap());
    let (resumed, again) = f.store.claim_to_drive(&d.id, "w2", TTL).unwrap().unwrap();
    assert_eq!(resumed.status, S::Running);
    assert_eq!(resumed.started_at, claimed.started_at);
    assert!(again.epoch > lease.epoch);
    assert_eq!(running(), 1);
    // Final: nothing to claim.
    f.store
        .transition_deployment(&d.id, &again, S::Succeeded, None)
        .unwrap();
    assert!(f.store.claim_to_drive(&d.id, "w3", TTL).unwrap().is_none());
}

/// Two drives racing for the same final move (say, a deployment handed out
/// twice): exactly one transition is written, with one event.
fn racing_transitions_end_a_deployment_once(backend: Backend) {
    let f = fixture(backend);
    let (_, release) = f.build(None);
    let d = promote(&f, &release.id);
    let (_, lease) = f.store.claim_deployment(&d.id, "w1", TTL).unwrap().unwrap();
    f.store
        .transition_deployment(&d.id, &lease, S::Running, None)
        .unwrap();
    let outcomes: Vec<_> = std::thread::scope(|scope| {
        let racers: Vec<_> = (0..4)
            .map(|_| {
                scope.spawn(|| {
                    f.store
                        .transition_deployment(&d.id, &lease, S::Succeeded, None)
                })
            })
            .collect();
        racers.into_iter().map(|r| r.join().unwrap()).collect()
    });
    assert_eq!(
        outcomes.iter().filter(|o| o.is_ok()).count(),
        1,
        "{outcomes:?}"
    );
    let succeeded = f
        .event_kinds()
        .iter()
        .filter(|k| **k == EventKind::DeploymentSucceeded)
        .count();
    assert_eq!(succeeded, 1);
}

fn the_reconciler_finds_stale_and_orphaned_deployments(backend: Backend) {
    let f = fixture(backend);
    let (_, release) = f.build(None);
    let d = promote(&f, &release.id);
    let due = |requeue_after| -> Vec<_> {
        f.store
            .take_due_deployments(requeue_after)
            .unwrap()
            .into_iter()
            .map(|d| d.id)
            .collect()
    };
    let now = TimeDelta::milliseconds(-1);
    let minute = TimeDelta::seconds(60);
    assert!(due(minute).is_empty(), "fresh: its job is on the way");
    assert_eq!(
        due(now),
        std::slice::from_ref(&d.id),
        "its job is long lost"
    );
    assert!(
        due(minute).is_empty(),
        "just queued again: never twice in a row"
    );
    let (_, lease) = f.store.claim_deployment(&d.id, "w1", TTL).unwrap().unwrap();
    assert!(due(now).is_empty(), "leased");
    // The claim took the job: once the lease lapses it is due at once.
    assert!(f.store.release_lease(&d.id, &lease, false).unwrap());
    f.store
        .claim_deployment(&d.id, "w1", TimeDelta::milliseconds(-1))
        .unwrap()
        .unwrap();
    assert_eq!(due(minute), std::slice::from_ref(&d.id), "lease expired");
    assert!(due(minute).is_empty(), "and queued once");
    // Handed over by a worker that queues the job itself: left alone.
    let (_, lease) = f.store.claim_deployment(&d.id, "w2", TTL).unwrap().unwrap();
    assert!(f.store.release_lease(&d.id, &lease, true).unwrap());
    assert!(due(minute).is_empty(), "its job is on the queue");
    f.store.unqueue_deployment(&d.id).unwrap();
    assert_eq!(due(minute), std::slice::from_ref(&d.id), "queueing failed");
}

/// One renewal leases every app nobody holds, renews the worker's own,
/// takes over lapsed ones and leaves another worker's live ones and deleted
/// apps alone.
fn supervision_goes_to_one_worker_per_app_and_moves_when_its_lease_lapses(backend: Backend) {
    let f = fixture(backend);
    let app = |name: &str| AppName::parse(name).unwrap();
    for name in ["b", "c"] {
        f.store.create_app(&app(name), None, "tester").unwrap();
    }
    let names = |owner: &str, ttl: TimeDelta| -> Vec<String> {
        let held = f.store.supervise(owner, ttl).unwrap();
        held.iter().map(|s| s.app.to_string()).collect()
    };
    assert_eq!(names("w1", TTL), ["b", "c", "myapp"]);
    assert_eq!(names("w2", TTL), Vec::<String>::new(), "w1 holds all three");
    assert_eq!(names("w1", TTL), ["b", "c", "myapp"], "renewed");

    f.store.delete_app(&app("c"), "tester").unwrap();
    f.store.create_app(&app("d"), None, "tester").unwrap();
    assert_eq!(names("w2", TTL), ["d"], "the new app; not the deleted one");

    // w1's leases lapse (renewed with a ttl already over): w2 takes them.
    assert_eq!(names("w1", TimeDelta::milliseconds(-1)), ["b", "myapp"]);
    assert_eq!(names("w2", TTL), ["b", "d", "myapp"]);
    assert!(f.store.list_supervised("w1").unwrap().is_empty());
    assert_eq!(names("w1", TTL), Vec::<String>::new());
}
