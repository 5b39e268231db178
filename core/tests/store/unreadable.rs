//! A release whose env no configured key opens: every new release starts
//! from the latest one's env, so builds and env changes fail with an error
//! naming that release (never a value), and an explicit whole env is the
//! way out.

use crate::{change, on_both_backends};
use slipway_core::domain::{AppName, Env, ReleaseId};
use slipway_core::seal::{generate_key, Keyring, SealError};
use slipway_core::store::{Backend, NewBuild, NewRelease, Store, StoreError};
use slipway_core::testing::{ManifestBuilder, ServiceBuilder, TestDatabase};
use std::collections::BTreeMap;

on_both_backends!(
    an_unreadable_latest_release_is_named_by_every_write_that_needs_it,
    an_explicit_env_replaces_an_unreadable_one,
);

const VALUE: &str = "value-that-must-not-leak";

/// A store sealing with a key of its own, and an app whose latest release
/// was sealed under another key (as after losing SLIPWAY_SECRET_KEY).
fn unreadable(db: &TestDatabase) -> (Store, AppName, ReleaseId) {
    let app = AppName::parse("myapp").unwrap();
    let lost = db.store_with_keyring(fresh_keyring());
    lost.create_app(&app, None, "tester").unwrap();
    let set = change(&[("SECRET", VALUE)], &[]);
    let release = lost
        .change_env(&app, &set, None, "tester")
        .unwrap()
        .unwrap();
    (db.store_with_keyring(fresh_keyring()), app, release.id)
}

fn fresh_keyring() -> Keyring {
    Keyring::from_base64(generate_key().unwrap().expose(), None).unwrap()
}

fn build() -> NewBuild {
    NewBuild {
        manifest: ManifestBuilder::web(ServiceBuilder::new().command("true")).build(),
        git: None,
        description: None,
    }
}

fn assert_names<T: std::fmt::Debug>(what: &str, result: Result<T, StoreError>, id: &ReleaseId) {
    let err = result.unwrap_err();
    match &err {
        StoreError::UnreadableRelease {
            app,
            release,
            source: SealError::UnknownKey { .. },
        } => {
            assert_eq!(app, "myapp", "{what}");
            assert_eq!(release, id.as_str(), "{what}");
        }
        other => panic!("{what}: {other:?}"),
    }
    let shown = format!("{err} {err:?}");
    assert!(shown.contains(id.as_str()), "{what}: {shown}");
    assert!(!shown.contains(VALUE), "{what}: {shown}");
}

fn an_unreadable_latest_release_is_named_by_every_write_that_needs_it(backend: Backend) {
    let db = TestDatabase::new(backend);
    let (store, app, id) = unreadable(&db);
    assert_names("build", store.create_build(&app, &build(), "t"), &id);
    let set = change(&[("B", "2")], &[]);
    assert_names("env change", store.change_env(&app, &set, None, "t"), &id);
    assert_names("env", store.get_env(&app), &id);
    assert_names("release", store.get_release(&app, &id), &id);
    let new = NewRelease::default();
    assert_names("release", store.create_release(&app, &new, "t"), &id);
    // Nothing was written; the listing (no values) still reads.
    assert_eq!(store.list_releases(&app, 10, None).unwrap().len(), 1);
}

fn an_explicit_env_replaces_an_unreadable_one(backend: Backend) {
    let db = TestDatabase::new(backend);
    let (store, app, id) = unreadable(&db);
    let env = Env::parse(BTreeMap::from([("SECRET".into(), "new".into())])).unwrap();
    let new = NewRelease {
        env: Some(env),
        ..NewRelease::default()
    };
    let replaced = store.create_release(&app, &new, "t").unwrap();
    assert_eq!(
        replaced.description,
        format!("env replaced: release {id}'s env could not be opened")
    );
    // The latest release opens again: builds and env changes work.
    let (_, release) = store.create_build(&app, &build(), "t").unwrap();
    let env = store.get_release(&app, &release.id).unwrap().env.unwrap();
    assert_eq!(env.get("SECRET"), Some("new"));
    let set = change(&[("B", "2")], &[]);
    assert!(store.change_env(&app, &set, None, "t").unwrap().is_some());
}
