//! Driving a deployment as a worker would (through the store), and reading
//! the console's event stream, for the Deployments tab's tests.

use reqwest::Method;
use serde_json::json;
use slipway_api::testing::{expect_status, TestApp};
use slipway_core::domain::{DeploymentId, DeploymentStatus};
use slipway_core::events::Progress;
use slipway_core::store::Lease;
use std::time::Duration;

/// Makes a new release of `name` and promotes it through the API (as
/// `token`, admin when `None`); returns the release and its deployment.
pub async fn start(app: &TestApp, name: &str, token: Option<&str>) -> (String, DeploymentId) {
    let built = app.build(name, json!({})).await;
    let release = built["release"]["id"].as_str().unwrap().to_owned();
    let path = format!("/apps/{name}/releases/{release}/promote");
    let request = match token {
        Some(token) => app.request_as(token, Method::POST, &path),
        None => app.request(Method::POST, &path),
    };
    let started = expect_status(request.json(&json!({})).send().await.unwrap(), 202).await;
    let id = started["deployment"]["id"].as_str().unwrap();
    (release, DeploymentId::parse(id).unwrap())
}

/// Claims a pending deployment as a worker would, and starts running it.
pub async fn run(app: &TestApp, id: &DeploymentId) -> Lease {
    let (store, id) = (app.store.clone(), id.clone());
    tokio::task::spawn_blocking(move || {
        let ttl = chrono::TimeDelta::seconds(30);
        let (_, lease) = store.claim_deployment(&id, "w1", ttl).unwrap().unwrap();
        store
            .transition_deployment(&id, &lease, DeploymentStatus::Running, None)
            .unwrap();
        lease
    })
    .await
    .unwrap()
}

/// Moves a claimed deployment on to `to`, as a worker would.
pub async fn to(app: &TestApp, id: &DeploymentId, lease: &Lease, to: DeploymentStatus, why: &str) {
    let (store, id, lease, why) = (app.store.clone(), id.clone(), lease.clone(), why.to_owned());
    tokio::task::spawn_blocking(move || {
        let reason = (!why.is_empty()).then_some(why.as_str());
        store
            .transition_deployment(&id, &lease, to, reason)
            .unwrap();
    })
    .await
    .unwrap();
}

/// Records a step of a running deployment's rollout, as a worker would.
pub async fn progress(app: &TestApp, id: &DeploymentId, step: Progress) {
    let (store, id) = (app.store.clone(), id.clone());
    tokio::task::spawn_blocking(move || {
        let deployment = store.get_deployment_by_id(&id).unwrap();
        store.record_progress(&deployment, &step).unwrap();
    })
    .await
    .unwrap();
}

/// Fails a pending deployment with `reason`.
pub async fn fail(app: &TestApp, id: &DeploymentId, reason: &str) {
    let lease = run(app, id).await;
    to(app, id, &lease, DeploymentStatus::Failed, reason).await;
}

pub fn cancel_requested(app: &TestApp, id: &DeploymentId) -> bool {
    app.store.get_deployment_by_id(id).unwrap().cancel_requested
}

pub fn escaped(body: &str, text: &str) -> bool {
    let html = |lt: &str, gt: &str| text.replace('<', lt).replace('>', gt);
    body.contains(&html("&#60;", "&#62;")) || body.contains(&html("&lt;", "&gt;"))
}
/// An open stream of the console's events for one deployment.
pub struct Stream {
    pub response: reqwest::Response,
    /// Everything received so far.
    pub seen: String,
}

impl Stream {
    /// Reads until what arrived since `from` contains `wanted`, and returns
    /// that part; fails after 10 seconds.
    pub async fn until(&mut self, wanted: &str) -> String {
        let from = self.seen.len();
        let read = async {
            while !self.seen[from..].contains(wanted) {
                let chunk = self.response.chunk().await.expect("the stream");
                let chunk = chunk.unwrap_or_else(|| panic!("ended before {wanted}: {}", self.seen));
                self.seen.push_str(std::str::from_utf8(&chunk).unwrap());
            }
        };
        tokio::time::timeout(Duration::from_secs(10), read)
            .await
            .unwrap_or_else(|_| panic!("no {wanted} in time: {}", &self.seen[from..]));
        self.seen[from..].to_owned()
    }

    /// Whether the server ends the stream within 5 seconds.
    pub async fn ends(&mut self) -> bool {
        let read = async {
            while let Some(chunk) = self.response.chunk().await.expect("the stream") {
                self.seen.push_str(std::str::from_utf8(&chunk).unwrap());
            }
        };
        tokio::time::timeout(Duration::from_secs(5), read)
            .await
            .is_ok()
    }
}
