//! Test support (feature `testing`), the API's part of the test kit:
//! `spawn_app()` builds the real API on port 0 over a fresh database, and
//! [`TestApp`] speaks to it as CI would. What needs only `core` (databases,
//! manifests, `wait_until`) is in `slipway_core::testing`.

pub use crate::idempotency::fingerprint;
use crate::{ApiConfig, ApiSettings, Application};
use reqwest::{Method, RequestBuilder, Response};
use serde_json::{json, Value};
use slipway_core::domain::{AppName, RouterUrl};
use slipway_core::secret::generate_token;
use slipway_core::store::{Backend, Store};
use slipway_core::testing::{ManifestBuilder, ServiceBuilder, TestDatabase};
use slipway_queue::{InProcessJobs, JobQueue};

/// A running API, its database and a client of it.
pub struct TestApp {
    /// Jobs the API enqueued (no worker runs here).
    pub jobs: tokio::sync::Mutex<InProcessJobs>,
    pub url: String,
    pub token: String,
    pub client: reqwest::Client,
    pub store: Store,
    pub db: TestDatabase,
}

/// The API on `backend`, with the admin token, no rate limit, no router URL.
pub async fn spawn_app(backend: Backend) -> TestApp {
    spawn_app_with_rate(backend, 0).await
}

/// [`spawn_app`] with a write rate limit per token (0: none).
pub async fn spawn_app_with_rate(backend: Backend, write_rate_per_minute: u32) -> TestApp {
    spawn_app_with(backend, write_rate_per_minute, None).await
}

/// [`spawn_app`] with users reaching the router at `router_url`.
pub async fn spawn_app_with_router(backend: Backend, router_url: &str) -> TestApp {
    let router_url = RouterUrl::parse(router_url).expect("a valid router URL");
    spawn_app_with(backend, 0, Some(router_url)).await
}

/// [`spawn_app`] over `db`: a database the test cuts off, for one.
pub async fn spawn_app_on(db: TestDatabase) -> TestApp {
    spawn_app_over(db, 0, None).await
}

async fn spawn_app_with(
    backend: Backend,
    write_rate_per_minute: u32,
    router_url: Option<RouterUrl>,
) -> TestApp {
    spawn_app_over(
        TestDatabase::new(backend),
        write_rate_per_minute,
        router_url,
    )
    .await
}

/// Builds and starts the API: the one place tests call `Application::build`.
async fn spawn_app_over(
    db: TestDatabase,
    write_rate_per_minute: u32,
    router_url: Option<RouterUrl>,
) -> TestApp {
    let store = db.store();
    let token = generate_token();
    let config = ApiConfig {
        listen: "127.0.0.1:0".into(),
        admin_token: token.clone(),
        allow_private_webhooks: false,
        write_rate_per_minute,
        router_url,
    };
    let (queue, jobs) = JobQueue::in_process();
    let app = Application::build(ApiSettings::new(config, store.clone(), queue))
        .await
        .expect("build the API");
    let url = format!("http://{}", app.local_addr());
    tokio::spawn(app.run_until_stopped());
    TestApp {
        jobs: tokio::sync::Mutex::new(jobs),
        url,
        token: token.expose().clone(),
        client: reqwest::Client::new(),
        store,
        db,
    }
}

impl TestApp {
    /// A request carrying the admin token.
    pub fn request(&self, method: Method, path: &str) -> RequestBuilder {
        self.client
            .request(method, format!("{}{path}", self.url))
            .bearer_auth(&self.token)
    }

    /// A request carrying `token`.
    pub fn request_as(&self, token: &str, method: Method, path: &str) -> RequestBuilder {
        self.client
            .request(method, format!("{}{path}", self.url))
            .bearer_auth(token)
    }

    /// Creates a token with the admin token; returns the token itself.
    pub async fn create_token(&self, name: &str, scope: &str, apps: &[&str]) -> String {
        let body = json!({ "name": name, "scope": scope, "apps": apps });
        let created =
            expect_status(self.send_json(Method::POST, "/tokens", &body).await, 201).await;
        created["token"].as_str().expect("the token").to_owned()
    }

    pub async fn get(&self, path: &str) -> Response {
        self.request(Method::GET, path).send().await.expect("GET")
    }

    pub async fn send_json(&self, method: Method, path: &str, body: &Value) -> Response {
        self.request(method, path)
            .json(body)
            .send()
            .await
            .expect("request")
    }

    pub async fn create_app(&self, name: &str) -> Value {
        let response = self
            .send_json(Method::POST, "/apps", &json!({ "name": name }))
            .await;
        expect_status(response, 201).await
    }

    /// Posts a build of one service; returns `{"build", "release"}`.
    pub async fn build(&self, app: &str, extra: Value) -> Value {
        let manifest = ManifestBuilder::web(ServiceBuilder::new().command("true"));
        let mut body = json!({ "manifest": manifest.json() });
        body.as_object_mut()
            .unwrap()
            .extend(extra.as_object().unwrap().clone());
        let response = self
            .send_json(Method::POST, &format!("/apps/{app}/builds"), &body)
            .await;
        expect_status(response, 201).await
    }

    pub async fn patch_env(&self, app: &str, body: Value) -> Response {
        self.send_json(Method::PATCH, &format!("/apps/{app}/env"), &body)
            .await
    }

    pub async fn releases(&self, app: &str) -> Vec<Value> {
        let body = expect_status(self.get(&format!("/apps/{app}/releases")).await, 200).await;
        body["releases"].as_array().unwrap().clone()
    }

    /// Asserts that `value` has exactly the properties `openapi.json`'s
    /// schema `name` describes, all of them required.
    pub async fn assert_documented(&self, name: &str, value: &Value) {
        let document = expect_status(self.get("/openapi.json").await, 200).await;
        let schema = &document["components"]["schemas"][name];
        let keys = |v: &Value| -> std::collections::BTreeSet<String> {
            v.as_object().expect("an object").keys().cloned().collect()
        };
        let documented = keys(&schema["properties"]);
        let required: std::collections::BTreeSet<String> = schema["required"]
            .as_array()
            .expect("required properties")
            .iter()
            .map(|k| k.as_str().expect("a name").to_owned())
            .collect();
        assert_eq!(keys(value), documented, "{name}: {value}");
        assert_eq!(required, documented, "{name}: every property is required");
    }

    /// How many events the app has, read straight from the store.
    pub fn event_count(&self, app: &str) -> usize {
        let app = AppName::parse(app).unwrap();
        self.store.list_events(Some(&app)).unwrap().len()
    }
}

/// Asserts the status (showing the body when it differs) and returns the JSON body.
pub async fn expect_status(response: Response, status: u16) -> Value {
    let actual = response.status().as_u16();
    let text = response.text().await.expect("read the body");
    assert_eq!(actual, status, "unexpected status; body: {text}");
    if text.is_empty() {
        Value::Null
    } else {
        serde_json::from_str(&text).unwrap_or_else(|e| panic!("not JSON ({e}): {text}"))
    }
}

/// Asserts an error response: status and `error.code`; returns the message.
pub async fn expect_error(response: Response, status: u16, code: &str) -> String {
    let body = expect_status(response, status).await;
    assert_eq!(body["error"]["code"], code, "{body}");
    body["error"]["message"]
        .as_str()
        .expect("an error message")
        .to_owned()
}
