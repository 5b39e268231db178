//! A request for each documented success (2xx) of each route.

use super::fixture::{manifest, Fixture};
use super::probe::Probe;
use reqwest::Method;
use serde_json::{json, Value};
use slipway_api::testing::{expect_status, TestApp};

/// An app `name` with one build; the id of its release.
async fn built(app: &TestApp, name: &str) -> String {
    app.create_app(name).await;
    let built = app.build(name, json!({})).await;
    built["release"]["id"].as_str().unwrap().to_owned()
}

pub async fn run(app: &TestApp, fx: &Fixture, probe: &mut Probe) {
    let get = Method::GET;
    for path in ["/healthz", "/readyz", "/openapi.json", "/metrics", "/apps"] {
        probe
            .expect((&get, path, 200), app.request(get.clone(), path))
            .await;
    }
    for pattern in [
        "/apps/{app}",
        "/apps/{app}/builds",
        "/apps/{app}/builds/{id}",
        "/apps/{app}/env",
        "/apps/{app}/releases",
        "/apps/{app}/releases/{id}",
        "/apps/{app}/processes",
        "/apps/{app}/logs",
        "/apps/{app}/deployments",
        "/apps/{app}/deployments/{id}",
        "/apps/{app}/deployments/{id}/events",
        "/webhooks",
        "/webhooks/{id}",
        "/webhooks/{id}/deliveries",
        "/tokens",
    ] {
        let request = app.request(get.clone(), &fx.fill(pattern));
        probe.expect((&get, pattern, 200), request).await;
    }
    let pattern = "/apps/{app}/logs";
    let request = app.request(get.clone(), &format!("{}?follow=true", fx.fill(pattern)));
    probe.expect((&get, pattern, 200), request).await;
    let pattern = "/apps/{app}/releases/{id}/diff";
    let url = format!("{}?against={}", fx.fill(pattern), fx.release);
    probe
        .expect((&get, pattern, 200), app.request(get.clone(), &url))
        .await;

    writes(app, fx, probe).await;
    deployments(app, fx, probe).await;
}

/// `body` sent as JSON with the admin token.
fn send(app: &TestApp, method: &Method, path: &str, body: Value) -> reqwest::RequestBuilder {
    app.request(method.clone(), path).json(&body)
}

async fn writes(app: &TestApp, fx: &Fixture, probe: &mut Probe) {
    let (post, patch, delete) = (Method::POST, Method::PATCH, Method::DELETE);
    let request = send(app, &post, "/apps", json!({ "name": "fresh" }));
    probe.expect((&post, "/apps", 201), request).await;
    let request = send(
        app,
        &patch,
        "/apps/shop",
        json!({ "deadline_seconds": 120 }),
    );
    probe.expect((&patch, "/apps/{app}", 200), request).await;
    app.create_app("doomed").await;
    let request = app.request(delete.clone(), "/apps/doomed");
    probe.expect((&delete, "/apps/{app}", 204), request).await;

    let request = send(
        app,
        &post,
        "/apps/shop/builds",
        json!({ "manifest": manifest() }),
    );
    probe
        .expect((&post, "/apps/{app}/builds", 201), request)
        .await;
    let request = send(app, &post, "/apps/shop/releases", json!({}));
    probe
        .expect((&post, "/apps/{app}/releases", 201), request)
        .await;
    let change = json!({ "set": { "A": "1" } });
    let request = send(app, &patch, "/apps/shop/env", change.clone());
    probe
        .expect((&patch, "/apps/{app}/env", 201), request)
        .await;
    let request = send(app, &patch, "/apps/shop/env", change);
    probe
        .expect((&patch, "/apps/{app}/env", 200), request)
        .await;

    let hook = json!({ "url": "https://hooks.example.com/b", "kind": "slack", "events": ["deployment.*"] });
    let body = probe
        .expect(
            (&post, "/webhooks", 201),
            send(app, &post, "/webhooks", hook),
        )
        .await;
    let spare: Value = serde_json::from_str(&body).unwrap();
    let path = format!("/webhooks/{}", spare["id"].as_str().unwrap());
    let request = app.request(delete.clone(), &path);
    probe
        .expect((&delete, "/webhooks/{id}", 204), request)
        .await;
    let webhook = format!("/webhooks/{}", fx.webhook);
    let request = app.request(post.clone(), &format!("{webhook}/rotate"));
    probe
        .expect((&post, "/webhooks/{id}/rotate", 200), request)
        .await;
    let request = app.request(post.clone(), &format!("{webhook}/test"));
    probe
        .expect((&post, "/webhooks/{id}/test", 202), request)
        .await;
    let pattern = "/webhooks/{id}/deliveries/{delivery}/redeliver";
    let request = app.request(post.clone(), &fx.fill(pattern));
    probe.expect((&post, pattern, 202), request).await;

    let body = json!({ "name": "ci", "scope": "deploy", "apps": ["shop"], "expires_in": 3600 });
    probe
        .expect((&post, "/tokens", 201), send(app, &post, "/tokens", body))
        .await;
    let request = app.request(delete.clone(), &format!("/tokens/{}", fx.token));
    probe.expect((&delete, "/tokens/{id}", 204), request).await;
}

async fn deployments(app: &TestApp, fx: &Fixture, probe: &mut Probe) {
    let post = Method::POST;
    let release = built(app, "p1").await;
    let path = format!("/apps/p1/releases/{release}/promote");
    let request = send(app, &post, &path, json!({ "minimum": 50, "maximum": 150 }));
    probe
        .expect((&post, "/apps/{app}/releases/{id}/promote", 202), request)
        .await;
    let release = built(app, "p2").await;
    let path = format!("/apps/p2/releases/{release}/rollback");
    let request = app.request(post.clone(), &path);
    probe
        .expect((&post, "/apps/{app}/releases/{id}/rollback", 202), request)
        .await;
    app.create_app("p3").await;
    let body = json!({ "manifest": manifest(), "git_sha": "abc1234", "deadline_seconds": 60 });
    let request = send(app, &post, "/apps/p3/deploy", body);
    probe
        .expect((&post, "/apps/{app}/deploy", 202), request)
        .await;
    built(app, "p4").await;
    let body = json!({ "set": { "B": "2" }, "promote": true });
    let request = send(app, &Method::PATCH, "/apps/p4/env", body);
    probe
        .expect((&Method::PATCH, "/apps/{app}/env", 202), request)
        .await;
    let pattern = "/apps/{app}/deployments/{id}/cancel";
    let request = app.request(post.clone(), &fx.fill(pattern));
    probe.expect((&post, pattern, 202), request).await;
    // The deployments just started are there to read too.
    let listed = expect_status(app.get("/apps/p3/deployments").await, 200).await;
    assert_eq!(listed["deployments"].as_array().map(Vec::len), Some(1));
}
