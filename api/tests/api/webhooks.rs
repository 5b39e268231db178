//! `/webhooks`: the subscription lifecycle, the delivery log and redelivery,
//! and every rejection (each leaves no webhook behind). Delivery itself is
//! tested in the worker crate.

use reqwest::Method;
use serde_json::{json, Value};
use slipway_api::testing::{expect_error, expect_status, spawn_app, TestApp};
use slipway_core::store::Backend;

crate::on_both_backends!(
    webhooks_are_created_shown_rotated_and_deleted,
    events_are_logged_as_deliveries_and_can_be_redelivered,
    bad_subscriptions_are_rejected_and_change_nothing,
    unknown_webhooks_and_deliveries_are_not_found,
);

async fn create(app: &TestApp, body: Value) -> reqwest::Response {
    app.send_json(Method::POST, "/webhooks", &body).await
}

async fn webhook_count(app: &TestApp) -> usize {
    let body = expect_status(app.get("/webhooks").await, 200).await;
    body["webhooks"].as_array().unwrap().len()
}

async fn webhooks_are_created_shown_rotated_and_deleted(backend: Backend) {
    let app = spawn_app(backend).await;
    let body = json!({
        "url": "https://hooks.example.com/slipway",
        "kind": "slack",
        "events": ["deployment.*", "release.created", "deployment.*"],
        "apps": ["myapp"],
        "description": "team channel",
    });
    let created = expect_status(create(&app, body).await, 201).await;
    let id = created["id"].as_str().unwrap().to_owned();
    assert!(id.starts_with('W'));
    let secret = created["secret"].as_str().unwrap().to_owned();
    assert!(secret.starts_with("whsec_"));
    assert_eq!(
        created["events"],
        json!(["deployment.*", "release.created"])
    );
    assert_eq!(created["apps"], json!(["myapp"]));
    assert_eq!(created["kind"], "slack");
    assert_eq!(created["actor"], "admin");

    // The secret is shown once: never in listings or reads.
    let listed = app.get("/webhooks").await.text().await.unwrap();
    assert!(
        listed.contains(&id) && !listed.contains(&secret),
        "{listed}"
    );
    let shown = expect_status(app.get(&format!("/webhooks/{id}")).await, 200).await;
    assert_eq!(shown["url"], "https://hooks.example.com/slipway");
    assert!(shown.get("secret").is_none());

    let rotated = app
        .request(Method::POST, &format!("/webhooks/{id}/rotate"))
        .send()
        .await
        .unwrap();
    let rotated = expect_status(rotated, 200).await;
    let fresh = rotated["secret"].as_str().unwrap();
    assert!(fresh.starts_with("whsec_") && fresh != secret);
    assert!(rotated["previous_secret_expires_at"].is_string());

    let deleted = app
        .request(Method::DELETE, &format!("/webhooks/{id}"))
        .send()
        .await
        .unwrap();
    expect_status(deleted, 204).await;
    assert_eq!(webhook_count(&app).await, 0);
}

async fn events_are_logged_as_deliveries_and_can_be_redelivered(backend: Backend) {
    let app = spawn_app(backend).await;
    let body = json!({ "url": "https://example.com/hook", "kind": "generic", "events": ["*"] });
    let created = expect_status(create(&app, body).await, 201).await;
    let id = created["id"].as_str().unwrap();
    app.create_app("myapp").await;
    app.build("myapp", json!({})).await;

    let log = expect_status(app.get(&format!("/webhooks/{id}/deliveries")).await, 200).await;
    let types: Vec<&str> = log["deliveries"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["event_type"].as_str().unwrap())
        .collect();
    assert_eq!(types, ["release.created", "build.created", "app.created"]);
    let newest = &log["deliveries"][0];
    assert_eq!(newest["status"], "pending");
    assert_eq!(newest["attempts"], 0);
    let limited = app.get(&format!("/webhooks/{id}/deliveries?limit=1")).await;
    let limited = expect_status(limited, 200).await;
    assert_eq!(limited["deliveries"].as_array().unwrap().len(), 1);

    let delivery = newest["id"].as_str().unwrap();
    let path = format!("/webhooks/{id}/deliveries/{delivery}/redeliver");
    let again = app.request(Method::POST, &path).send().await.unwrap();
    let again = expect_status(again, 202).await;
    assert_ne!(again["id"], newest["id"]);
    assert_eq!(again["event"], newest["event"]);

    let test = app
        .request(Method::POST, &format!("/webhooks/{id}/test"))
        .send()
        .await
        .unwrap();
    let test = expect_status(test, 202).await;
    assert_eq!(test["event_type"], "webhook.test");
    let log = expect_status(app.get(&format!("/webhooks/{id}/deliveries")).await, 200).await;
    assert_eq!(log["deliveries"].as_array().unwrap().len(), 5);
}

