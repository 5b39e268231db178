//! `Idempotency-Key`: replay, mismatch, concurrent repeats, keys per token,
//! expiry, requests still in progress, and rejected keys.

use reqwest::{Method, Response};
use serde_json::Value;
use slipway_api::testing::{expect_error, expect_status, spawn_app, TestApp};
use slipway_core::store::Backend;

crate::on_both_backends!(
    a_repeat_replays_the_first_response,
    the_same_key_with_another_request_is_refused,
    concurrent_repeats_create_one_release,
    keys_belong_to_a_token_and_expire,
    a_key_whose_request_runs_or_was_lost_is_a_conflict,
    bad_keys_are_rejected_and_failures_are_not_kept,
);

const MANIFEST: &str = r#"{"manifest": {"services": {"web": {"command": "true"}}}}"#;

async fn send(
    app: &TestApp,
    token: &str,
    method: Method,
    path: &str,
    key: &str,
    body: &str,
) -> Response {
    app.request_as(token, method, path)
        .header("Idempotency-Key", key)
        .header("Content-Type", "application/json")
        .body(body.to_owned())
        .send()
        .await
        .expect("request")
}

/// `POST /apps/a/builds` as the admin, with `key`.
async fn build(app: &TestApp, key: &str, body: &str) -> Response {
    send(app, &app.token, Method::POST, "/apps/a/builds", key, body).await
}

fn replayed(response: &Response) -> bool {
    response
        .headers()
        .get("idempotent-replayed")
        .is_some_and(|v| v == "true")
}

async fn a_repeat_replays_the_first_response(backend: Backend) {
    let app = spawn_app(backend).await;
    app.create_app("a").await;
    let first = build(&app, "build-1", MANIFEST).await;
    assert!(!replayed(&first));
    let first = expect_status(first, 201).await;
    let again = build(&app, "build-1", MANIFEST).await;
    assert!(replayed(&again), "{:?}", again.headers());
    assert_eq!(expect_status(again, 201).await, first, "the very same body");
    assert_eq!(app.releases("a").await.len(), 1);

    // A promotion retried by CI starts one deployment, not a conflict.
    let release = first["release"]["id"].as_str().unwrap();
    let path = format!("/apps/a/releases/{release}/promote");
    let started = expect_status(
        send(&app, &app.token, Method::POST, &path, "p-1", "").await,
        202,
    )
    .await;
    let retried = send(&app, &app.token, Method::POST, &path, "p-1", "").await;
    assert!(replayed(&retried));
    assert_eq!(
        expect_status(retried, 202).await["deployment"]["id"],
        started["deployment"]["id"]
    );
    let listed = expect_status(app.get("/apps/a/deployments").await, 200).await;
    assert_eq!(listed["deployments"].as_array().unwrap().len(), 1);

    // PATCH too; and a GET ignores the header.
    let set = r#"{"set": {"FOO": "1"}}"#;
    let changed = expect_status(
        send(&app, &app.token, Method::PATCH, "/apps/a/env", "env-1", set).await,
        201,
    )
    .await;
    let replay = send(&app, &app.token, Method::PATCH, "/apps/a/env", "env-1", set).await;
    assert!(replayed(&replay));
    assert_eq!(expect_status(replay, 201).await, changed);
    assert_eq!(app.releases("a").await.len(), 2);
    // A new token's answer is kept sealed: the raw database never holds it.
    let body = r#"{"name": "ci", "scope": "read"}"#;
    let created = expect_status(
        send(&app, &app.token, Method::POST, "/tokens", "t-1", body).await,
        201,
    )
    .await;
    let replay = send(&app, &app.token, Method::POST, "/tokens", "t-1", body).await;
    assert!(replayed(&replay));
    assert_eq!(expect_status(replay, 201).await, created);
    let token = created["token"].as_str().unwrap();
    assert!(
        !app.db.raw_contains(token),
        "a stored response holds the token"
    );

    let read = send(&app, &app.token, Method::GET, "/apps/a", "env-1", "").await;
    assert!(!replayed(&read));
    expect_status(read, 200).await;
}

async fn the_same_key_with_another_request_is_refused(backend: Backend) {
    let app = spawn_app(backend).await;
    app.create_app("a").await;
    app.create_app("b").await;
    expect_status(build(&app, "k", MANIFEST).await, 201).await;
    let other_body = r#"{"manifest": {"services": {"web": {"command": "false"}}}}"#;
    for (path, body) in [("/apps/a/builds", other_body), ("/apps/b/builds", MANIFEST)] {
        let response = send(&app, &app.token, Method::POST, path, "k", body).await;
        let message = expect_error(response, 422, "invalid").await;
        assert!(message.contains("different request"), "{message}");
    }
    assert_eq!(app.releases("a").await.len(), 1);
    assert!(app.releases("b").await.is_empty());
}

