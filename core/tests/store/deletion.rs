//! Deleting an app: a tombstone every reader and writer treats as not
//! found, the open deployment taken from its driver and ended, the name
//! kept until the rows are purged, and a purge that only removes tombstones.

use crate::{change, fixture, on_both_backends, Fixture};
use chrono::{TimeDelta, Utc};
use slipway_core::domain::{AppName, Deadline, DeploymentId, DeploymentStatus as S};
use slipway_core::events::EventKind;
use slipway_core::store::{
    Backend, NewBuild, NewRelease, PromoteOptions, StoreError, Tombstone, APP_DELETED,
};
use slipway_core::testing::{ManifestBuilder, ServiceBuilder};

on_both_backends!(
    a_deleted_app_is_not_found_by_any_read_or_write,
    a_deleted_name_is_taken_until_its_rows_are_purged,
    deleting_ends_the_open_deployment_with_one_final_event,
    a_purge_removes_the_rows_and_keeps_the_events,
    a_purge_leaves_live_and_recently_deleted_apps_alone,
);

const TTL: TimeDelta = TimeDelta::seconds(30);

fn assert_not_found<T: std::fmt::Debug>(what: &str, result: Result<T, StoreError>) {
    match result {
        Err(StoreError::NotFound(message)) => {
            assert!(message.contains("myapp"), "{what}: {message}")
        }
        other => panic!("{what}: expected not found, got {other:?}"),
    }
}

fn new_build() -> NewBuild {
    NewBuild {
        manifest: ManifestBuilder::web(ServiceBuilder::new().command("true")).build(),
        git: None,
        description: None,
    }
}

/// An app with a build, an env change and a succeeded deployment.
fn deployed(backend: Backend) -> (Fixture, DeploymentId) {
    let f = fixture(backend);
    let (_, release) = f.build(None);
    f.change_env(&[("A", "1")], &[]);
    let options = PromoteOptions::default();
    let (_, deployment) = f
        .store
        .promote(&f.app, &release.id, &options, "tester")
        .unwrap();
    let (_, lease) = f
        .store
        .claim_deployment(&deployment.id, "w1", TTL)
        .unwrap()
        .unwrap();
    for to in [S::Running, S::Succeeded] {
        f.store
            .transition_deployment(&deployment.id, &lease, to, None)
            .unwrap();
    }
    (f, deployment.id)
}

fn a_deleted_app_is_not_found_by_any_read_or_write(backend: Backend) {
    let (f, deployment) = deployed(backend);
    let release = f.releases()[0].id.clone();
    let build = f.store.list_builds(&f.app, 10, None).unwrap()[0].id.clone();
    f.store.delete_app(&f.app, "tester").unwrap();

    let (s, app, options) = (&f.store, &f.app, PromoteOptions::default());
    assert_not_found("get", s.get_app(app));
    assert!(s.list_apps().unwrap().is_empty());
    assert_not_found("releases", s.list_releases(app, 10, None));
    assert_not_found("release", s.get_release(app, &release));
    assert_not_found("builds", s.list_builds(app, 10, None));
    assert_not_found("build", s.get_build(app, &build));
    assert_not_found("deployments", s.list_deployments(app, 10, None));
    assert_not_found("deployment", s.get_deployment(app, &deployment));
    assert_not_found("env", s.get_env(app));
    assert_not_found("update", s.update_app(app, Deadline::DEFAULT, "t"));
    assert_not_found("delete again", s.delete_app(app, "t"));
    assert_not_found("build", s.create_build(app, &new_build(), "t"));
    let set = change(&[("B", "2")], &[]);
    assert_not_found("env change", s.change_env(app, &set, None, "t"));
    let new = NewRelease::default();
    assert_not_found("release", s.create_release(app, &new, "t"));
    assert_not_found("promote", s.promote(app, &release, &options, "t"));
    assert_not_found("deploy", s.deploy(app, &new_build(), &options, "t"));
    assert_not_found("rollback", s.rollback(app, &release, &options, "t"));

    let tombstones = s.list_tombstones().unwrap();
    assert_eq!(tombstones.len(), 1);
    assert_eq!(tombstones[0].app, f.app);
    assert!(tombstones[0].deleted_at <= Utc::now());
    assert_eq!(f.event_kinds().last(), Some(&EventKind::AppDeleted));
}

