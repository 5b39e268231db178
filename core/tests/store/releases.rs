//! Builds, releases and env: the rules of the seed.

use crate::{change, env_of, fixture, on_both_backends};
use serde_json::json;
use slipway_core::domain::{AppName, BuildId, Deadline, Description, Env, ReleaseId};
use slipway_core::events::EventKind;
use slipway_core::store::{Backend, NewBuild, NewRelease, Store, StoreError};
use slipway_core::testing::{force_next_ids, ManifestBuilder, ServiceBuilder, TestDatabase};
use std::collections::BTreeMap;

on_both_backends!(
    build_and_env_releases_follow_the_description_rules,
    a_new_release_starts_from_the_latest_created_release,
    an_env_change_that_changes_nothing_creates_nothing,
    a_rejected_change_writes_nothing,
    events_are_written_with_their_changes,
    apps_conflict_and_missing_things_are_not_found,
    releases_page_newest_first,
    explicit_releases_take_what_is_left_out_from_the_latest,
    deleting_an_app_keeps_its_events,
    tokens_authenticate_by_hash,
    migrations_are_idempotent,
    concurrent_env_changes_lose_nothing,
    an_id_collision_is_retried_not_surfaced,
    app_settings_change,
);

fn build_and_env_releases_follow_the_description_rules(backend: Backend) {
    let f = fixture(backend);
    // An env release of an app without builds runs nothing built.
    let early = AppName::parse("early").unwrap();
    f.store.create_app(&early, None, "tester").unwrap();
    let unbuilt = f
        .store
        .change_env(&early, &change(&[("EARLY", "1")], &[]), None, "tester")
        .unwrap()
        .unwrap();
    let (env, none) = f.store.release_to_run(&early, &unbuilt.id).unwrap();
    assert_eq!(env.get("EARLY"), Some("1"));
    assert!(none.is_none(), "{none:?}");
    let (build, release) = f.build(Some(("7329df90c1abcdef", "this is my commit message")));
    assert_eq!(
        release.description,
        "build 7329df90c1 this is my commit message"
    );
    assert_eq!(build.description, release.description);
    assert_eq!(release.build.as_ref(), Some(&build.id));
    assert_eq!(build.release, release.id);

    let first = f.change_env(&[("FOO", "1"), ("BAR", "2")], &[]).unwrap();
    assert_eq!(first.description, "env add:BAR add:FOO");
    let second = f
        .change_env(&[("BAR", "3"), ("BAZ", "4")], &["FOO"])
        .unwrap();
    assert_eq!(second.description, "env add:BAZ change:BAR remove:FOO");
    for env_release in [&first, &second] {
        assert_eq!(env_release.build.as_ref(), Some(&build.id));
    }
    let env = env_of(&f.store, &f.app, &second.id);
    assert_eq!(env.get("BAR"), Some("3"));
    assert_eq!(env.get("BAZ"), Some("4"));
    assert_eq!(env.get("FOO"), None);
    // What a rollout reads: the same env, and the release's build.
    let (to_run, built) = f.store.release_to_run(&f.app, &second.id).unwrap();
    assert_eq!(to_run, env);
    assert_eq!(built.map(|b| b.id), Some(build.id.clone()));

    let ids: Vec<_> = f.releases().into_iter().map(|r| r.id).collect();
    assert_eq!(ids, [second.id, first.id, release.id], "newest first");
}

fn a_new_release_starts_from_the_latest_created_release(backend: Backend) {
    let f = fixture(backend);
    let (b1, _) = f.build(None);
    f.change_env(&[("KEPT", "yes")], &[]).unwrap();
    let (b2, r2) = f.build(None);
    assert_eq!(env_of(&f.store, &f.app, &r2.id).get("KEPT"), Some("yes"));
    // An explicit release of the older build is now the latest created...
    let explicit = NewRelease {
        build: Some(b1.id.clone()),
        ..NewRelease::default()
    };
    f.store.create_release(&f.app, &explicit, "tester").unwrap();
    // ...so the next env change pairs with b1, not with the newest build b2.
    let next = f.change_env(&[("MORE", "1")], &[]).unwrap();
    assert_eq!(next.build, Some(b1.id));
    assert_ne!(next.build, Some(b2.id));
    assert_eq!(env_of(&f.store, &f.app, &next.id).get("KEPT"), Some("yes"));
}

