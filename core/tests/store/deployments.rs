//! Deployments: one open per app, the state machine, the active release,
//! release statuses and cancellation.

use crate::{change, fixture, on_both_backends, Fixture};
use chrono::TimeDelta;
use slipway_core::domain::{Deadline, DeploymentStatus as S, ReleaseId};
use slipway_core::events::EventKind;
use slipway_core::store::{Backend, NewBuild, PromoteOptions, ReleaseStatus, StoreError};
use slipway_core::testing::{ManifestBuilder, ServiceBuilder};

on_both_backends!(
    a_promotion_starts_pending_with_the_apps_deadline,
    a_second_promotion_conflicts_and_deploy_leaves_nothing_behind,
    success_makes_the_release_active_and_failure_does_not,
    transitions_follow_the_state_machine,
    cancel_marks_an_open_deployment,
    rollback_releases_an_older_build_and_env,
);

pub(crate) const TTL: TimeDelta = TimeDelta::seconds(30);

pub(crate) fn promote(f: &Fixture, release: &ReleaseId) -> slipway_core::store::Deployment {
    let (_, deployment) = f
        .store
        .promote(&f.app, release, &PromoteOptions::default(), "tester")
        .unwrap();
    deployment
}

/// Drives a deployment through `statuses` as worker `w1`.
fn drive(f: &Fixture, id: &slipway_core::domain::DeploymentId, statuses: &[S]) {
    let (_, lease) = f.store.claim_deployment(id, "w1", TTL).unwrap().unwrap();
    for status in statuses {
        f.store
            .transition_deployment(id, &lease, *status, Some("because"))
            .unwrap();
    }
}

fn status_of(f: &Fixture, release: &ReleaseId) -> ReleaseStatus {
    let releases = f.releases();
    releases
        .into_iter()
        .find(|r| &r.id == release)
        .unwrap()
        .status
}

fn a_promotion_starts_pending_with_the_apps_deadline(backend: Backend) {
    let f = fixture(backend);
    let (_, release) = f.build(None);
    let before = chrono::Utc::now();
    let options = PromoteOptions {
        traceparent: Some("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01".into()),
        ..PromoteOptions::default()
    };
    let (shown, deployment) = f
        .store
        .promote(&f.app, &release.id, &options, "ci")
        .unwrap();
    assert_eq!(shown.status, ReleaseStatus::Promoting);
    assert_eq!(deployment.status, S::Pending);
    assert_eq!(deployment.previous_release, None);
    assert_eq!(deployment.actor, "ci");
    assert_eq!(
        deployment.trace_id.as_deref(),
        Some("4bf92f3577b34da6a3ce929d0e0e4736")
    );
    let deadline = (deployment.deadline_at - before).num_seconds();
    assert!(
        (599..=601).contains(&deadline),
        "default 10 minutes, got {deadline}s"
    );
    assert_eq!(status_of(&f, &release.id), ReleaseStatus::Promoting);
    assert_eq!(f.event_kinds().last(), Some(&EventKind::DeploymentCreated));
    assert_eq!(
        f.store.get_deployment(&f.app, &deployment.id).unwrap(),
        deployment
    );
}

fn a_second_promotion_conflicts_and_deploy_leaves_nothing_behind(backend: Backend) {
    let f = fixture(backend);
    let (_, release) = f.build(None);
    let first = promote(&f, &release.id);
    let (releases, events) = (f.releases().len(), f.event_kinds().len());

    let err = f
        .store
        .promote(&f.app, &release.id, &PromoteOptions::default(), "t")
        .unwrap_err();
    let StoreError::Conflict(message) = err else {
        panic!("{err:?}")
    };
    assert!(
        message.contains(first.id.as_str()),
        "names the running one: {message}"
    );

    let build = NewBuild {
        manifest: ManifestBuilder::web(ServiceBuilder::new().command("true")).build(),
        git: None,
        description: None,
    };
    let err = f
        .store
        .deploy(&f.app, &build, &PromoteOptions::default(), "t")
        .unwrap_err();
    assert!(matches!(err, StoreError::Conflict(_)), "{err:?}");
    let err = f
        .store
        .change_env_and_promote(
            &f.app,
            &change(&[("A", "1")], &[]),
            None,
            &PromoteOptions::default(),
            "t",
        )
        .unwrap_err();
    assert!(matches!(err, StoreError::Conflict(_)), "{err:?}");
    assert_eq!(
        f.releases().len(),
        releases,
        "no build or release was left behind"
    );
    assert_eq!(f.event_kinds().len(), events);

    // Concurrent promotions from several threads: exactly one wins.
    drive(&f, &first.id, &[S::Running, S::Succeeded]);
    let winners = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..4)
            .map(|_| {
                scope.spawn(|| {
                    f.store
                        .promote(&f.app, &release.id, &PromoteOptions::default(), "t")
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().unwrap())
            .filter(Result::is_ok)
            .count()
    });
    assert_eq!(winners, 1);
}

