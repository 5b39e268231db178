//! `/tokens`: the token lifecycle, expiry and bad requests. What each scope
//! reaches is in `scopes.rs`.

use reqwest::Method;
use serde_json::{json, Value};
use slipway_api::testing::{expect_error, expect_status, spawn_app, TestApp};
use slipway_core::store::Backend;

crate::on_both_backends!(
    tokens_are_created_listed_and_deleted,
    expired_unknown_and_deleted_tokens_are_refused,
    bad_token_requests_are_rejected_and_change_nothing,
    one_name_created_at_once_makes_one_token,
);

/// Sends `method path` with `token` and a JSON body (none when `Null`);
/// returns the status and the body.
pub async fn call(
    app: &TestApp,
    token: &str,
    method: Method,
    path: &str,
    body: Value,
) -> (u16, Value) {
    let mut request = app.request_as(token, method, path);
    if !body.is_null() {
        request = request.json(&body);
    }
    let response = request.send().await.expect("request");
    let status = response.status().as_u16();
    let text = response.text().await.unwrap();
    (status, serde_json::from_str(&text).unwrap_or(Value::Null))
}

async fn tokens_are_created_listed_and_deleted(backend: Backend) {
    let app = spawn_app(backend).await;
    let body = json!({ "name": "ci", "scope": "deploy", "apps": ["web", "api", "web"], "expires_in": 3600 });
    let created = expect_status(app.send_json(Method::POST, "/tokens", &body).await, 201).await;
    let token = created["token"].as_str().unwrap().to_owned();
    assert!(token.starts_with("slp_") && token.len() == 47, "{token}");
    assert_eq!(created["scope"], "deploy");
    assert_eq!(
        created["apps"],
        json!(["api", "web"]),
        "sorted, without duplicates"
    );
    assert!(created["expires_at"].is_string());
    assert!(created["last_used_at"].is_null());
    let id = created["id"].as_str().unwrap().to_owned();

    // The token works, and its use is recorded.
    let response = app
        .request_as(&token, Method::GET, "/apps/web/releases")
        .send()
        .await
        .unwrap();
    expect_error(response, 404, "not_found").await;
    let listed = expect_status(app.get("/tokens").await, 200).await;
    let text = listed.to_string();
    assert!(!text.contains(&token), "listings never show the token");
    let ci = listed["tokens"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["name"] == "ci")
        .unwrap()
        .clone();
    assert!(ci["last_used_at"].is_string(), "{ci}");
    assert!(
        ci.get("token").is_none() && ci.get("hash").is_none(),
        "{ci}"
    );
    assert_eq!(
        listed["tokens"][0]["name"], "admin",
        "the configured token is listed"
    );

    // The raw table holds only the hash.
    let stored = app.store.list_tokens().unwrap();
    assert_eq!(stored.len(), 2);

    let response = app
        .request(Method::DELETE, &format!("/tokens/{id}"))
        .send()
        .await
        .unwrap();
    expect_status(response, 204).await;
    let response = app
        .request_as(&token, Method::GET, "/apps")
        .send()
        .await
        .unwrap();
    expect_error(response, 401, "unauthorized").await;
    let response = app
        .request(Method::DELETE, &format!("/tokens/{id}"))
        .send()
        .await
        .unwrap();
    expect_error(response, 404, "not_found").await;
}

async fn expired_unknown_and_deleted_tokens_are_refused(backend: Backend) {
    let app = spawn_app(backend).await;
    let old = app.create_token("old", "admin", &[]).await;
    let response = app
        .request_as(&old, Method::GET, "/apps")
        .send()
        .await
        .unwrap();
    expect_status(response, 200).await;
    app.db
        .execute("UPDATE tokens SET expires_at = '2000-01-01 00:00:00' WHERE name = 'old'");
    let response = app
        .request_as(&old, Method::GET, "/apps")
        .send()
        .await
        .unwrap();
    let message = expect_error(response, 401, "unauthorized").await;
    assert!(message.contains("expired"), "{message}");
    let made_up = "slp_0000000000000000000000000000000000000000000";
    let response = app
        .request_as(made_up, Method::GET, "/apps")
        .send()
        .await
        .unwrap();
    expect_error(response, 401, "unauthorized").await;
}

async fn bad_token_requests_are_rejected_and_change_nothing(backend: Backend) {
    let app = spawn_app(backend).await;
    app.create_token("ci", "read", &[]).await;
    let cases = [
        (json!({ "name": "ci", "scope": "read" }), 409, "conflict"),
        (json!({ "name": "x", "scope": "root" }), 422, "invalid"),
        (
            json!({ "name": "Bad Name", "scope": "read" }),
            422,
            "invalid",
        ),
        (
            json!({ "name": "x", "scope": "read", "apps": ["no way"] }),
            422,
            "invalid",
        ),
        (
            json!({ "name": "x", "scope": "read", "expires_in": 5 }),
            422,
            "invalid",
        ),
        (
            json!({ "name": "x", "scope": "read", "expires_in": "1d" }),
            400,
            "bad_request",
        ),
        (
            json!({ "name": "x", "scope": "read", "owner": "me" }),
            400,
            "bad_request",
        ),
        (json!({ "scope": "read" }), 400, "bad_request"),
    ];
    for (body, status, code) in cases {
        let response = app.send_json(Method::POST, "/tokens", &body).await;
        let message = expect_error(response, status, code).await;
        assert!(!message.is_empty(), "{body}");
    }
    let too_many: Vec<String> = (0..101).map(|i| format!("app{i}")).collect();
    let body = json!({ "name": "x", "scope": "read", "apps": too_many });
    expect_error(
        app.send_json(Method::POST, "/tokens", &body).await,
        422,
        "invalid",
    )
    .await;
    let admin_id = app.store.list_tokens().unwrap()[0].id.to_string();
    let response = app
        .request(Method::DELETE, &format!("/tokens/{admin_id}"))
        .send()
        .await
        .unwrap();
    let message = expect_error(response, 409, "conflict").await;
    assert!(message.contains("SLIPWAY_ADMIN_TOKEN"), "{message}");
    let response = app
        .request(Method::DELETE, "/tokens/nonsense")
        .send()
        .await
        .unwrap();
    expect_error(response, 404, "not_found").await;
    assert_eq!(
        app.store.list_tokens().unwrap().len(),
        2,
        "nothing was created or deleted"
    );
}

/// The same name sent many times at once: one token, every other answer a
/// 409 (never a 500 from the unique index).
async fn one_name_created_at_once_makes_one_token(backend: Backend) {
    let app = spawn_app(backend).await;
    let body = json!({ "name": "ci", "scope": "read" });
    let sends = (0..8).map(|_| call(&app, &app.token, Method::POST, "/tokens", body.clone()));
    let mut statuses: Vec<u16> = futures_util::future::join_all(sends)
        .await
        .into_iter()
        .map(|(status, _)| status)
        .collect();
    statuses.sort();
    assert_eq!(statuses, [201, 409, 409, 409, 409, 409, 409, 409]);
    let (_, listed) = call(&app, &app.token, Method::GET, "/tokens", Value::Null).await;
    let named: Vec<&Value> = listed["tokens"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|t| t["name"] == "ci")
        .collect();
    assert_eq!(named.len(), 1);
}