fn an_env_change_that_changes_nothing_creates_nothing(backend: Backend) {
    let f = fixture(backend);
    f.change_env(&[("FOO", "1")], &[]).unwrap();
    let events = f.event_kinds().len();
    assert!(f.change_env(&[("FOO", "1")], &[]).is_none(), "same value");
    assert!(
        f.change_env(&[], &["ABSENT"]).is_none(),
        "unset of a missing key"
    );
    assert!(f.change_env(&[], &[]).is_none(), "empty change");
    assert_eq!(f.releases().len(), 1);
    assert_eq!(f.event_kinds().len(), events);
}

fn a_rejected_change_writes_nothing(backend: Backend) {
    let f = fixture(backend);
    // Each value is within its limit, but together they pass the env's limit.
    let big = "x".repeat(30 * 1024);
    for i in 0..8 {
        f.change_env(&[(&format!("K{i}"), &big)], &[]).unwrap();
    }
    let (releases, events) = (f.releases().len(), f.event_kinds().len());
    let err = f
        .store
        .change_env(&f.app, &change(&[("K8", &big)], &[]), None, "tester")
        .unwrap_err();
    assert!(matches!(err, StoreError::Invalid(_)), "{err:?}");
    assert!(!err.to_string().contains(&big[..100]), "no value in errors");
    assert_eq!(f.releases().len(), releases);
    assert_eq!(f.event_kinds().len(), events);
}

fn events_are_written_with_their_changes(backend: Backend) {
    let f = fixture(backend);
    f.build(None);
    f.change_env(&[("SECRET", "hunter2")], &[]).unwrap();
    assert_eq!(
        f.event_kinds(),
        [
            EventKind::AppCreated,
            EventKind::BuildCreated,
            EventKind::ReleaseCreated,
            EventKind::ReleaseCreated,
            EventKind::EnvChanged,
        ]
    );
    let events = f.store.list_events(Some(&f.app)).unwrap();
    let env_event = events.last().unwrap();
    assert_eq!(env_event.data["changes"]["added"], json!(["SECRET"]));
    assert_eq!(env_event.actor, "tester");
    for event in &events {
        assert!(!event.data.to_string().contains("hunter2"), "{event:?}");
    }
}

fn apps_conflict_and_missing_things_are_not_found(backend: Backend) {
    let f = fixture(backend);
    let err = f.store.create_app(&f.app, None, "tester").unwrap_err();
    assert!(matches!(err, StoreError::Conflict(_)), "{err:?}");

    let ghost = AppName::parse("ghost").unwrap();
    for err in [
        f.store.get_app(&ghost).unwrap_err(),
        f.store.get_env(&ghost).unwrap_err(),
        f.store.list_releases(&ghost, 10, None).unwrap_err(),
        f.store
            .create_build(
                &ghost,
                &NewBuild {
                    manifest: ManifestBuilder::web(ServiceBuilder::new().command("true")).build(),
                    git: None,
                    description: None,
                },
                "t",
            )
            .unwrap_err(),
        f.store
            .change_env(&ghost, &change(&[("A", "1")], &[]), None, "t")
            .unwrap_err(),
        f.store.delete_app(&ghost, "t").unwrap_err(),
    ] {
        assert!(matches!(err, StoreError::NotFound(_)), "{err:?}");
    }

    // A build of another app is foreign: not found here.
    let other = AppName::parse("other").unwrap();
    f.store.create_app(&other, None, "tester").unwrap();
    let new = NewBuild {
        manifest: ManifestBuilder::web(ServiceBuilder::new().command("true")).build(),
        git: None,
        description: None,
    };
    let (foreign, foreign_release) = f.store.create_build(&other, &new, "tester").unwrap();
    let explicit = NewRelease {
        build: Some(foreign.id.clone()),
        ..NewRelease::default()
    };
    let err = f
        .store
        .create_release(&f.app, &explicit, "tester")
        .unwrap_err();
    assert!(matches!(err, StoreError::NotFound(_)), "{err:?}");
    let err = f
        .store
        .get_release(&f.app, &foreign_release.id)
        .unwrap_err();
    assert!(matches!(err, StoreError::NotFound(_)), "{err:?}");
    let err = f.store.get_build(&f.app, &foreign.id).unwrap_err();
    assert!(matches!(err, StoreError::NotFound(_)), "{err:?}");
    let err = f
        .store
        .release_to_run(&f.app, &foreign_release.id)
        .unwrap_err();
    assert!(matches!(err, StoreError::NotFound(_)), "{err:?}");
    assert!(f.releases().is_empty());
}