fn success_makes_the_release_active_and_failure_does_not(backend: Backend) {
    let f = fixture(backend);
    let (_, r1) = f.build(None);
    let d1 = promote(&f, &r1.id);
    drive(&f, &d1.id, &[S::Running, S::Succeeded]);
    assert_eq!(
        f.store.get_app(&f.app).unwrap().active_release.as_ref(),
        Some(&r1.id)
    );
    assert_eq!(status_of(&f, &r1.id), ReleaseStatus::Active);

    let (_, r2) = f.build(None);
    let d2 = promote(&f, &r2.id);
    assert_eq!(d2.previous_release.as_ref(), Some(&r1.id));
    drive(&f, &d2.id, &[S::Running, S::RollingBack, S::RolledBack]);
    assert_eq!(
        f.store.get_app(&f.app).unwrap().active_release.as_ref(),
        Some(&r1.id)
    );
    assert_eq!(status_of(&f, &r2.id), ReleaseStatus::Failed);
    assert_eq!(status_of(&f, &r1.id), ReleaseStatus::Active);

    let done = f.store.get_deployment(&f.app, &d2.id).unwrap();
    assert_eq!(done.status, S::RolledBack);
    assert_eq!(done.reason.as_deref(), Some("because"));
    assert!(done.started_at.is_some() && done.finished_at.is_some());
    assert!(done.duration_ms.unwrap() >= 0);
    let kinds = f.event_kinds();
    let tail: Vec<_> = kinds.iter().rev().take(4).rev().copied().collect();
    assert_eq!(
        tail,
        [
            EventKind::DeploymentCreated,
            EventKind::DeploymentStarted,
            EventKind::DeploymentRollingBack,
            EventKind::DeploymentRolledBack,
        ]
    );
    let history = f.store.list_deployments(&f.app, 10, None).unwrap();
    let ids: Vec<_> = history.iter().map(|d| d.id.clone()).collect();
    assert_eq!(ids, [d2.id.clone(), d1.id.clone()], "newest first");
    let streamed = f.store.list_deployment_events(&d2.id, 0).unwrap();
    assert_eq!(streamed.len(), 4);
    let after = f
        .store
        .list_deployment_events(&d2.id, streamed[1].seq)
        .unwrap();
    assert_eq!(after.len(), 2);
}

fn transitions_follow_the_state_machine(backend: Backend) {
    let f = fixture(backend);
    let (_, release) = f.build(None);
    let d = promote(&f, &release.id);
    let (_, w1) = f.store.claim_deployment(&d.id, "w1", TTL).unwrap().unwrap();
    let err = f
        .store
        .transition_deployment(&d.id, &w1, S::Succeeded, None)
        .unwrap_err();
    assert!(
        matches!(err, StoreError::Conflict(_)),
        "pending cannot succeed: {err:?}"
    );
    f.store
        .transition_deployment(&d.id, &w1, S::Running, None)
        .unwrap();
    f.store
        .transition_deployment(&d.id, &w1, S::Failed, Some("no previous release"))
        .unwrap();
    let err = f
        .store
        .transition_deployment(&d.id, &w1, S::Running, None)
        .unwrap_err();
    assert!(
        matches!(err, StoreError::LeaseLost(_) | StoreError::Conflict(_)),
        "{err:?}"
    );
    assert!(
        f.store
            .claim_deployment(&d.id, "w1", TTL)
            .unwrap()
            .is_none(),
        "final"
    );
    assert_eq!(f.store.get_app(&f.app).unwrap().active_release, None);
}

fn cancel_marks_an_open_deployment(backend: Backend) {
    let f = fixture(backend);
    let (_, release) = f.build(None);
    let d = promote(&f, &release.id);
    // What workers watch: the flag of each deployment that exists, in one read.
    let gone = slipway_core::domain::DeploymentId::generate();
    let watched = [d.id.clone(), gone];
    let asked = f.store.cancel_requests(&watched).unwrap();
    assert_eq!(asked, [(d.id.clone(), false)].into());
    let cancelled = f.store.cancel_deployment(&f.app, &d.id, "ops").unwrap();
    assert!(cancelled.cancel_requested);
    let asked = f.store.cancel_requests(&watched).unwrap();
    assert_eq!(asked, [(d.id.clone(), true)].into());
    assert_eq!(cancelled.status, S::Pending, "the worker does the rest");
    // Who asked is on record, once.
    f.store
        .cancel_deployment(&f.app, &d.id, "someone else")
        .unwrap();
    let asked: Vec<_> = f
        .store
        .list_events(Some(&f.app))
        .unwrap()
        .into_iter()
        .filter(|e| e.kind == EventKind::DeploymentProgress && e.data["step"] == "cancel")
        .collect();
    assert_eq!(asked.len(), 1);
    assert_eq!(
        (asked[0].actor.as_str(), &asked[0].data["by"]),
        ("ops", &serde_json::json!("ops"))
    );
    drive(&f, &d.id, &[S::Running, S::Failed]);
    let err = f.store.cancel_deployment(&f.app, &d.id, "ops").unwrap_err();
    assert!(matches!(err, StoreError::Conflict(_)), "{err:?}");
    let other = slipway_core::domain::AppName::parse("other").unwrap();
    f.store.create_app(&other, None, "t").unwrap();
    let err = f.store.cancel_deployment(&other, &d.id, "ops").unwrap_err();
    assert!(matches!(err, StoreError::NotFound(_)), "foreign: {err:?}");
}

fn rollback_releases_an_older_build_and_env(backend: Backend) {
    let f = fixture(backend);
    let (b1, _) = f.build(None);
    let r1 = f.change_env(&[("A", "1")], &[]).unwrap();
    f.build(None);
    f.change_env(&[("A", "2")], &[]).unwrap();
    let options = PromoteOptions {
        deadline: Some(Deadline::parse(30, "deadline_seconds").unwrap()),
        ..PromoteOptions::default()
    };
    let (release, deployment) = f.store.rollback(&f.app, &r1.id, &options, "t").unwrap();
    assert_eq!(release.description, format!("rollback to {}", r1.id));
    assert_eq!(release.build.as_ref(), Some(&b1.id));
    assert_eq!(
        crate::env_of(&f.store, &f.app, &release.id).get("A"),
        Some("1")
    );
    assert_eq!(deployment.release, release.id);
    let seconds = (deployment.deadline_at - deployment.created_at).num_seconds();
    assert_eq!(seconds, 30);
}
