//! What the requests of the contract test name: apps with builds, releases
//! and a deployment, a webhook with a delivery, tokens of narrower scopes,
//! an app whose release no key opens, and a used `Idempotency-Key`.

use reqwest::Method;
use serde_json::{json, Value};
use slipway_api::testing::{expect_status, TestApp};
use slipway_core::domain::{AppName, Env};
use slipway_core::seal::{generate_key, Keyring};
use slipway_core::store::NewRelease;
use slipway_core::testing::{ManifestBuilder, ServiceBuilder};
use std::collections::BTreeMap;

/// The `Idempotency-Key` of a request already answered.
pub const USED_KEY: &str = "contract-used-key";

pub struct Fixture {
    pub build: String,
    pub release: String,
    pub deployment: String,
    pub webhook: String,
    pub delivery: String,
    pub token: String,
    /// The id of the token from `SLIPWAY_ADMIN_TOKEN`.
    pub admin: String,
    /// Reads `shop` only.
    pub reader: String,
    /// Reads `locked` only.
    pub outsider: String,
    /// The release of `locked` whose env no configured key opens.
    pub locked: String,
}

/// One web service with a port.
pub fn manifest() -> Value {
    ManifestBuilder::web(ServiceBuilder::new().command("run").port(8080)).json()
}

impl Fixture {
    pub async fn new(app: &TestApp) -> Fixture {
        for name in ["shop", "other", "locked"] {
            app.create_app(name).await;
        }
        let built = app.build("shop", json!({ "git_sha": "abcdef1" })).await;
        let body = json!({ "manifest": manifest() });
        let path = "/apps/other/deploy";
        let deployed = expect_status(app.send_json(Method::POST, path, &body).await, 202).await;
        let body =
            json!({ "url": "https://hooks.example.com/in", "kind": "generic", "events": ["*"] });
        let hook = expect_status(app.send_json(Method::POST, "/webhooks", &body).await, 201).await;
        let webhook = hook["id"].as_str().unwrap().to_owned();
        let path = format!("/webhooks/{webhook}/test");
        let delivery =
            expect_status(app.send_json(Method::POST, &path, &json!({})).await, 202).await;
        let body = json!({ "name": "spare", "scope": "read" });
        let token = expect_status(app.send_json(Method::POST, "/tokens", &body).await, 201).await;
        let response = app
            .request(Method::POST, "/apps")
            .header("Idempotency-Key", USED_KEY)
            .json(&json!({ "name": "keyed" }))
            .send()
            .await
            .unwrap();
        expect_status(response, 201).await;
        let admin = app.store.list_tokens().unwrap();
        let admin = admin.iter().find(|t| t.name == "admin").unwrap();
        Fixture {
            build: built["build"]["id"].as_str().unwrap().to_owned(),
            release: built["release"]["id"].as_str().unwrap().to_owned(),
            deployment: deployed["deployment"]["id"].as_str().unwrap().to_owned(),
            webhook,
            delivery: delivery["id"].as_str().unwrap().to_owned(),
            token: token["id"].as_str().unwrap().to_owned(),
            admin: admin.id.to_string(),
            reader: app.create_token("reader", "read", &["shop"]).await,
            outsider: app.create_token("outsider", "read", &["locked"]).await,
            locked: locked_release(app).await,
        }
    }

    /// `pattern` with its parameters named: `/apps/shop/releases/R...`.
    pub fn fill(&self, pattern: &str) -> String {
        let id = if pattern.starts_with("/apps/{app}/builds") {
            &self.build
        } else if pattern.starts_with("/apps/{app}/releases") {
            &self.release
        } else if pattern.starts_with("/apps/{app}/deployments") {
            &self.deployment
        } else if pattern.starts_with("/webhooks") {
            &self.webhook
        } else {
            &self.token
        };
        let app = if pattern.starts_with("/apps/{app}/deployments") {
            "other"
        } else {
            "shop"
        };
        pattern
            .replace("{app}", app)
            .replace("{id}", id)
            .replace("{delivery}", &self.delivery)
    }

    /// `pattern` with its parameters naming nothing there is.
    pub fn missing(&self, pattern: &str) -> String {
        let id = if pattern.starts_with("/webhooks") {
            "WAAAAAAAAAA"
        } else if pattern.starts_with("/tokens") {
            "TAAAAAAAAAA"
        } else {
            "RAAAAAAAAAA"
        };
        pattern
            .replace("{app}", "nope")
            .replace("{id}", id)
            .replace("{delivery}", "VAAAAAAAAAA")
    }
}

/// A release of `locked` sealed under a key the API does not have.
async fn locked_release(app: &TestApp) -> String {
    app.build("locked", json!({})).await;
    let lost = Keyring::from_base64(generate_key().unwrap().expose(), None).unwrap();
    let env = Env::parse(BTreeMap::from([("SECRET".to_owned(), "x".to_owned())])).unwrap();
    let new = NewRelease {
        env: Some(env),
        ..NewRelease::default()
    };
    let name = AppName::parse("locked").unwrap();
    let store = app.db.store_with_keyring(lost);
    let release = tokio::task::spawn_blocking(move || store.create_release(&name, &new, "t"))
        .await
        .unwrap()
        .unwrap();
    release.id.to_string()
}