fn releases_page_newest_first(backend: Backend) {
    let f = fixture(backend);
    let created: Vec<ReleaseId> = (0..5)
        .map(|i| f.change_env(&[("N", &i.to_string())], &[]).unwrap().id)
        .collect();
    let page = f.store.list_releases(&f.app, 2, None).unwrap();
    let ids: Vec<_> = page.iter().map(|r| r.id.clone()).collect();
    assert_eq!(ids, [created[4].clone(), created[3].clone()]);
    let page = f.store.list_releases(&f.app, 2, Some(&created[3])).unwrap();
    let ids: Vec<_> = page.iter().map(|r| r.id.clone()).collect();
    assert_eq!(ids, [created[2].clone(), created[1].clone()]);
    let page = f
        .store
        .list_releases(&f.app, 10, Some(&created[0]))
        .unwrap();
    assert!(page.is_empty());
    assert!(
        page.iter().all(|r| r.env.is_none()),
        "listings carry no env"
    );
    let unknown = ReleaseId::generate();
    let err = f
        .store
        .list_releases(&f.app, 2, Some(&unknown))
        .unwrap_err();
    assert!(matches!(err, StoreError::NotFound(_)), "{err:?}");

    let builds: Vec<BuildId> = (0..3).map(|_| f.build(None).0.id).collect();
    let page = f.store.list_builds(&f.app, 2, Some(&builds[2])).unwrap();
    let ids: Vec<_> = page.into_iter().map(|b| b.id).collect();
    assert_eq!(ids, [builds[1].clone(), builds[0].clone()]);
}

fn explicit_releases_take_what_is_left_out_from_the_latest(backend: Backend) {
    let f = fixture(backend);
    let (build, _) = f.build(None);
    f.change_env(&[("A", "1"), ("B", "2")], &[]).unwrap();

    let env = Env::parse(BTreeMap::from([
        ("A".into(), "9".into()),
        ("C".into(), "3".into()),
    ]))
    .unwrap();
    let new = NewRelease {
        env: Some(env),
        ..NewRelease::default()
    };
    let release = f.store.create_release(&f.app, &new, "tester").unwrap();
    assert_eq!(
        release.build.as_ref(),
        Some(&build.id),
        "build from the latest"
    );
    assert_eq!(release.description, "env add:C change:A remove:B");

    let new = NewRelease {
        description: Some(Description::parse("hand made").unwrap()),
        ..NewRelease::default()
    };
    let release = f.store.create_release(&f.app, &new, "tester").unwrap();
    assert_eq!(release.description, "hand made");
    assert_eq!(
        env_of(&f.store, &f.app, &release.id).get("C"),
        Some("3"),
        "env from the latest"
    );
}