async fn bad_subscriptions_are_rejected_and_change_nothing(backend: Backend) {
    let app = spawn_app(backend).await;
    let refused = [
        ("http://127.0.0.1/hook", "loopback"),
        ("http://[::1]/hook", "loopback"),
        ("http://[::ffff:127.0.0.1]/hook", "loopback"),
        ("http://localhost:8080/hook", "localhost"),
        ("http://10.0.0.8/hook", "private"),
        ("http://172.16.5.4/hook", "private"),
        ("http://192.168.1.1/hook", "private"),
        ("http://169.254.169.254/latest/meta-data", "link-local"),
        ("http://[fe80::1]/hook", "link-local"),
        ("http://[fd00::1]/hook", "unique-local"),
        ("http://224.0.0.1/hook", "multicast"),
        ("http://[ff02::1]/hook", "multicast"),
        ("http://0.0.0.0/hook", "unspecified"),
        ("http://[::]/hook", "unspecified"),
        ("ftp://example.com/hook", "http"),
        ("file:///etc/passwd", "http"),
        ("not a url", "url"),
        ("https://user:pass@example.com/hook", "password"),
    ];
    for (url, mentions) in refused {
        let body = json!({ "url": url, "kind": "generic", "events": ["*"] });
        let message = expect_error(create(&app, body).await, 422, "invalid").await;
        assert!(message.starts_with("url: "), "{url}: {message}");
        assert!(message.contains(mentions), "{url}: {message}");
    }
    let url = "https://example.com/hook";
    let invalid = [
        (
            json!({ "url": url, "kind": "teams", "events": ["*"] }),
            "kind",
        ),
        (
            json!({ "url": url, "kind": "generic", "events": [] }),
            "events",
        ),
        (
            json!({ "url": url, "kind": "generic", "events": ["deploy.*"] }),
            "events",
        ),
        (
            json!({ "url": url, "kind": "generic", "events": ["*"], "apps": ["Bad App"] }),
            "apps",
        ),
        (
            json!({ "url": url, "kind": "generic", "events": vec!["*"; 101] }),
            "events",
        ),
        (
            json!({ "url": url, "kind": "generic", "events": ["*"], "description": "x".repeat(2000) }),
            "description",
        ),
    ];
    for (body, field) in invalid {
        let message = expect_error(create(&app, body.clone()).await, 422, "invalid").await;
        assert!(
            message.starts_with(&format!("{field}: ")),
            "{body}: {message}"
        );
    }
    let malformed = [
        json!({ "url": url, "kind": "generic" }),
        json!({ "url": url, "kind": "generic", "events": ["*"], "secret": "mine" }),
        json!({ "url": 42, "kind": "generic", "events": ["*"] }),
    ];
    for body in malformed {
        expect_error(create(&app, body).await, 400, "bad_request").await;
    }
    assert_eq!(webhook_count(&app).await, 0);
}

async fn unknown_webhooks_and_deliveries_are_not_found(backend: Backend) {
    let app = spawn_app(backend).await;
    for path in [
        "/webhooks/WABCDEFGHIJ",
        "/webhooks/nope",
        "/webhooks/WABCDEFGHIJ/deliveries",
    ] {
        expect_error(app.get(path).await, 404, "not_found").await;
    }
    for path in [
        "/webhooks/WABCDEFGHIJ/rotate",
        "/webhooks/WABCDEFGHIJ/test",
        "/webhooks/WABCDEFGHIJ/deliveries/VABCDEFGHIJ/redeliver",
    ] {
        let response = app.request(Method::POST, path).send().await.unwrap();
        expect_error(response, 404, "not_found").await;
    }
    let response = app
        .request(Method::DELETE, "/webhooks/WABCDEFGHIJ")
        .send()
        .await
        .unwrap();
    expect_error(response, 404, "not_found").await;

    let body = json!({ "url": "https://example.com/hook", "kind": "generic", "events": ["*"] });
    let created = expect_status(create(&app, body).await, 201).await;
    let id = created["id"].as_str().unwrap();
    let path = format!("/webhooks/{id}/deliveries/VABCDEFGHIJ/redeliver");
    let response = app.request(Method::POST, &path).send().await.unwrap();
    let message = expect_error(response, 404, "not_found").await;
    assert!(message.contains("VABCDEFGHIJ"), "{message}");
    for limit in ["0", "501", "x"] {
        let response = app
            .get(&format!("/webhooks/{id}/deliveries?limit={limit}"))
            .await;
        let status = response.status().as_u16();
        assert!(status == 400 || status == 422, "limit={limit}: {status}");
    }
    let unauthenticated = reqwest::Client::new()
        .get(format!("{}/webhooks", app.url))
        .send()
        .await
        .unwrap();
    expect_error(unauthenticated, 401, "unauthorized").await;
}
