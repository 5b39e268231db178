//! A latest release whose env no configured key opens: builds and env
//! changes answer 409 `release_unreadable` naming the release and what to
//! do (never a value, never a 500), change nothing, and a release with an
//! explicit whole env gets the app going again.

use crate::on_both_backends;
use reqwest::Method;
use serde_json::json;
use slipway_api::testing::{expect_error, expect_status, spawn_app, TestApp};
use slipway_core::domain::{AppName, Env};
use slipway_core::seal::{generate_key, Keyring};
use slipway_core::store::{Backend, NewRelease};
use std::collections::BTreeMap;

on_both_backends!(
    an_unreadable_release_is_a_409_naming_it,
    an_explicit_env_gets_past_it
);

const VALUE: &str = "value-that-must-not-leak";

/// The app `myapp` whose latest release was sealed under a key the API
/// does not have (as after losing SLIPWAY_SECRET_KEY); its id.
async fn app_with_unreadable_release(backend: Backend) -> (TestApp, String) {
    let app = spawn_app(backend).await;
    app.create_app("myapp").await;
    app.build("myapp", json!({})).await;
    let lost = Keyring::from_base64(generate_key().unwrap().expose(), None).unwrap();
    let env = Env::parse(BTreeMap::from([("SECRET".to_owned(), VALUE.to_owned())])).unwrap();
    let new = NewRelease {
        env: Some(env),
        ..NewRelease::default()
    };
    let name = AppName::parse("myapp").unwrap();
    let release = app
        .db
        .store_with_keyring(lost)
        .create_release(&name, &new, "tester")
        .unwrap();
    (app, release.id.to_string())
}

async fn expect_unreadable(response: reqwest::Response, release: &str) {
    let message = expect_error(response, 409, "release_unreadable").await;
    assert!(
        message.contains(&format!("release {release}'s env")),
        "{message}"
    );
    assert!(message.contains("SLIPWAY_SECRET_KEY_PREVIOUS"), "{message}");
    assert!(message.contains("POST /apps/myapp/releases"), "{message}");
    assert!(!message.contains(VALUE), "{message}");
}

async fn an_unreadable_release_is_a_409_naming_it(backend: Backend) {
    let (app, release) = app_with_unreadable_release(backend).await;
    let events = app.event_count("myapp");
    let manifest = json!({ "manifest": { "services": { "web": { "command": "true" } } } });
    let builds = app
        .send_json(Method::POST, "/apps/myapp/builds", &manifest)
        .await;
    expect_unreadable(builds, &release).await;
    let env = app.patch_env("myapp", json!({ "set": { "B": "2" } })).await;
    expect_unreadable(env, &release).await;
    let promoting = json!({ "set": { "B": "2" }, "promote": true });
    expect_unreadable(app.patch_env("myapp", promoting).await, &release).await;
    let deploy = app
        .send_json(Method::POST, "/apps/myapp/deploy", &manifest)
        .await;
    expect_unreadable(deploy, &release).await;
    expect_unreadable(app.get("/apps/myapp/env").await, &release).await;
    let shown = app.get(&format!("/apps/myapp/releases/{release}")).await;
    expect_unreadable(shown, &release).await;

    assert_eq!(app.event_count("myapp"), events, "nothing was written");
    assert_eq!(
        app.releases("myapp").await.len(),
        2,
        "the listing still reads"
    );
}

async fn an_explicit_env_gets_past_it(backend: Backend) {
    let (app, release) = app_with_unreadable_release(backend).await;
    let body = json!({ "env": { "SECRET": "replaced" } });
    let created = app
        .send_json(Method::POST, "/apps/myapp/releases", &body)
        .await;
    let created = expect_status(created, 201).await;
    assert_eq!(
        created["release"]["description"],
        format!("env replaced: release {release}'s env could not be opened")
    );
    app.build("myapp", json!({})).await;
    let env = expect_status(app.get("/apps/myapp/env").await, 200).await;
    assert_eq!(env["env"]["SECRET"], "replaced", "{env}");
}
