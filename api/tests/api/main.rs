//! The HTTP API over real HTTP, against the real app on port 0, on SQLite
//! and on PostgreSQL.

mod bad_input;
mod contract;
mod deletion;
mod deployments;
mod diff;
mod idempotency;
mod limits;
mod logs;
mod processes;
mod routing;
mod scopes;
mod tokens;
mod unreadable;
mod webhooks;

use reqwest::Method;
use serde_json::json;
use slipway_api::testing::{expect_error, expect_status, spawn_app};
use slipway_core::store::Backend;

// Every API test is async: one name for them in this crate.
pub(crate) use slipway_core::on_both_backends_async as on_both_backends;

on_both_backends!(
    a_new_user_builds_and_changes_env,
    apps_are_created_listed_updated_and_deleted,
    tokens_are_required_and_accepted_as_bearer_or_basic,
);

async fn a_new_user_builds_and_changes_env(backend: Backend) {
    let app = spawn_app(backend).await;
    app.create_app("myapp").await;

    let created = app
        .build(
            "myapp",
            json!({ "git_sha": "7329df90c1abcdef", "git_message": "this is my commit message" }),
        )
        .await;
    let (build, release) = (&created["build"], &created["release"]);
    assert_eq!(
        release["description"],
        "build 7329df90c1 this is my commit message"
    );
    assert_eq!(release["build"], build["id"]);
    assert_eq!(build["release"], release["id"]);
    assert_eq!(release["status"], "", "a build does not promote");
    assert_eq!(
        build["manifest"]["services"]["web"]["scale"]["count"], 1,
        "defaults filled"
    );

    let response = app
        .patch_env("myapp", json!({ "set": { "FOO": "1", "BAR": "2" } }))
        .await;
    let first = expect_status(response, 201).await["release"].clone();
    assert_eq!(first["description"], "env add:BAR add:FOO");
    let response = app
        .patch_env(
            "myapp",
            json!({ "set": { "BAR": "3", "BAZ": "4" }, "unset": ["FOO"] }),
        )
        .await;
    let second = expect_status(response, 201).await["release"].clone();
    assert_eq!(second["description"], "env add:BAZ change:BAR remove:FOO");
    assert_eq!(first["build"], build["id"]);
    assert_eq!(second["build"], build["id"]);

    let response = app
        .patch_env("myapp", json!({ "set": { "BAR": "3" } }))
        .await;
    assert_eq!(
        expect_status(response, 200).await,
        json!({ "release": null })
    );

    let ids: Vec<_> = app
        .releases("myapp")
        .await
        .iter()
        .map(|r| r["id"].clone())
        .collect();
    assert_eq!(
        ids,
        [
            second["id"].clone(),
            first["id"].clone(),
            release["id"].clone()
        ]
    );

    let env = expect_status(app.get("/apps/myapp/env").await, 200).await;
    assert_eq!(
        env,
        json!({ "env": { "BAR": "3", "BAZ": "4" }, "release": second["id"] })
    );

    let path = format!("/apps/myapp/releases/{}", second["id"].as_str().unwrap());
    let one = expect_status(app.get(&path).await, 200).await;
    assert_eq!(one["env"], json!({ "BAR": "3", "BAZ": "4" }));
    assert_eq!(one["actor"], "admin");
    for listed in app.releases("myapp").await {
        assert!(listed.get("env").is_none(), "listings carry no env values");
    }

    let path = format!("/apps/myapp/builds/{}", build["id"].as_str().unwrap());
    assert_eq!(&expect_status(app.get(&path).await, 200).await, build);
    let builds = expect_status(app.get("/apps/myapp/builds").await, 200).await;
    assert_eq!(builds["builds"], json!([build]));

    // Convox's explicit form: an older build with the latest env.
    let body = json!({ "build": build["id"], "description": "by hand" });
    let response = app
        .send_json(Method::POST, "/apps/myapp/releases", &body)
        .await;
    let explicit = expect_status(response, 201).await["release"].clone();
    assert_eq!(explicit["description"], "by hand");
    assert_eq!(explicit["build"], build["id"]);
}

async fn apps_are_created_listed_updated_and_deleted(backend: Backend) {
    let app = spawn_app(backend).await;
    let created = app.create_app("web-1").await;
    assert_eq!(created["name"], "web-1");
    assert_eq!(created["deadline_seconds"], 600);
    assert_eq!(created["active_release"], json!(null));
    assert!(
        created["created_at"].as_str().unwrap().ends_with('Z'),
        "RFC 3339 UTC"
    );

    let response = app
        .send_json(
            Method::POST,
            "/apps",
            &json!({ "name": "web-2", "deadline_seconds": 60 }),
        )
        .await;
    assert_eq!(expect_status(response, 201).await["deadline_seconds"], 60);
    let response = app
        .send_json(
            Method::PATCH,
            "/apps/web-1",
            &json!({ "deadline_seconds": 120 }),
        )
        .await;
    assert_eq!(expect_status(response, 200).await["deadline_seconds"], 120);

    let list = expect_status(app.get("/apps").await, 200).await;
    let names: Vec<_> = list["apps"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["name"].clone())
        .collect();
    assert_eq!(names, ["web-1", "web-2"]);

    let response = app
        .request(Method::DELETE, "/apps/web-1")
        .send()
        .await
        .unwrap();
    expect_status(response, 204).await;
    expect_error(app.get("/apps/web-1").await, 404, "not_found").await;
    assert_eq!(
        app.event_count("web-1"),
        3,
        "created, updated, deleted: kept"
    );
}

async fn tokens_are_required_and_accepted_as_bearer_or_basic(backend: Backend) {
    let app = spawn_app(backend).await;
    let url = format!("{}/apps", app.url);

    let response = app.client.get(&url).send().await.unwrap();
    assert!(response.headers().contains_key("www-authenticate"));
    expect_error(response, 401, "unauthorized").await;
    let response = app
        .client
        .get(&url)
        .bearer_auth("slp_wrong")
        .send()
        .await
        .unwrap();
    expect_error(response, 401, "unauthorized").await;
    let response = app
        .client
        .get(&url)
        .header("Authorization", "Token abc")
        .send()
        .await
        .unwrap();
    expect_error(response, 401, "unauthorized").await;

    let response = app
        .client
        .get(&url)
        .basic_auth("", Some(&app.token))
        .send()
        .await
        .unwrap();
    expect_status(response, 200).await;
    let response = app
        .client
        .get(&url)
        .basic_auth(&app.token, Some(""))
        .send()
        .await
        .unwrap();
    expect_status(response, 200).await;

    // Probes and the API description need no token.
    for path in ["/healthz", "/readyz", "/openapi.json"] {
        let response = app
            .client
            .get(format!("{}{path}", app.url))
            .send()
            .await
            .unwrap();
        expect_status(response, 200).await;
    }
    // A rejected write changes nothing.
    let response = app
        .client
        .post(&url)
        .json(&json!({ "name": "sneaky" }))
        .send()
        .await
        .unwrap();
    expect_error(response, 401, "unauthorized").await;
    expect_error(app.get("/apps/sneaky").await, 404, "not_found").await;
}
