//! `DELETE /apps/{app}`: the app is gone at once for every route, its open
//! deployment ends `failed`, webhooks hear of both, and the name stays
//! taken (409) until a worker has stopped its instances and purged it.

use crate::on_both_backends;
use reqwest::Method;
use serde_json::json;
use slipway_api::testing::{expect_error, expect_status, spawn_app, TestApp};
use slipway_core::domain::{AppName, DeploymentId};
use slipway_core::store::{Backend, APP_DELETED};

on_both_backends!(
    a_deleted_app_is_not_found_at_once_and_its_deployment_ends,
    a_deleted_name_answers_409_until_it_is_purged,
);

async fn delete(app: &TestApp, name: &str) -> reqwest::Response {
    let path = format!("/apps/{name}");
    app.request(Method::DELETE, &path).send().await.unwrap()
}

async fn a_deleted_app_is_not_found_at_once_and_its_deployment_ends(backend: Backend) {
    let app = spawn_app(backend).await;
    let hook = json!({ "url": "https://example.com/hook", "kind": "generic",
                       "events": ["app.deleted", "deployment.failed"] });
    let hook = expect_status(app.send_json(Method::POST, "/webhooks", &hook).await, 201).await;
    app.create_app("myapp").await;
    app.create_app("other").await;
    let built = app.build("myapp", json!({})).await;
    let (build, release) = (&built["build"]["id"], &built["release"]["id"]);
    let path = format!("/apps/myapp/releases/{}/promote", release.as_str().unwrap());
    let started = app.request(Method::POST, &path).send().await.unwrap();
    let deployment = expect_status(started, 202).await["deployment"]["id"].clone();
    let deployment = deployment.as_str().unwrap();

    expect_status(delete(&app, "myapp").await, 204).await;

    let reads = [
        "/apps/myapp".to_owned(),
        "/apps/myapp/builds".to_owned(),
        format!("/apps/myapp/builds/{}", build.as_str().unwrap()),
        "/apps/myapp/releases".to_owned(),
        format!("/apps/myapp/releases/{}", release.as_str().unwrap()),
        "/apps/myapp/env".to_owned(),
        "/apps/myapp/deployments".to_owned(),
        format!("/apps/myapp/deployments/{deployment}"),
    ];
    for path in &reads {
        let message = expect_error(app.get(path).await, 404, "not_found").await;
        assert!(message.contains("`myapp` not found"), "{path}: {message}");
    }
    let writes = [
        (
            Method::POST,
            "/apps/myapp/builds".to_owned(),
            json!({ "manifest": { "services": { "web": { "command": "true" } } } }),
        ),
        (
            Method::PATCH,
            "/apps/myapp/env".to_owned(),
            json!({ "set": { "A": "1" } }),
        ),
        (
            Method::PATCH,
            "/apps/myapp".to_owned(),
            json!({ "deadline_seconds": 60 }),
        ),
        (Method::POST, path.clone(), json!({})),
        (
            Method::POST,
            format!("/apps/myapp/deployments/{deployment}/cancel"),
            json!({}),
        ),
    ];
    for (method, path, body) in writes {
        let response = app.send_json(method.clone(), &path, &body).await;
        expect_error(response, 404, "not_found").await;
    }
    expect_error(delete(&app, "myapp").await, 404, "not_found").await;
    let list = expect_status(app.get("/apps").await, 200).await;
    assert_eq!(list["apps"].as_array().unwrap().len(), 1, "{list}");

    // The deployment no worker will drive any more ended, and was heard of.
    let id = DeploymentId::parse(deployment).unwrap();
    let ended = app.store.get_deployment_by_id(&id).unwrap();
    assert_eq!(ended.status.as_str(), "failed");
    assert_eq!(ended.reason.as_deref(), Some(APP_DELETED));
    let hook = hook["id"].as_str().unwrap();
    let log = expect_status(app.get(&format!("/webhooks/{hook}/deliveries")).await, 200).await;
    let types: Vec<&str> = log["deliveries"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["event_type"].as_str().unwrap())
        .collect();
    assert_eq!(types, ["app.deleted", "deployment.failed"], "newest first");
}

async fn a_deleted_name_answers_409_until_it_is_purged(backend: Backend) {
    let app = spawn_app(backend).await;
    app.create_app("myapp").await;
    app.build("myapp", json!({})).await;
    expect_status(delete(&app, "myapp").await, 204).await;
    let events = app.event_count("myapp");

    let again = json!({ "name": "myapp" });
    let response = app.send_json(Method::POST, "/apps", &again).await;
    let message = expect_error(response, 409, "conflict").await;
    assert!(
        message.contains("app `myapp` is being deleted"),
        "{message}"
    );
    assert!(message.contains("try again"), "{message}");
    assert_eq!(app.event_count("myapp"), events, "nothing changed");

    // What a worker's teardown does once no instance is left.
    let name = AppName::parse("myapp").unwrap();
    let deleted_at = app.store.list_tombstones().unwrap()[0].deleted_at;
    assert!(app.store.purge_app(&name, deleted_at).unwrap());
    let created = expect_status(app.send_json(Method::POST, "/apps", &again).await, 201).await;
    assert_eq!(created["active_release"], json!(null));
    assert!(app.releases("myapp").await.is_empty());
}
