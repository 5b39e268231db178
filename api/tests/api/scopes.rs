//! What each scope reaches: the scope matrix (each scope on each class of
//! route), tokens limited to apps, and the token's name as the actor.

use crate::tokens::call;
use reqwest::Method;
use serde_json::{json, Value};
use slipway_api::testing::{expect_status, spawn_app};
use slipway_core::store::Backend;

crate::on_both_backends!(each_scope_reaches_exactly_its_routes);

async fn each_scope_reaches_exactly_its_routes(backend: Backend) {
    let app = spawn_app(backend).await;
    app.create_app("a").await;
    app.create_app("b").await;
    let built = app.build("a", json!({})).await;
    let release = built["release"]["id"].as_str().unwrap().to_owned();
    let build = built["build"]["id"].as_str().unwrap().to_owned();
    let read = app.create_token("read-a", "read", &["a"]).await;
    let deploy = app.create_token("deploy-a", "deploy", &["a"]).await;
    let deploy_all = app.create_token("deploy-all", "deploy", &[]).await;
    let admin = app.create_token("admin-all", "admin", &[]).await;
    let manifest = json!({ "manifest": { "services": { "web": { "command": "true" } } } });

    // Reads: every scope on its apps; an app outside the token's is 403.
    for path in [
        "/apps/a",
        "/apps/a/builds",
        "/apps/a/env",
        "/apps/a/releases",
        &format!("/apps/a/releases/{release}"),
        &format!("/apps/a/releases/{release}/diff?against={release}"),
        &format!("/apps/a/builds/{build}"),
        "/apps/a/deployments",
    ] {
        for token in [&read, &deploy, &deploy_all, &admin] {
            let (status, body) = call(&app, token, Method::GET, path, Value::Null).await;
            assert_eq!(status, 200, "GET {path}: {body}");
        }
        let other = path.replacen("/apps/a", "/apps/b", 1);
        if !other.contains("/releases/") && !other.contains("/builds/") {
            for token in [&read, &deploy] {
                let (status, body) = call(&app, token, Method::GET, &other, Value::Null).await;
                assert_eq!(status, 403, "GET {other}: {body}");
                assert_eq!(body["error"]["code"], "forbidden");
            }
        }
    }

    // Deploy-class writes: refused to `read` (changing nothing), allowed to `deploy`.
    let before = app.releases("a").await.len();
    let writes: Vec<(Method, String, Value, u16)> = vec![
        (Method::POST, "/apps/a/builds".into(), manifest.clone(), 201),
        (
            Method::PATCH,
            "/apps/a/env".into(),
            json!({ "set": { "K": "v" } }),
            201,
        ),
        (Method::POST, "/apps/a/releases".into(), json!({}), 201),
        (
            Method::POST,
            format!("/apps/a/releases/{release}/promote"),
            Value::Null,
            202,
        ),
    ];
    for (method, path, body, _) in &writes {
        let (status, answer) = call(&app, &read, method.clone(), path, body.clone()).await;
        assert_eq!(status, 403, "{method} {path} as read: {answer}");
        assert!(
            answer["error"]["message"]
                .as_str()
                .unwrap()
                .contains("scope `deploy`"),
            "{answer}"
        );
    }
    assert_eq!(
        app.releases("a").await.len(),
        before,
        "denied writes change nothing"
    );
    for (method, path, body, expected) in &writes {
        let (status, answer) = call(&app, &deploy, method.clone(), path, body.clone()).await;
        assert_eq!(status, *expected, "{method} {path} as deploy: {answer}");
    }
    let deployment = app.get("/apps/a/deployments").await;
    let deployment = expect_status(deployment, 200).await["deployments"][0]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let (status, body) = call(
        &app,
        &read,
        Method::GET,
        &format!("/apps/a/deployments/{deployment}"),
        Value::Null,
    )
    .await;
    assert_eq!(status, 200, "{body}");
    // Deploy and rollback: refused to `read`; `deploy` gets past the scope
    // check to the one-deployment-at-a-time rule (the promote above runs).
    let rollback = format!("/apps/a/releases/{release}/rollback");
    for (path, body) in [
        ("/apps/a/deploy", &manifest),
        (rollback.as_str(), &Value::Null),
    ] {
        let (status, answer) = call(&app, &read, Method::POST, path, body.clone()).await;
        assert_eq!(status, 403, "POST {path} as read: {answer}");
        let (status, answer) = call(&app, &deploy, Method::POST, path, body.clone()).await;
        assert_eq!(status, 409, "POST {path} as deploy: {answer}");
    }
    let cancel = format!("/apps/a/deployments/{deployment}/cancel");
    assert_eq!(
        call(&app, &read, Method::POST, &cancel, Value::Null)
            .await
            .0,
        403
    );
    assert_eq!(
        call(&app, &deploy, Method::POST, &cancel, Value::Null)
            .await
            .0,
        202
    );
    let (status, _) = call(
        &app,
        &deploy,
        Method::POST,
        "/apps/b/builds",
        manifest.clone(),
    )
    .await;
    assert_eq!(status, 403, "deploy on an app outside the token's");

    // The token's name is the actor of what it changed.
    let newest = &app.releases("a").await[0];
    assert_eq!(newest["actor"], "deploy-a", "{newest}");
    let events = app.store.list_events(None).unwrap();
    assert!(events.iter().any(|e| e.actor == "deploy-a"));

    // Admin-class routes: only `admin`.
    let admin_routes: Vec<(Method, &str, Value, u16)> = vec![
        (Method::GET, "/tokens", Value::Null, 200),
        (Method::GET, "/webhooks", Value::Null, 200),
        (Method::POST, "/apps", json!({ "name": "c" }), 201),
        (
            Method::PATCH,
            "/apps/a",
            json!({ "deadline_seconds": 300 }),
            200,
        ),
        (
            Method::POST,
            "/webhooks",
            json!({ "url": "https://hooks.example.com/x", "kind": "generic", "events": ["*"] }),
            201,
        ),
        (
            Method::POST,
            "/tokens",
            json!({ "name": "more", "scope": "read" }),
            201,
        ),
        (Method::DELETE, "/apps/b", Value::Null, 204),
    ];
    for (method, path, body, expected) in &admin_routes {
        for token in [&read, &deploy, &deploy_all] {
            let (status, answer) = call(&app, token, method.clone(), path, body.clone()).await;
            assert_eq!(status, 403, "{method} {path}: {answer}");
        }
        let (status, answer) = call(&app, &admin, method.clone(), path, body.clone()).await;
        assert_eq!(status, *expected, "{method} {path} as admin: {answer}");
    }

    // One webhook's and one token's routes: only `admin`.
    let body = json!({ "url": "https://hooks.example.com/y", "kind": "generic", "events": ["*"] });
    let (_, hook) = call(&app, &admin, Method::POST, "/webhooks", body).await;
    let hook = hook["id"].as_str().unwrap().to_owned();
    let body = json!({ "name": "doomed", "scope": "read" });
    let (_, doomed) = call(&app, &admin, Method::POST, "/tokens", body).await;
    let doomed = doomed["id"].as_str().unwrap().to_owned();
    let by_id: Vec<(Method, String, u16)> = vec![
        (Method::GET, format!("/webhooks/{hook}"), 200),
        (Method::GET, format!("/webhooks/{hook}/deliveries"), 200),
        (Method::POST, format!("/webhooks/{hook}/rotate"), 200),
        (Method::POST, format!("/webhooks/{hook}/test"), 202),
        (Method::DELETE, format!("/webhooks/{hook}"), 204),
        (Method::DELETE, format!("/tokens/{doomed}"), 204),
    ];
    for (method, path, expected) in &by_id {
        for token in [&read, &deploy, &deploy_all] {
            let (status, answer) = call(&app, token, method.clone(), path, Value::Null).await;
            assert_eq!(status, 403, "{method} {path}: {answer}");
        }
        let (status, answer) = call(&app, &admin, method.clone(), path, Value::Null).await;
        assert_eq!(status, *expected, "{method} {path} as admin: {answer}");
    }

    // Listing apps shows only the token's.
    let (_, listed) = call(&app, &read, Method::GET, "/apps", Value::Null).await;
    let names: Vec<&str> = listed["apps"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["a"]);
    let (_, listed) = call(&app, &admin, Method::GET, "/apps", Value::Null).await;
    assert_eq!(listed["apps"].as_array().unwrap().len(), 2, "a and c");

    // A limited admin token still cannot reach routes of no app.
    let limited_admin = app.create_token("admin-a", "admin", &["a"]).await;
    let (status, answer) = call(&app, &limited_admin, Method::GET, "/tokens", Value::Null).await;
    assert_eq!(status, 403, "{answer}");
    assert!(answer["error"]["message"]
        .as_str()
        .unwrap()
        .contains("all apps"));
}