fn a_deleted_name_is_taken_until_its_rows_are_purged(backend: Backend) {
    let f = fixture(backend);
    f.build(None);
    f.store.delete_app(&f.app, "tester").unwrap();

    let err = f.store.create_app(&f.app, None, "tester").unwrap_err();
    assert!(
        matches!(&err, StoreError::Conflict(m) if m.contains("`myapp` is being deleted")),
        "{err:?}"
    );
    assert_eq!(
        f.store.list_tombstones().unwrap().len(),
        1,
        "nothing changed"
    );

    assert!(f.store.purge_app(&f.app, Utc::now()).unwrap());
    let again = f.store.create_app(&f.app, None, "tester").unwrap();
    assert_eq!(again.active_release, None);
    assert!(f.releases().is_empty(), "the new app starts empty");
}

fn deleting_ends_the_open_deployment_with_one_final_event(backend: Backend) {
    let f = fixture(backend);
    let (_, release) = f.build(None);
    let options = PromoteOptions::default();
    let (_, open) = f
        .store
        .promote(&f.app, &release.id, &options, "ci")
        .unwrap();
    let (_, lease) = f
        .store
        .claim_deployment(&open.id, "w1", TTL)
        .unwrap()
        .unwrap();
    f.store
        .transition_deployment(&open.id, &lease, S::Running, None)
        .unwrap();

    f.store.delete_app(&f.app, "admin").unwrap();

    let ended = f.store.get_deployment_by_id(&open.id).unwrap();
    assert_eq!(ended.status, S::Failed);
    assert_eq!(ended.reason.as_deref(), Some(APP_DELETED));
    assert!(ended.finished_at.is_some());
    // The driver is fenced: no renewal, no transition, no new claim.
    assert!(!f.store.renew_lease(&open.id, &lease, TTL).unwrap());
    let err = f
        .store
        .transition_deployment(&open.id, &lease, S::Succeeded, None)
        .unwrap_err();
    assert!(matches!(err, StoreError::LeaseLost(_)), "{err:?}");
    assert!(f
        .store
        .claim_deployment(&open.id, "w2", TTL)
        .unwrap()
        .is_none());
    assert!(f
        .store
        .take_due_deployments(TimeDelta::milliseconds(-1))
        .unwrap()
        .is_empty());

    let events = f.store.list_deployment_events(&open.id, 0).unwrap();
    let kinds: Vec<_> = events.iter().map(|e| e.kind.as_str()).collect();
    assert_eq!(
        kinds,
        [
            "deployment.created",
            "deployment.started",
            "deployment.failed"
        ]
    );
    let last = events.last().unwrap();
    assert_eq!(last.data["deployment"]["reason"], APP_DELETED);
    assert_eq!(last.actor, "admin");
    let kinds = f.event_kinds();
    assert_eq!(
        kinds[kinds.len() - 2..],
        [EventKind::DeploymentFailed, EventKind::AppDeleted]
    );
}

fn a_purge_removes_the_rows_and_keeps_the_events(backend: Backend) {
    let (f, deployment) = deployed(backend);
    let events = f.store.list_events(Some(&f.app)).unwrap().len();
    f.store.delete_app(&f.app, "tester").unwrap();

    assert!(f.store.purge_app(&f.app, Utc::now()).unwrap());
    assert!(!f.store.purge_app(&f.app, Utc::now()).unwrap(), "once");
    assert_eq!(f.store.list_tombstones().unwrap(), Vec::<Tombstone>::new());
    assert!(matches!(
        f.store.get_deployment_by_id(&deployment),
        Err(StoreError::NotFound(_))
    ));
    // A new app of the name sees none of the old rows.
    f.store.create_app(&f.app, None, "tester").unwrap();
    assert!(f.releases().is_empty());
    assert!(f.store.list_builds(&f.app, 10, None).unwrap().is_empty());
    assert!(f
        .store
        .list_deployments(&f.app, 10, None)
        .unwrap()
        .is_empty());
    // The audit trail stays: the old events, `app.deleted`, the new `app.created`.
    assert_eq!(f.store.list_events(Some(&f.app)).unwrap().len(), events + 2);
}

fn a_purge_leaves_live_and_recently_deleted_apps_alone(backend: Backend) {
    let (f, _) = deployed(backend);
    let other = AppName::parse("other").unwrap();
    f.store.create_app(&other, None, "tester").unwrap();

    assert!(!f.store.purge_app(&f.app, Utc::now()).unwrap(), "live");
    assert_eq!(f.releases().len(), 2);
    assert_eq!(f.store.list_deployments(&f.app, 10, None).unwrap().len(), 1);

    f.store.delete_app(&other, "tester").unwrap();
    let before = Utc::now() - TimeDelta::seconds(60);
    assert!(!f.store.purge_app(&other, before).unwrap(), "too recent");
    assert_eq!(f.store.list_tombstones().unwrap().len(), 1);
    assert!(f.store.purge_app(&other, Utc::now()).unwrap());
    assert!(f.store.get_app(&f.app).is_ok(), "the live app is untouched");
}