fn deleting_an_app_keeps_its_events(backend: Backend) {
    let f = fixture(backend);
    f.build(None);
    f.store.delete_app(&f.app, "tester").unwrap();
    assert!(matches!(
        f.store.get_app(&f.app),
        Err(StoreError::NotFound(_))
    ));
    assert_eq!(f.event_kinds().last(), Some(&EventKind::AppDeleted));
    // The name is free again once a worker purged the rows, and the new
    // app starts empty.
    assert!(f.store.purge_app(&f.app, chrono::Utc::now()).unwrap());
    f.store.create_app(&f.app, None, "tester").unwrap();
    assert!(f.releases().is_empty());
    assert!(f.store.list_builds(&f.app, 10, None).unwrap().is_empty());
}

fn tokens_authenticate_by_hash(backend: Backend) {
    let f = fixture(backend);
    f.store.ensure_admin_token("admin", "hash-one").unwrap();
    let identity = f.store.authenticate("hash-one").unwrap().unwrap();
    assert_eq!(
        (identity.name.as_str(), identity.grant.scope.as_str()),
        ("admin", "admin")
    );
    assert!(f.store.authenticate("hash-two").unwrap().is_none());
    // A new configured token replaces the old one.
    f.store.ensure_admin_token("admin", "hash-two").unwrap();
    assert!(f.store.authenticate("hash-one").unwrap().is_none());
    let again = f.store.authenticate("hash-two").unwrap().unwrap();
    assert_eq!(again.token, identity.token, "same token row");
}

fn migrations_are_idempotent(backend: Backend) {
    let db = TestDatabase::new(backend);
    let store = db.store();
    assert_eq!(store.migrate().unwrap(), 0);
    // Replicas starting together: each migrates, none fails.
    let handles: Vec<_> = (0..3)
        .map(|_| {
            let url = db.url().to_owned();
            std::thread::spawn(move || Store::connect(&url, 1).unwrap().migrate().unwrap())
        })
        .collect();
    for handle in handles {
        assert_eq!(handle.join().unwrap(), 0);
    }
}

fn concurrent_env_changes_lose_nothing(backend: Backend) {
    let f = fixture(backend);
    let threads: Vec<_> = (0..6)
        .map(|i| {
            let (store, app) = (f.store.clone(), f.app.clone());
            std::thread::spawn(move || {
                let change = change(&[(&format!("KEY_{i}"), "v")], &[]);
                store
                    .change_env(&app, &change, None, "tester")
                    .unwrap()
                    .unwrap()
            })
        })
        .collect();
    for thread in threads {
        thread.join().unwrap();
    }
    let (env, latest) = f.store.get_env(&f.app).unwrap();
    assert_eq!(env.len(), 6, "every change is in the latest env: {env:?}");
    assert_eq!(latest, Some(f.releases()[0].id.clone()));
    assert_eq!(f.releases().len(), 6);
}

fn an_id_collision_is_retried_not_surfaced(backend: Backend) {
    let f = fixture(backend);
    let taken = f.change_env(&[("A", "1")], &[]).unwrap().id;
    force_next_ids(&[taken.as_str()]);
    let next = f.change_env(&[("A", "2")], &[]).unwrap();
    assert_ne!(next.id, taken);
    assert_eq!(f.releases().len(), 2);
    assert_eq!(
        env_of(&f.store, &f.app, &taken).get("A"),
        Some("1"),
        "untouched"
    );
}

fn app_settings_change(backend: Backend) {
    let f = fixture(backend);
    assert_eq!(
        f.store.get_app(&f.app).unwrap().deadline_seconds,
        Deadline::DEFAULT
    );
    let deadline = Deadline::parse(120, "deadline_seconds").unwrap();
    let app = f.store.update_app(&f.app, deadline, "tester").unwrap();
    assert_eq!(app.deadline_seconds.seconds(), 120);
    assert_eq!(f.store.list_apps().unwrap(), [app]);
}
