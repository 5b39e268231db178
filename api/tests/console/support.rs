//! A browser for the console's tests: a cookie jar, no redirects followed
//! (tests look at each answer), and the pages' bodies read as text.

use reqwest::header::HeaderMap;
use reqwest::redirect::Policy;
use reqwest::Method;
use serde_json::json;
use slipway_api::testing::{expect_status, TestApp};
use slipway_core::domain::{DeploymentId, DeploymentStatus};
use slipway_core::store::Deployment;

/// One answer: status, headers and body.
pub struct Page {
    pub status: u16,
    pub headers: HeaderMap,
    pub body: String,
}

impl Page {
    pub fn header(&self, name: &str) -> &str {
        self.headers
            .get(name)
            .map(|v| v.to_str().expect("a text header"))
            .unwrap_or_default()
    }

    /// The `csrf` value the page's forms carry.
    pub fn csrf(&self) -> String {
        let marker = "name=\"csrf\" value=\"";
        let start = self.body.find(marker).expect("a form with a csrf field") + marker.len();
        let end = self.body[start..].find('"').expect("the end of the value");
        self.body[start..start + end].to_owned()
    }
}

/// A browser with its own cookie jar.
pub struct Browser {
    pub url: String,
    client: reqwest::Client,
}

impl Browser {
    pub fn new(app: &TestApp) -> Browser {
        Browser {
            url: app.url.clone(),
            client: reqwest::Client::builder()
                .cookie_store(true)
                .redirect(Policy::none())
                .build()
                .expect("a client"),
        }
    }

    /// A browser signed in with `token`; returns it and its session id.
    pub async fn signed_in(app: &TestApp, token: &str) -> (Browser, String) {
        let browser = Browser::new(app);
        let page = browser.sign_in(token).await;
        assert_eq!(page.status, 303, "{}", page.body);
        let id = session_id(&page).expect("a session cookie");
        (browser, id)
    }

    pub async fn sign_in(&self, token: &str) -> Page {
        self.post("/ui/signin", &[("token", token)]).await
    }

    pub async fn get(&self, path: &str) -> Page {
        self.send(self.client.get(format!("{}{path}", self.url)))
            .await
    }

    pub async fn post(&self, path: &str, form: &[(&str, &str)]) -> Page {
        let request = self
            .client
            .request(Method::POST, format!("{}{path}", self.url))
            .form(form);
        self.send(request).await
    }

    pub async fn send(&self, request: reqwest::RequestBuilder) -> Page {
        let response = request.send().await.expect("an answer");
        Page {
            status: response.status().as_u16(),
            headers: response.headers().clone(),
            body: response.text().await.expect("a body"),
        }
    }

    /// A request of this browser's, to add headers to.
    pub fn request(&self, method: Method, path: &str) -> reqwest::RequestBuilder {
        self.client.request(method, format!("{}{path}", self.url))
    }
}

/// The session id a sign-in answer's `Set-Cookie` carries.
pub fn session_id(page: &Page) -> Option<String> {
    let cookie = page.header("set-cookie");
    let value = cookie.strip_prefix("slipway_session=")?;
    let id = value.split(';').next()?;
    (!id.is_empty()).then(|| id.to_owned())
}

/// An app `name` with a build and `env` whose release is active (as a
/// worker would make it); returns that release's id.
pub async fn deployed_app(app: &TestApp, name: &str, env: serde_json::Value) -> String {
    app.create_app(name).await;
    let mut release = app.build(name, json!({})).await["release"]["id"].clone();
    if env.as_object().is_some_and(|e| !e.is_empty()) {
        let changed = app.patch_env(name, json!({ "set": env })).await;
        release = expect_status(changed, 201).await["release"]["id"].clone();
    }
    let release = release.as_str().expect("a release id").to_owned();
    let path = format!("/apps/{name}/releases/{release}/promote");
    let started = expect_status(app.send_json(Method::POST, &path, &json!({})).await, 202).await;
    let id = started["deployment"]["id"].as_str().unwrap();
    succeed(app, DeploymentId::parse(id).unwrap()).await;
    release
}

/// The app's deployments, newest first, read from the store.
pub fn deployments(app: &TestApp, name: &str) -> Vec<Deployment> {
    let name = slipway_core::domain::AppName::parse(name).unwrap();
    app.store.list_deployments(&name, 100, None).unwrap()
}

/// Carries a pending deployment to success, as a worker would.
pub async fn succeed(app: &TestApp, id: DeploymentId) {
    let store = app.store.clone();
    tokio::task::spawn_blocking(move || {
        let ttl = chrono::TimeDelta::seconds(30);
        let (_, lease) = store.claim_deployment(&id, "w1", ttl).unwrap().unwrap();
        for to in [DeploymentStatus::Running, DeploymentStatus::Succeeded] {
            store.transition_deployment(&id, &lease, to, None).unwrap();
        }
    })
    .await
    .unwrap();
}
