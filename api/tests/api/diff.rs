//! `GET /apps/{app}/releases/{id}/diff?against=R...`: the build change and
//! the env keys added, changed and removed between two releases, never values.

use serde_json::json;
use slipway_api::testing::{expect_error, expect_status, spawn_app, TestApp};
use slipway_core::store::Backend;

crate::on_both_backends!(
    diff_names_the_build_change_and_env_keys_but_no_values,
    diff_rejects_unknown_releases_and_bad_against_ids,
);

/// Creates `myapp` with: a build, env FOO/BAR, a second build, env change.
/// Returns the four release ids, oldest first, and the two build ids.
async fn history(app: &TestApp) -> (Vec<String>, Vec<String>) {
    app.create_app("myapp").await;
    let id = |v: &serde_json::Value| v.as_str().unwrap().to_owned();
    let first = app.build("myapp", json!({})).await;
    let response = app
        .patch_env("myapp", json!({ "set": { "FOO": "secret-1", "BAR": "2" } }))
        .await;
    let env1 = expect_status(response, 201).await;
    let second = app.build("myapp", json!({})).await;
    let body = json!({ "set": { "BAR": "3", "BAZ": "secret-4" }, "unset": ["FOO"] });
    let env2 = expect_status(app.patch_env("myapp", body).await, 201).await;
    let releases = vec![
        id(&first["release"]["id"]),
        id(&env1["release"]["id"]),
        id(&second["release"]["id"]),
        id(&env2["release"]["id"]),
    ];
    let builds = vec![id(&first["build"]["id"]), id(&second["build"]["id"])];
    (releases, builds)
}

async fn diff_names_the_build_change_and_env_keys_but_no_values(backend: Backend) {
    let app = spawn_app(backend).await;
    let (r, b) = history(&app).await;

    let path = format!("/apps/myapp/releases/{}/diff?against={}", r[3], r[1]);
    let text = app.get(&path).await.text().await.unwrap();
    for secret in ["secret-1", "secret-4", "\"2\"", "\"3\""] {
        assert!(!text.contains(secret), "a value leaked: {text}");
    }
    let diff = expect_status(app.get(&path).await, 200).await;
    assert_eq!(
        diff,
        json!({
            "release": r[3],
            "against": r[1],
            "build": { "from": b[0], "to": b[1], "changed": true },
            "env": { "added": ["BAZ"], "changed": ["BAR"], "removed": ["FOO"] },
        })
    );

    // The other way round, and a release against itself.
    let path = format!("/apps/myapp/releases/{}/diff?against={}", r[1], r[3]);
    let back = expect_status(app.get(&path).await, 200).await;
    assert_eq!(
        back["env"],
        json!({ "added": ["FOO"], "changed": ["BAR"], "removed": ["BAZ"] })
    );
    assert_eq!(back["build"]["from"], b[1]);
    let path = format!("/apps/myapp/releases/{}/diff?against={}", r[2], r[2]);
    let same = expect_status(app.get(&path).await, 200).await;
    assert_eq!(same["build"]["changed"], false);
    assert_eq!(
        same["env"],
        json!({ "added": [], "changed": [], "removed": [] })
    );

    // From the first release (no env) to the env change: keys added only.
    let path = format!("/apps/myapp/releases/{}/diff?against={}", r[1], r[0]);
    let added = expect_status(app.get(&path).await, 200).await;
    assert_eq!(added["build"]["changed"], false);
    assert_eq!(added["env"]["added"], json!(["BAR", "FOO"]));
}

async fn diff_rejects_unknown_releases_and_bad_against_ids(backend: Backend) {
    let app = spawn_app(backend).await;
    let (r, _) = history(&app).await;
    let unknown = "RAAAAAAAAAA";

    let path = format!("/apps/myapp/releases/{unknown}/diff?against={}", r[0]);
    expect_error(app.get(&path).await, 404, "not_found").await;
    let path = format!("/apps/myapp/releases/{}/diff?against={unknown}", r[0]);
    let message = expect_error(app.get(&path).await, 404, "not_found").await;
    assert!(message.contains(unknown), "{message}");
    let path = format!("/apps/nope/releases/{}/diff?against={}", r[1], r[0]);
    expect_error(app.get(&path).await, 404, "not_found").await;
    let path = format!("/apps/myapp/releases/not-an-id/diff?against={}", r[0]);
    expect_error(app.get(&path).await, 404, "not_found").await;

    // A release of another app is not found either.
    app.create_app("other").await;
    let theirs = app.build("other", json!({})).await["release"]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let path = format!("/apps/myapp/releases/{}/diff?against={theirs}", r[0]);
    expect_error(app.get(&path).await, 404, "not_found").await;

    // `against` missing or not a release id: the message names the field.
    let path = format!("/apps/myapp/releases/{}/diff", r[1]);
    let message = expect_error(app.get(&path).await, 422, "invalid").await;
    assert!(message.contains("against"), "{message}");
    for bad in ["B1234567890", "rabc", "R", "%20"] {
        let path = format!("/apps/myapp/releases/{}/diff?against={bad}", r[1]);
        let message = expect_error(app.get(&path).await, 422, "invalid").await;
        assert!(message.contains("against"), "{bad}: {message}");
    }
    // Unknown query parameters are refused.
    let path = format!("/apps/myapp/releases/{}/diff?against={}&x=1", r[1], r[0]);
    expect_error(app.get(&path).await, 400, "bad_request").await;
}
