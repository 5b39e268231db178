//! A deployment's page followed live: the console's own event stream needs
//! a session, sends the page's fragment after each step (waves, instances
//! healthy, a rollback and where it returns to) and ends after the final
//! status; a final deployment's page opens no stream.

use super::drive::{progress, run, start, to, Stream};
use crate::support::{deployed_app, Browser};
use reqwest::Method;
use serde_json::json;
use slipway_api::testing::spawn_app;
use slipway_core::domain::{DeploymentStatus, ReleaseId, ServiceName};
use slipway_core::events::Progress;
use slipway_core::store::Backend;

crate::on_both_backends!(the_live_stream_needs_a_session_and_follows_the_deployment);

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
    assert!(
        page.body.contains(&format!("sse-connect=\"{events}\"")),
        "{}",
        page.body
    );
    assert!(page.body.contains("sse-swap=\"deployment\""));
    assert!(page.body.contains("src=\"/ui/static/htmx-ext-sse.min.js\""));
    assert!(page
        .body
        .contains(&format!("href=\"{page_path}\">Reload</a>")));
    let script = browser.get("/ui/static/htmx-ext-sse.min.js").await;
    assert_eq!(script.status, 200);
    assert!(script.header("content-type").starts_with("text/javascript"));
    assert!(
        script.body.contains("defineExtension(\"sse\""),
        "the real extension"
    );

    let response = browser.request(Method::GET, &events).send().await.unwrap();
    assert_eq!(response.status(), 200);
    assert!(response.headers()["content-type"]
        .to_str()
        .unwrap()
        .starts_with("text/event-stream"));
    assert_eq!(response.headers()["cache-control"], "no-cache");
    assert_eq!(response.headers()["x-frame-options"], "DENY");
    let mut stream = Stream {
        response,
        seen: String::new(),
    };
    let frame = stream.until("\n\n").await;
    assert!(frame.starts_with("id: "), "{frame}");
    assert!(frame.contains("event: deployment\n"), "{frame}");
    assert!(frame.contains("data: "), "{frame}");
    assert!(frame.contains("status-busy\">pending"), "{frame}");
    assert!(
        frame.contains("Cancel deployment"),
        "an admin may cancel: {frame}"
    );

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
    let frame = stream
        .until(&format!("web: 1 of 2 instances of {second} healthy"))
        .await;
    assert!(!frame.contains("event: done"), "still open: {frame}");

    // A rollback says where it returns to, and the final status ends it.
    to(
        &app,
        &id,
        &lease,
        DeploymentStatus::RollingBack,
        "web: not healthy in time",
    )
    .await;
    let back = Progress::Rollback {
        to: ReleaseId::parse(&first).unwrap(),
    };
    progress(&app, &id, back).await;
    let frame = stream.until(&format!("rolling back to {first}")).await;
    assert!(frame.contains(&format!(
        "returns to <a href=\"/ui/apps/shop/releases/{first}\">"
    )));
    to(
        &app,
        &id,
        &lease,
        DeploymentStatus::RolledBack,
        "web: not healthy in time",
    )
    .await;
    let frame = stream.until("event: done").await;
    assert!(frame.contains("status-bad\">rolled_back"), "{frame}");
    assert!(frame.contains("web: not healthy in time"), "{frame}");
    assert!(!frame.contains("Cancel deployment"), "final: {frame}");
    assert!(frame.contains("data: rolled_back\n"), "{frame}");
    assert!(
        stream.ends().await,
        "the stream ends after the final status"
    );

    // A final deployment's page shows the end, and opens no stream.
    let page = browser.get(&page_path).await;
    assert!(
        page.body.contains("status-bad\">rolled_back"),
        "{}",
        page.body
    );
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
