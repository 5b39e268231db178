//! The Deployments tab: the history and its paging, a deployment's page
//! followed live through the console's own event stream, Cancel (CSRF, a
//! `read` token), and reasons shown as text.

use crate::support::{deployed_app, deployments, Browser};
use reqwest::Method;
use serde_json::json;
use slipway_api::testing::{expect_status, spawn_app, TestApp};
use slipway_core::domain::{DeploymentId, DeploymentStatus, ReleaseId, ServiceName};
use slipway_core::events::Progress;
use slipway_core::store::{Backend, Lease};
use std::time::Duration;

crate::on_both_backends!(
    the_history_lists_deployments_newest_first_and_pages,
    the_live_stream_needs_a_session_and_follows_the_deployment,
    cancel_from_the_page_asks_the_worker_to_stop,
    a_read_token_sees_no_cancel_and_cannot_forge_one,
    reasons_are_escaped_on_every_page_and_in_the_stream,
);

/// Makes a new release of `name` and promotes it through the API (as
/// `token`, admin when `None`); returns the release and its deployment.
async fn start(app: &TestApp, name: &str, token: Option<&str>) -> (String, DeploymentId) {
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
async fn run(app: &TestApp, id: &DeploymentId) -> Lease {
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
async fn to(app: &TestApp, id: &DeploymentId, lease: &Lease, to: DeploymentStatus, why: &str) {
    let (store, id, lease, why) = (app.store.clone(), id.clone(), lease.clone(), why.to_owned());
    tokio::task::spawn_blocking(move || {
        let reason = (!why.is_empty()).then_some(why.as_str());
        store.transition_deployment(&id, &lease, to, reason).unwrap();
    })
    .await
    .unwrap();
}

/// Records a step of a running deployment's rollout, as a worker would.
async fn progress(app: &TestApp, id: &DeploymentId, step: Progress) {
    let (store, id) = (app.store.clone(), id.clone());
    tokio::task::spawn_blocking(move || {
        let deployment = store.get_deployment_by_id(&id).unwrap();
        store.record_progress(&deployment, &step).unwrap();
    })
    .await
    .unwrap();
}

/// Fails a pending deployment with `reason`.
async fn fail(app: &TestApp, id: &DeploymentId, reason: &str) {
    let lease = run(app, id).await;
    to(app, id, &lease, DeploymentStatus::Failed, reason).await;
}

fn cancel_requested(app: &TestApp, id: &DeploymentId) -> bool {
    app.store
        .get_deployment_by_id(id)
        .unwrap()
        .cancel_requested
}

fn escaped(body: &str, text: &str) -> bool {
    let html = |lt: &str, gt: &str| text.replace('<', lt).replace('>', gt);
    body.contains(&html("&#60;", "&#62;")) || body.contains(&html("&lt;", "&gt;"))
}

async fn the_history_lists_deployments_newest_first_and_pages(backend: Backend) {
    let app = spawn_app(backend).await;
    let first = deployed_app(&app, "shop", json!({})).await;
    let deployer = app.create_token("release-bot", "deploy", &["shop"]).await;
    let (second, failed) = start(&app, "shop", Some(&deployer)).await;
    fail(&app, &failed, "web: exited with status 1").await;
    let (third, pending) = start(&app, "shop", Some(&deployer)).await;
    let ids: Vec<String> = deployments(&app, "shop")
        .iter()
        .map(|d| d.id.to_string())
        .collect();
    assert_eq!(ids.len(), 3);
    assert_eq!(ids[0], pending.to_string());

    let reader = app.create_token("viewer", "read", &[]).await;
    let (browser, _) = Browser::signed_in(&app, &reader).await;
    let page = browser.get("/ui/apps/shop/releases").await;
    assert!(
        page.body.contains("href=\"/ui/apps/shop/deployments\">Deployments</a>"),
        "the app's tabs: {}",
        page.body
    );
    let page = browser.get("/ui/apps/shop/deployments").await;
    assert_eq!(page.status, 200, "{}", page.body);
    for header in [
        "ID", "STATUS", "RELEASE", "PREVIOUS", "WHO", "REASON", "STARTED", "DURATION",
    ] {
        assert!(page.body.contains(&format!("<th>{header}</th>")), "{header}");
    }
    let at = |id: &String| page.body.find(id.as_str()).expect("listed");
    assert!(at(&ids[0]) < at(&ids[1]) && at(&ids[1]) < at(&ids[2]), "newest first");
    for marked in [
        "status-busy\">pending</td>",
        "status-bad\">failed</td>",
        "status-ok\">succeeded</td>",
    ] {
        assert!(page.body.contains(marked), "{marked}: {}", page.body);
    }
    assert!(page.body.contains("web: exited with status 1"), "the reason");
    assert!(page.body.contains("release-bot"), "who");
    // The failed one went from the first release to the second.
    let row = &page.body[at(&ids[1])..at(&ids[2])];
    assert!(row.contains(&format!(">{second}</a>")), "{row}");
    assert!(row.contains(&format!(">{first}</a>")), "previous: {row}");
    assert!(page.body.contains(&format!(">{third}</a>")));
    assert!(!page.body.contains("Older"), "one page");

    let page = browser.get("/ui/apps/shop/deployments?limit=2").await;
    assert!(page.body.contains(&ids[0]) && page.body.contains(&ids[1]));
    assert!(!page.body.contains(&ids[2]));
    let older = format!("/ui/apps/shop/deployments?before={}", ids[1]);
    assert!(page.body.contains(&format!("href=\"{older}\"")), "{}", page.body);
    let page = browser.get(&older).await;
    assert_eq!(page.status, 200);
    assert!(page.body.contains(&ids[2]) && !page.body.contains(&ids[1]));
    assert!(page.body.contains("Newest"));

    for (path, status) in [
        ("/ui/apps/shop/deployments?limit=1000", 400),
        ("/ui/apps/shop/deployments?before=bad", 400),
        ("/ui/apps/nope/deployments", 404),
    ] {
        let page = browser.get(path).await;
        assert_eq!(page.status, status, "{path}: {}", page.body);
        assert!(page.body.contains("role=\"alert\""), "{path}");
    }
    // Signed out, the tab sends the browser to sign in.
    let page = Browser::new(&app).get("/ui/apps/shop/deployments").await;
    assert_eq!(page.status, 303);
    assert_eq!(page.header("location"), "/ui/signin");
}

/// An open stream of the console's events for one deployment.
struct Stream {
    response: reqwest::Response,
    /// Everything received so far.
    seen: String,
}

impl Stream {
    /// Reads until what arrived since `from` contains `wanted`, and returns
    /// that part; fails after 10 seconds.
    async fn until(&mut self, wanted: &str) -> String {
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
    async fn ends(&mut self) -> bool {
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

async fn the_live_stream_needs_a_session_and_follows_the_deployment(backend: Backend) {
    let app = spawn_app(backend).await;
    let first = deployed_app(&app, "shop", json!({})).await;
    let (second, id) = start(&app, "shop", None).await;
    let page_path = format!("/ui/apps/shop/deployments/{id}");
    let events = format!("{page_path}/events");

    // Without a session: 401 (an EventSource cannot sign in), no stream.
    let page = Browser::new(&app).get(&events).await;
    assert_eq!(page.status, 401, "{}", page.body);
    assert!(!page.header("content-type").starts_with("text/event-stream"));
    // Nor with the API token, which only the API takes.
    let response = app.request(Method::GET, &events).send().await.unwrap();
    assert_eq!(response.status(), 401);

    let (browser, _) = Browser::signed_in(&app, &app.token).await;
    let page = browser.get(&page_path).await;
    assert_eq!(page.status, 200, "{}", page.body);
    assert!(page.body.contains(&format!("sse-connect=\"{events}\"")), "{}", page.body);
    assert!(page.body.contains("sse-swap=\"deployment\""));
    assert!(page.body.contains("src=\"/ui/static/htmx-ext-sse.min.js\""));
    assert!(page.body.contains(&format!("href=\"{page_path}\">Reload</a>")));
    let script = browser.get("/ui/static/htmx-ext-sse.min.js").await;
    assert_eq!(script.status, 200);
    assert!(script.header("content-type").starts_with("text/javascript"));
    assert!(script.body.contains("defineExtension(\"sse\""), "the real extension");

    let response = browser
        .request(Method::GET, &events)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    assert!(response.headers()["content-type"]
        .to_str()
        .unwrap()
        .starts_with("text/event-stream"));
    let mut stream = Stream {
        response,
        seen: String::new(),
    };
    let frame = stream.until("\n\n").await;
    assert!(frame.starts_with("id: "), "{frame}");
    assert!(frame.contains("event: deployment\n"), "{frame}");
    assert!(frame.contains("data: "), "{frame}");
    assert!(frame.contains("status-busy\">pending"), "{frame}");
    assert!(frame.contains("Cancel deployment"), "an admin may cancel: {frame}");

    // A wave, instances healthy: each shows without a reload.
    let lease = run(&app, &id).await;
    let web = ServiceName::parse("web").unwrap();
    let release = ReleaseId::parse(&second).unwrap();
    let wave = Progress::Wave {
        service: web.clone(),
        release: release.clone(),
        instances: 1,
        count: 2,
    };
    progress(&app, &id, wave).await;
    let frame = stream.until("a wave starts 1 more of 2").await;
    assert!(frame.contains("status-busy\">running"), "{frame}");
    assert!(frame.contains("1 started"), "{frame}");
    let healthy = Progress::Healthy {
        service: web,
        release,
        instances: vec!["web-1".into()],
        healthy: 1,
        count: 2,
    };
    progress(&app, &id, healthy).await;
    let frame = stream.until(&format!("web: 1 of 2 instances of {second} healthy")).await;
    assert!(!frame.contains("event: done"), "still open: {frame}");

    // A rollback says where it returns to, and the final status ends it.
    to(&app, &id, &lease, DeploymentStatus::RollingBack, "web: not healthy in time").await;
    let back = Progress::Rollback {
        to: ReleaseId::parse(&first).unwrap(),
    };
    progress(&app, &id, back).await;
    let frame = stream.until(&format!("rolling back to {first}")).await;
    assert!(frame.contains(&format!("returns to <a href=\"/ui/apps/shop/releases/{first}\">")));
    to(&app, &id, &lease, DeploymentStatus::RolledBack, "web: not healthy in time").await;
    let frame = stream.until("event: done").await;
    assert!(frame.contains("status-bad\">rolled_back"), "{frame}");
    assert!(frame.contains("web: not healthy in time"), "{frame}");
    assert!(!frame.contains("Cancel deployment"), "final: {frame}");
    assert!(frame.contains("data: rolled_back\n"), "{frame}");
    assert!(stream.ends().await, "the stream ends after the final status");

    // A final deployment's page shows the end, and opens no stream.
    let page = browser.get(&page_path).await;
    assert!(page.body.contains("status-bad\">rolled_back"), "{}", page.body);
    assert!(!page.body.contains("sse-connect"));
    assert!(page.body.contains(&format!("rolling back to {first}")));
    // Its stream sends the end at once.
    let response = browser.request(Method::GET, &events).send().await.unwrap();
    let mut stream = Stream {
        response,
        seen: String::new(),
    };
    stream.until("event: done").await;
    assert!(stream.ends().await);

    for path in [
        "/ui/apps/shop/deployments/not-an-id/events".to_owned(),
        "/ui/apps/nope/deployments/DABCDEFGHIJ/events".to_owned(),
    ] {
        let page = browser.get(&path).await;
        assert_eq!(page.status, 404, "{path}: {}", page.body);
    }
}

async fn cancel_from_the_page_asks_the_worker_to_stop(backend: Backend) {
    let app = spawn_app(backend).await;
    deployed_app(&app, "shop", json!({})).await;
    let (_, id) = start(&app, "shop", None).await;
    run(&app, &id).await;
    let deployer = app.create_token("release-bot", "deploy", &["shop"]).await;
    let (browser, _) = Browser::signed_in(&app, &deployer).await;
    let path = format!("/ui/apps/shop/deployments/{id}");
    let cancel = format!("{path}/cancel");

    let page = browser.get(&path).await;
    assert!(page.body.contains(&format!("action=\"{cancel}\"")), "{}", page.body);
    let csrf = page.csrf();
    // Without this session's CSRF value nothing happens.
    for form in [vec![], vec![("csrf", "0badc0de")]] {
        let page = browser.post(&cancel, &form).await;
        assert_eq!(page.status, 403, "{}", page.body);
        assert!(page.body.contains("CSRF"));
    }
    assert!(!cancel_requested(&app, &id));

    let page = browser.post(&cancel, &[("csrf", &csrf)]).await;
    assert_eq!(page.status, 303, "{}", page.body);
    assert_eq!(page.header("location"), path);
    assert!(cancel_requested(&app, &id), "the store has it");
    let page = browser.get(&path).await;
    assert!(page.body.contains("(cancel asked)"), "{}", page.body);
    assert!(page.body.contains("cancel asked by release-bot"), "{}", page.body);
    assert!(!page.body.contains(&format!("action=\"{cancel}\"")), "asked once");

    // A final deployment cannot be cancelled: a page says why.
    let finished = deployments(&app, "shop")[1].clone();
    assert_eq!(finished.status, DeploymentStatus::Succeeded);
    let path = format!("/ui/apps/shop/deployments/{}/cancel", finished.id);
    let page = browser.post(&path, &[("csrf", &csrf)]).await;
    assert_eq!(page.status, 409, "{}", page.body);
    assert!(page.body.contains("role=\"alert\""), "{}", page.body);
    assert!(!cancel_requested(&app, &finished.id));
}

async fn a_read_token_sees_no_cancel_and_cannot_forge_one(backend: Backend) {
    let app = spawn_app(backend).await;
    deployed_app(&app, "shop", json!({})).await;
    let (_, id) = start(&app, "shop", None).await;
    run(&app, &id).await;
    let reader = app.create_token("viewer", "read", &[]).await;
    let (browser, _) = Browser::signed_in(&app, &reader).await;
    let path = format!("/ui/apps/shop/deployments/{id}");

    let page = browser.get(&path).await;
    assert_eq!(page.status, 200, "{}", page.body);
    assert!(page.body.contains("status-busy\">running"));
    assert!(!page.body.contains("/cancel") && !page.body.contains("Cancel deployment"));
    let mut stream = Stream {
        response: browser
            .request(Method::GET, &format!("{path}/events"))
            .send()
            .await
            .unwrap(),
        seen: String::new(),
    };
    let frame = stream.until("\n\n").await;
    assert!(frame.contains("status-busy\">running"), "{frame}");
    assert!(!frame.contains("/cancel"), "no Cancel in the stream: {frame}");

    let csrf = page.csrf();
    let page = browser.post(&format!("{path}/cancel"), &[("csrf", &csrf)]).await;
    assert_eq!(page.status, 403, "{}", page.body);
    assert!(page.body.contains("scope `deploy`"), "{}", page.body);
    assert!(!cancel_requested(&app, &id));
}

async fn reasons_are_escaped_on_every_page_and_in_the_stream(backend: Backend) {
    let app = spawn_app(backend).await;
    deployed_app(&app, "shop", json!({})).await;
    let (_, id) = start(&app, "shop", None).await;
    let reason = "<script>alert(1)</script>";
    fail(&app, &id, reason).await;
    let (browser, _) = Browser::signed_in(&app, &app.token).await;
    let path = format!("/ui/apps/shop/deployments/{id}");
    for path in ["/ui/apps/shop/deployments".to_owned(), path.clone()] {
        let page = browser.get(&path).await;
        assert_eq!(page.status, 200, "{path}");
        assert!(!page.body.contains(reason), "{path}: {}", page.body);
        assert!(escaped(&page.body, reason), "{path} shows it as text: {}", page.body);
    }
    let mut stream = Stream {
        response: browser
            .request(Method::GET, &format!("{path}/events"))
            .send()
            .await
            .unwrap(),
        seen: String::new(),
    };
    let frame = stream.until("event: done").await;
    assert!(!frame.contains(reason), "{frame}");
    assert!(escaped(&frame, reason), "{frame}");
}
