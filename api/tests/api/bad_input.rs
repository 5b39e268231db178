//! Every bad input gets its status and code, a clear message, and changes
//! nothing: the state is compared before and after all of them.

use reqwest::Method;
use serde_json::{json, Value};
use slipway_api::testing::{expect_error, expect_status, spawn_app, TestApp};
use slipway_core::store::Backend;

mod releases;

crate::on_both_backends!(bad_input_is_rejected_and_changes_nothing);

enum Body {
    Empty,
    Json(Value),
    Raw(&'static str, Vec<u8>),
}

struct Case {
    method: Method,
    path: String,
    body: Body,
    status: u16,
    code: &'static str,
    /// A word the message must contain (the field it names, say).
    mentions: &'static str,
}

fn case(
    method: Method,
    path: &str,
    body: Body,
    status: u16,
    code: &'static str,
    mentions: &'static str,
) -> Case {
    Case {
        method,
        path: path.to_owned(),
        body,
        status,
        code,
        mentions,
    }
}

const SECRET: &str = "hunter2-secret-value";

fn cases(release: &str, foreign_release: &str, foreign_build: &str) -> Vec<Case> {
    use Body::{Empty, Json, Raw};
    use Method as M;
    let big = vec![b' '; 2 * 1024 * 1024];
    let web = |service: Value| json!({ "manifest": { "services": { "web": service } } });
    let mut cases = vec![
        // Malformed bodies.
        case(
            M::POST,
            "/apps",
            Raw("application/json", b"{\"name\": ".to_vec()),
            400,
            "bad_request",
            "malformed JSON",
        ),
        case(
            M::POST,
            "/apps",
            Json(json!({ "name": "ok", "colour": "red" })),
            400,
            "bad_request",
            "colour",
        ),
        case(
            M::POST,
            "/apps",
            Json(json!({ "name": 7 })),
            400,
            "bad_request",
            "line 1",
        ),
        case(
            M::POST,
            "/apps",
            Json(json!({})),
            400,
            "bad_request",
            "missing field `name`",
        ),
        case(
            M::POST,
            "/apps",
            Raw("text/plain", b"{\"name\":\"ok\"}".to_vec()),
            415,
            "unsupported_media_type",
            "application/json",
        ),
        case(
            M::POST,
            "/apps",
            Raw("application/json", big),
            413,
            "payload_too_large",
            "limit",
        ),
        // Invalid values.
        case(
            M::POST,
            "/apps",
            Json(json!({ "name": "Bad_Name" })),
            422,
            "invalid",
            "name",
        ),
        case(
            M::POST,
            "/apps",
            Json(json!({ "name": "a".repeat(31) })),
            422,
            "invalid",
            "name",
        ),
        case(
            M::POST,
            "/apps",
            Json(json!({ "name": "ok", "deadline_seconds": 5 })),
            422,
            "invalid",
            "deadline_seconds",
        ),
        case(
            M::POST,
            "/apps",
            Json(json!({ "name": "myapp" })),
            409,
            "conflict",
            "already exists",
        ),
        case(
            M::PATCH,
            "/apps/myapp",
            Json(json!({ "deadline_seconds": 4000 })),
            422,
            "invalid",
            "deadline_seconds",
        ),
        // Builds.
        case(
            M::POST,
            "/apps/myapp/builds",
            Json(json!({})),
            400,
            "bad_request",
            "manifest",
        ),
        case(
            M::POST,
            "/apps/myapp/builds",
            Json(web(json!({ "command": "x", "port": 0 }))),
            422,
            "invalid",
            "manifest.services.web.port",
        ),
        case(
            M::POST,
            "/apps/myapp/builds",
            Json(web(json!({ "command": "x", "helth": "/" }))),
            422,
            "invalid",
            "manifest.services.web.helth",
        ),
        case(
            M::POST,
            "/apps/myapp/builds",
            Json(web(json!({ "port": 80 }))),
            422,
            "invalid",
            "manifest.services.web",
        ),
        case(
            M::POST,
            "/apps/myapp/builds",
            Json(json!({ "manifest": { "services": {} } })),
            422,
            "invalid",
            "manifest.services",
        ),
        case(
            M::POST,
            "/apps/myapp/builds",
            Json(
                json!({ "manifest": {"services": {"web": {"command": "x"}}}, "git_sha": "not-hex" }),
            ),
            422,
            "invalid",
            "git_sha",
        ),
        case(
            M::POST,
            "/apps/myapp/builds",
            Json(
                json!({ "manifest": {"services": {"web": {"command": "x"}}}, "git_message": "m" }),
            ),
            422,
            "invalid",
            "git_sha",
        ),
        case(
            M::POST,
            "/apps/myapp/builds",
            Json(
                json!({ "manifest": {"services": {"web": {"command": "x"}}}, "description": "two\nlines" }),
            ),
            422,
            "invalid",
            "description",
        ),
        case(
            M::POST,
            "/apps/ghost/builds",
            Json(web(json!({ "command": "x" }))),
            404,
            "not_found",
            "ghost",
        ),
        // Env.
        case(
            M::PATCH,
            "/apps/myapp/env",
            Json(json!({ "set": { "bad-key": "v" } })),
            422,
            "invalid",
            "bad-key",
        ),
        case(
            M::PATCH,
            "/apps/myapp/env",
            Json(json!({ "set": { "A": "1" }, "unset": ["A"] })),
            422,
            "invalid",
            "env.A",
        ),
        case(
            M::PATCH,
            "/apps/myapp/env",
            Json(json!({ "set": { "A": 5 } })),
            400,
            "bad_request",
            "expected a string",
        ),
        case(
            M::PATCH,
            "/apps/myapp/env",
            Json(json!({ "set": { "A": SECRET.repeat(2000) } })),
            422,
            "invalid",
            "env.A",
        ),
        case(
            M::PATCH,
            "/apps/myapp/env",
            Json(json!({ "set": format!("A={SECRET}") })),
            400,
            "bad_request",
            "expected a map",
        ),
        case(
            M::PATCH,
            "/apps/myapp/env",
            Json(json!({ "set": { "A": "1" }, "promot": true })),
            400,
            "bad_request",
            "promot",
        ),
        case(
            M::PATCH,
            "/apps/ghost/env",
            Json(json!({ "set": { "A": "1" } })),
            404,
            "not_found",
            "ghost",
        ),
        // Apps and routes.
        case(M::GET, "/apps/ghost", Empty, 404, "not_found", "ghost"),
        case(
            M::GET,
            "/apps/Not_An_App",
            Empty,
            404,
            "not_found",
            "Not_An_App",
        ),
        case(M::DELETE, "/apps/ghost", Empty, 404, "not_found", "ghost"),
        case(
            M::PUT,
            "/apps",
            Json(json!({ "name": "x" })),
            405,
            "method_not_allowed",
            "PUT",
        ),
        case(M::GET, "/nowhere", Empty, 404, "not_found", "route"),
    ];
    cases.extend(releases::cases(release, foreign_release, foreign_build));
    cases
}

/// What a rejected request must leave as it was.
async fn snapshot(app: &TestApp) -> Vec<Value> {
    let mut state = Vec::new();
    for path in [
        "/apps",
        "/apps/myapp",
        "/apps/myapp/releases",
        "/apps/myapp/builds",
        "/apps/myapp/env",
        "/apps/other/releases",
    ] {
        state.push(expect_status(app.get(path).await, 200).await);
    }
    state.push(json!(app.store.list_events(None).unwrap().len()));
    state
}

async fn bad_input_is_rejected_and_changes_nothing(backend: Backend) {
    let app = spawn_app(backend).await;
    app.create_app("myapp").await;
    let built = app.build("myapp", json!({})).await;
    let release = built["release"]["id"].as_str().unwrap().to_owned();
    expect_status(
        app.patch_env("myapp", json!({ "set": { "KEEP": "1" } }))
            .await,
        201,
    )
    .await;
    app.create_app("other").await;
    let other = app.build("other", json!({})).await;
    let foreign_build = other["build"]["id"].as_str().unwrap();
    let foreign_release = other["release"]["id"].as_str().unwrap();

    let before = snapshot(&app).await;
    for case in cases(&release, foreign_release, foreign_build) {
        let label = format!("{} {}", case.method, case.path);
        let request = app.request(case.method, &case.path);
        let request = match case.body {
            Body::Empty => request,
            Body::Json(value) => request.json(&value),
            Body::Raw(content_type, bytes) => {
                request.header("content-type", content_type).body(bytes)
            }
        };
        let response = request
            .send()
            .await
            .unwrap_or_else(|e| panic!("{label}: {e}"));
        let message = expect_error(response, case.status, case.code).await;
        assert!(
            message.contains(case.mentions),
            "{label}: message {message:?} lacks {:?}",
            case.mentions
        );
        assert!(
            !message.contains(SECRET),
            "{label}: message echoes an env value"
        );
    }
    assert_eq!(
        snapshot(&app).await,
        before,
        "a rejected request changed something"
    );
}
