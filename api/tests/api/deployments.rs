//! Starting and following deployments over HTTP. No worker runs here: the
//! deployments stay pending, and the jobs the API enqueued are inspected.

use reqwest::Method;
use serde_json::{json, Value};
use slipway_api::testing::{expect_error, expect_status, spawn_app, TestApp};
use slipway_core::store::Backend;

crate::on_both_backends!(
    promote_answers_202_and_enqueues_a_job,
    one_deployment_at_a_time_and_a_refused_deploy_leaves_nothing,
    env_changes_and_rollbacks_can_promote,
    deployments_are_listed_shown_and_cancelled,
);

const TRACEPARENT: &str = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";

async fn app_with_release(backend: Backend) -> (TestApp, String) {
    let app = spawn_app(backend).await;
    app.create_app("myapp").await;
    let built = app.build("myapp", json!({})).await;
    let release = built["release"]["id"].as_str().unwrap().to_owned();
    (app, release)
}

async fn promote(app: &TestApp, release: &str, body: Option<Value>) -> reqwest::Response {
    let path = format!("/apps/myapp/releases/{release}/promote");
    let request = app
        .request(Method::POST, &path)
        .header("traceparent", TRACEPARENT);
    let request = match body {
        Some(body) => request.json(&body),
        None => request,
    };
    request.send().await.unwrap()
}

async fn promote_answers_202_and_enqueues_a_job(backend: Backend) {
    let (app, release) = app_with_release(backend).await;
    // A bare POST (no body at all) is fine for CI scripts.
    let started = expect_status(promote(&app, &release, None).await, 202).await;
    let deployment = &started["deployment"];
    assert_eq!(deployment["status"], "pending");
    assert_eq!(deployment["release"], release.as_str());
    assert_eq!(deployment["previous_release"], Value::Null);
    assert_eq!(deployment["trace_id"], "4bf92f3577b34da6a3ce929d0e0e4736");
    assert_eq!(started["release"]["status"], "promoting");
    assert!(deployment["id"].as_str().unwrap().starts_with('D'));

    let job = app.jobs.lock().await.recv().await.unwrap();
    assert_eq!(job.deployment.as_str(), deployment["id"].as_str().unwrap());
    assert_eq!(job.traceparent.as_deref(), Some(TRACEPARENT));

    let listed = app.releases("myapp").await;
    assert_eq!(listed[0]["status"], "promoting");
}

async fn one_deployment_at_a_time_and_a_refused_deploy_leaves_nothing(backend: Backend) {
    let (app, release) = app_with_release(backend).await;
    let body = json!({ "deadline_seconds": 30, "minimum": 100, "maximum": 150 });
    let first = expect_status(promote(&app, &release, Some(body)).await, 202).await;
    let first_id = first["deployment"]["id"].as_str().unwrap();
    assert_eq!(first["deployment"]["minimum"], 100);
    assert_eq!(first["deployment"]["maximum"], 150);
    let message = expect_error(promote(&app, &release, None).await, 409, "conflict").await;
    assert!(message.contains(first_id), "{message}");

    let releases = app.releases("myapp").await.len();
    let body = json!({ "manifest": { "services": { "web": { "command": "true" } } } });
    let response = app
        .send_json(Method::POST, "/apps/myapp/deploy", &body)
        .await;
    expect_error(response, 409, "conflict").await;
    assert_eq!(
        app.releases("myapp").await.len(),
        releases,
        "no release left behind"
    );
    let builds = expect_status(app.get("/apps/myapp/builds").await, 200).await;
    assert_eq!(
        builds["builds"].as_array().unwrap().len(),
        1,
        "no build left behind"
    );
}

async fn env_changes_and_rollbacks_can_promote(backend: Backend) {
    let (app, first) = app_with_release(backend).await;
    let body = json!({ "set": { "FOO": "1" }, "promote": true, "deadline_seconds": 60 });
    let started = expect_status(app.patch_env("myapp", body).await, 202).await;
    assert_eq!(started["release"]["description"], "env add:FOO");
    assert_eq!(started["deployment"]["release"], started["release"]["id"]);
    let id = started["deployment"]["id"].as_str().unwrap().to_owned();

    // Nothing changes: no release, no deployment.
    let same = json!({ "set": { "FOO": "1" }, "promote": true });
    let unchanged = expect_status(app.patch_env("myapp", same).await, 200).await;
    assert_eq!(unchanged, json!({ "release": null, "deployment": null }));

    let path = format!("/apps/myapp/deployments/{id}/cancel");
    expect_status(app.request(Method::POST, &path).send().await.unwrap(), 202).await;
    // Still open until a worker acts on the cancel: a rollback must wait.
    let path = format!("/apps/myapp/releases/{first}/rollback");
    let response = app.request(Method::POST, &path).send().await.unwrap();
    expect_error(response, 409, "conflict").await;
}

async fn deployments_are_listed_shown_and_cancelled(backend: Backend) {
    let (app, release) = app_with_release(backend).await;
    let started = expect_status(promote(&app, &release, None).await, 202).await;
    let id = started["deployment"]["id"].as_str().unwrap();

    let shown = expect_status(app.get(&format!("/apps/myapp/deployments/{id}")).await, 200).await;
    assert_eq!(shown, started["deployment"]);
    let listed = expect_status(app.get("/apps/myapp/deployments").await, 200).await;
    assert_eq!(listed["deployments"], json!([shown]));

    let path = format!("/apps/myapp/deployments/{id}/cancel");
    let cancelled =
        expect_status(app.request(Method::POST, &path).send().await.unwrap(), 202).await;
    assert_eq!(cancelled["cancel_requested"], true);
    assert_eq!(cancelled["status"], "pending");

    let response = app.get("/apps/myapp/deployments/DAAAAAAAAAA").await;
    expect_error(response, 404, "not_found").await;
    let response = app.get("/apps/myapp/deployments/DAAAAAAAAAA/events").await;
    expect_error(response, 404, "not_found").await;
}
