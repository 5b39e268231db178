//! Where apps answer: the app object lists its active release's services
//! with their URLs through the router (none without a router URL), and a
//! custom domain belongs to one app (422 for another app's build or deploy,
//! writing nothing).

use crate::on_both_backends;
use chrono::TimeDelta;
use reqwest::Method;
use serde_json::{json, Value};
use slipway_api::testing::{
    expect_error, expect_status, spawn_app, spawn_app_with_router, TestApp,
};
use slipway_core::domain::{DeploymentId, DeploymentStatus};
use slipway_core::store::Backend;
use slipway_core::testing::{ManifestBuilder, ServiceBuilder};

on_both_backends!(
    apps_show_their_active_services_urls,
    without_a_router_url_services_have_no_urls,
    a_domain_of_another_app_is_refused_with_422,
);

/// The `web` service of [`shop`]: on port 80 and a custom domain.
fn web() -> ServiceBuilder {
    let web = ServiceBuilder::new().command("run").port(80);
    web.domains(&["Shop.Example.com"])
}

/// `web`, beside `api` on port 81 and a `worker` without a port.
fn shop(web: ServiceBuilder) -> Value {
    ManifestBuilder::new()
        .service("web", web)
        .service("api", ServiceBuilder::new().command("run").port(81))
        .service("worker", ServiceBuilder::new().command("work"))
        .json()
}

/// Builds `manifest` and makes its release active, as a worker would.
async fn deployed(app: &TestApp, name: &str, manifest: Value) {
    let body = json!({ "manifest": manifest });
    let path = format!("/apps/{name}/deploy");
    let started = expect_status(app.send_json(Method::POST, &path, &body).await, 202).await;
    let id = DeploymentId::parse(started["deployment"]["id"].as_str().unwrap()).unwrap();
    let store = app.store.clone();
    tokio::task::spawn_blocking(move || {
        let ttl = TimeDelta::seconds(30);
        let (_, lease) = store.claim_deployment(&id, "w1", ttl).unwrap().unwrap();
        for to in [DeploymentStatus::Running, DeploymentStatus::Succeeded] {
            store.transition_deployment(&id, &lease, to, None).unwrap();
        }
    })
    .await
    .unwrap();
}

async fn apps_show_their_active_services_urls(backend: Backend) {
    let app = spawn_app_with_router(backend, "http://localhost:8000").await;
    let created = app.create_app("shop").await;
    assert_eq!(created["services"], json!([]), "no release yet");
    // A build alone changes nothing: the active release's services count.
    app.send_json(
        Method::POST,
        "/apps/shop/builds",
        &json!({ "manifest": shop(web()) }),
    )
    .await;
    let shown = expect_status(app.get("/apps/shop").await, 200).await;
    assert_eq!(shown["services"], json!([]));

    deployed(&app, "shop", shop(web().default_service())).await;
    let expected = json!([
        { "name": "api", "default": false, "urls": ["http://api.shop.localhost:8000"] },
        { "name": "web", "default": true, "urls": [
            "http://shop.localhost:8000",
            "http://web.shop.localhost:8000",
            "http://shop.example.com:8000"
        ] }
    ]);
    let shown = expect_status(app.get("/apps/shop").await, 200).await;
    assert_eq!(shown["services"], expected, "{shown}");
    assert!(shown["active_release"].is_string());
    app.assert_documented("App", &shown).await;
    app.assert_documented("ServiceUrls", &shown["services"][1])
        .await;

    let listed = expect_status(app.get("/apps").await, 200).await;
    assert_eq!(listed["apps"][0]["services"], expected, "{listed}");
    let body = json!({ "deadline_seconds": 120 });
    let updated = app.send_json(Method::PATCH, "/apps/shop", &body).await;
    assert_eq!(expect_status(updated, 200).await["services"], expected);
}

async fn without_a_router_url_services_have_no_urls(backend: Backend) {
    let app = spawn_app(backend).await;
    app.create_app("shop").await;
    deployed(&app, "shop", shop(web())).await;
    let shown = expect_status(app.get("/apps/shop").await, 200).await;
    assert_eq!(
        shown["services"],
        json!([
            { "name": "api", "default": false, "urls": [] },
            { "name": "web", "default": false, "urls": [] }
        ])
    );
}

async fn a_domain_of_another_app_is_refused_with_422(backend: Backend) {
    let app = spawn_app(backend).await;
    app.create_app("shop").await;
    app.create_app("rival").await;
    let body = json!({ "manifest": shop(web()) });
    expect_status(
        app.send_json(Method::POST, "/apps/shop/builds", &body)
            .await,
        201,
    )
    .await;
    let events = app.event_count("rival");

    let rival = json!({ "manifest": { "services": {
        "web": { "command": "run", "port": 80, "domains": ["rival.example.com", "shop.example.com"] }
    }}});
    for path in ["/apps/rival/builds", "/apps/rival/deploy"] {
        let refused = app.send_json(Method::POST, path, &rival).await;
        let message = expect_error(refused, 422, "invalid").await;
        assert_eq!(
            message,
            "manifest.services.web.domains[1]: shop.example.com is already used by another app",
            "{path}"
        );
    }
    let builds = expect_status(app.get("/apps/rival/builds").await, 200).await;
    assert_eq!(builds["builds"], json!([]));
    assert_eq!(app.releases("rival").await, Vec::<Value>::new());
    assert_eq!(app.event_count("rival"), events, "nothing written");

    // A bad domain is refused like any manifest field, naming it.
    let bad = json!({ "manifest": { "services": {
        "web": { "command": "run", "port": 80, "domains": ["web.rival.localhost"] }
    }}});
    let refused = app
        .send_json(Method::POST, "/apps/rival/builds", &bad)
        .await;
    let message = expect_error(refused, 422, "invalid").await;
    assert!(
        message.starts_with("manifest.services.web.domains[0]: is reserved"),
        "{message}"
    );
}