async fn concurrent_repeats_create_one_release(backend: Backend) {
    let app = spawn_app(backend).await;
    app.create_app("a").await;
    for round in 0..5 {
        let key = format!("same-{round}");
        let (one, two) = tokio::join!(build(&app, &key, MANIFEST), build(&app, &key, MANIFEST),);
        let mut outcomes = Vec::new();
        for response in [one, two] {
            let replay = replayed(&response);
            let status = response.status().as_u16();
            let body: Value = response.json().await.unwrap();
            outcomes.push((status, replay, body));
        }
        let created = outcomes.iter().filter(|(s, r, _)| *s == 201 && !r).count();
        assert_eq!(created, 1, "exactly one did the work: {outcomes:?}");
        for (status, replay, body) in &outcomes {
            let ok = (*status == 201) || (*status == 409 && !replay);
            assert!(ok, "the other is a replay or in progress: {body}");
        }
        assert_eq!(app.releases("a").await.len(), round + 1, "{outcomes:?}");
    }
}

async fn keys_belong_to_a_token_and_expire(backend: Backend) {
    let app = spawn_app(backend).await;
    app.create_app("a").await;
    let ci = app.create_token("ci", "deploy", &["a"]).await;
    expect_status(build(&app, "k", MANIFEST).await, 201).await;
    let theirs = send(&app, &ci, Method::POST, "/apps/a/builds", "k", MANIFEST).await;
    assert!(!replayed(&theirs), "another token's key is another key");
    expect_status(theirs, 201).await;
    assert_eq!(app.releases("a").await.len(), 2);

    app.db
        .execute("UPDATE idempotency_keys SET expires_at = '2000-01-01 00:00:00'");
    let after = build(&app, "k", MANIFEST).await;
    assert!(!replayed(&after), "an expired key runs again");
    expect_status(after, 201).await;
    assert_eq!(app.releases("a").await.len(), 3);
}

async fn a_key_whose_request_runs_or_was_lost_is_a_conflict(backend: Backend) {
    let app = spawn_app(backend).await;
    app.create_app("a").await;
    expect_status(build(&app, "k", MANIFEST).await, 201).await;
    // The work committed with its key; the response is not recorded yet.
    app.db
        .execute("UPDATE idempotency_keys SET status = NULL, body = NULL");
    let response = build(&app, "k", MANIFEST).await;
    let message = expect_error(response, 409, "conflict").await;
    assert!(message.contains("still in progress"), "{message}");
    // Long after: the response was lost, and the message says where to look.
    app.db
        .execute("UPDATE idempotency_keys SET created_at = '2000-01-01 00:00:00'");
    let response = build(&app, "k", MANIFEST).await;
    let message = expect_error(response, 409, "conflict").await;
    assert!(message.contains("lost"), "{message}");
    assert_eq!(app.releases("a").await.len(), 1);
}

async fn bad_keys_are_rejected_and_failures_are_not_kept(backend: Backend) {
    let app = spawn_app(backend).await;
    app.create_app("a").await;
    let long = "k".repeat(256);
    for key in [long.as_str(), "", "tab\there"] {
        let response = build(&app, key, MANIFEST).await;
        let message = expect_error(response, 400, "bad_request").await;
        assert!(message.contains("Idempotency-Key"), "{message}");
    }
    assert!(app.releases("a").await.is_empty());
    let longest = "k".repeat(255);
    expect_status(build(&app, &longest, MANIFEST).await, 201).await;

    // A refused request keeps no key: fixed, the same key does the work.
    let bad = r#"{"manifest": {"services": {}}}"#;
    expect_error(build(&app, "fix", bad).await, 422, "invalid").await;
    let fixed = build(&app, "fix", MANIFEST).await;
    assert!(!replayed(&fixed));
    expect_status(fixed, 201).await;
    // And an unauthenticated one learns nothing about the key.
    let response = send(
        &app,
        "slp_unknown",
        Method::POST,
        "/apps/a/builds",
        "fix",
        MANIFEST,
    )
    .await;
    expect_error(response, 401, "unauthorized").await;
    // Nor about what keys are accepted.
    let response = send(
        &app,
        "slp_unknown",
        Method::POST,
        "/apps/a/builds",
        &long,
        MANIFEST,
    )
    .await;
    expect_error(response, 401, "unauthorized").await;
    assert_eq!(app.releases("a").await.len(), 2);
}
