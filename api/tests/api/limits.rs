//! Limits: the write rate per token (429 with `Retry-After`), body limits
//! per route, path and header lengths, the cap on list `limit`, and the
//! methods a route has (405 with `Allow`).

use reqwest::Method;
use serde_json::json;
use slipway_api::testing::{expect_error, expect_status, spawn_app, spawn_app_with_rate};
use slipway_core::store::Backend;

crate::on_both_backends!(
    writes_over_the_rate_are_refused_with_retry_after,
    bodies_paths_and_headers_have_limits,
    a_wrong_method_is_told_the_methods_the_route_has,
);

async fn a_wrong_method_is_told_the_methods_the_route_has(backend: Backend) {
    let app = spawn_app(backend).await;
    app.create_app("a").await;
    for (method, path, allowed) in [
        (Method::PUT, "/apps", "GET POST"),
        (Method::POST, "/apps/a", "DELETE GET PATCH"),
        (Method::DELETE, "/healthz", "GET"),
        (Method::GET, "/apps/a/releases/RAAAAAAAAAA/promote", "POST"),
    ] {
        let response = app.request(method.clone(), path).send().await.unwrap();
        let allow = response.headers().get("allow").cloned();
        expect_error(response, 405, "method_not_allowed").await;
        let allow = allow.unwrap_or_else(|| panic!("{method} {path}: no Allow header"));
        let mut methods: Vec<&str> = allow.to_str().unwrap().split(", ").collect();
        methods.sort_unstable();
        assert_eq!(methods.join(" "), allowed, "{method} {path}");
    }
}

async fn writes_over_the_rate_are_refused_with_retry_after(backend: Backend) {
    let app = spawn_app_with_rate(backend, 3).await;
    // Three writes: a token and two apps.
    let ci = app.create_token("ci", "deploy", &[]).await;
    for name in ["app0", "app1"] {
        let body = json!({ "name": name });
        expect_status(app.send_json(Method::POST, "/apps", &body).await, 201).await;
    }
    let response = app
        .send_json(Method::POST, "/apps", &json!({ "name": "app2" }))
        .await;
    let retry_after = response.headers()["retry-after"]
        .to_str()
        .unwrap()
        .to_owned();
    assert_eq!(retry_after, "20", "3 a minute: one more in 20 s");
    let message = expect_error(response, 429, "rate_limited").await;
    assert!(message.contains("retry in 20 s"), "{message}");
    // Reads are not limited, and the refused write created nothing.
    for _ in 0..5 {
        let apps = expect_status(app.get("/apps").await, 200).await;
        assert_eq!(apps["apps"].as_array().unwrap().len(), 2);
    }
    // Another token has its own budget.
    let body = json!({ "manifest": { "services": { "web": { "command": "true" } } } });
    let response = app
        .request_as(&ci, Method::POST, "/apps/app0/builds")
        .json(&body)
        .send()
        .await
        .unwrap();
    expect_status(response, 201).await;
}

async fn bodies_paths_and_headers_have_limits(backend: Backend) {
    let app = spawn_app(backend).await;
    app.create_app("a").await;
    // Small JSON routes take 16 KiB; builds and env changes up to 1 MiB.
    let padding = "x".repeat(20 * 1024);
    let body = json!({ "name": "ci", "scope": "read", "pad": padding });
    let message = expect_error(
        app.send_json(Method::POST, "/tokens", &body).await,
        413,
        "payload_too_large",
    )
    .await;
    assert!(message.contains("16384"), "{message}");
    let response = app
        .patch_env("a", json!({ "set": { "BIG": padding } }))
        .await;
    expect_status(response, 201).await;
    let huge =
        json!({ "manifest": { "services": { "web": { "command": "x".repeat(1024 * 1024) } } } });
    expect_error(
        app.send_json(Method::POST, "/apps/a/builds", &huge).await,
        413,
        "payload_too_large",
    )
    .await;
    // A promote body is small too, also when sent without a JSON parser.
    let release = app.build("a", json!({})).await["release"]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let response = app
        .request(Method::POST, &format!("/apps/a/releases/{release}/promote"))
        .header("Content-Type", "application/json")
        .body(format!("{{\"pad\": \"{padding}\"}}"))
        .send()
        .await
        .unwrap();
    expect_error(response, 413, "payload_too_large").await;

    let long_path = format!("/apps/{}", "a".repeat(2100));
    let message = expect_error(app.get(&long_path).await, 414, "uri_too_long").await;
    assert!(message.contains("2048"), "{message}");
    let response = app
        .request(Method::GET, "/apps")
        .header("X-Padding", "y".repeat(9000))
        .send()
        .await
        .unwrap();
    let message = expect_error(response, 431, "header_too_large").await;
    assert!(message.contains("x-padding"), "{message}");
    let message = expect_error(app.get("/apps/a/releases?limit=101").await, 422, "invalid").await;
    assert!(message.contains("between 1 and 100"), "{message}");
    assert_eq!(app.releases("a").await.len(), 2, "nothing else was created");
}
