//! The Processes tab: what the supervising worker reported (no worker runs
//! here: the test reports as one would), scoped like every app page,
//! escaped.

use crate::support::Browser;
use chrono::Utc;
use slipway_api::testing::spawn_app;
use slipway_core::domain::{AppName, ReleaseId, ServiceName};
use slipway_core::store::{Backend, Process, ProcessStatus};

crate::on_both_backends!(
    processes_are_listed_as_the_worker_reported_them,
    processes_need_a_token_that_reaches_the_app,
);

fn process(id: &str, status: ProcessStatus, restarts: u32, port: Option<u16>) -> Process {
    Process {
        id: id.to_owned(),
        service: ServiceName::parse("web").unwrap(),
        release: ReleaseId::generate(),
        status,
        restarts,
        port,
        started_at: Utc::now(),
    }
}

async fn processes_are_listed_as_the_worker_reported_them(backend: Backend) {
    let app = spawn_app(backend).await;
    app.create_app("shop").await;
    let (browser, _) = Browser::signed_in(&app, &app.token).await;

    let page = browser.get("/ui/apps/shop/processes").await;
    assert_eq!(page.status, 200, "{}", page.body);
    assert!(page.body.contains("Nothing of this app is running."));
    assert!(page.body.contains("href=\"/ui/apps/shop/processes\""));
    assert!(page.body.contains("href=\"/ui/apps/shop/logs\""), "tab");

    let seen = [
        process("web-a", ProcessStatus::Running, 2, Some(40123)),
        process("web-<script>x</script>", ProcessStatus::Crashed, 5, None),
    ];
    let name = AppName::parse("shop").unwrap();
    app.store.report_processes(&name, &seen).unwrap();
    let page = browser.get("/ui/apps/shop/processes").await;
    assert_eq!(page.status, 200, "{}", page.body);
    for header in [
        "SERVICE", "RELEASE", "STATUS", "RESTARTS", "STARTED", "ADDRESS",
    ] {
        assert!(
            page.body.contains(&format!("<th>{header}</th>")),
            "{header}"
        );
    }
    assert!(page.body.contains("<code>web-a</code>"), "{}", page.body);
    assert!(page.body.contains("<code>127.0.0.1:40123</code>"));
    assert!(page.body.contains("status-ok\">running</td>"));
    assert!(page.body.contains("status-bad\">crashed</td>"));
    assert!(page.body.contains("<td>5</td>"), "restarts");
    assert!(page.body.contains(&format!(
        "href=\"/ui/apps/shop/releases/{}\"",
        seen[0].release
    )));
    assert!(page.body.contains("just now"), "started");
    assert!(!page.body.contains("<script>x"), "escaped: {}", page.body);
    assert!(
        page.body.contains("web-&#60;script&#62;x") || page.body.contains("web-&lt;script&gt;x")
    );

    // A newer report replaces the older one.
    app.store.report_processes(&name, &seen[..1]).unwrap();
    let page = browser.get("/ui/apps/shop/processes").await;
    assert!(page.body.contains("web-a") && !page.body.contains("crashed"));
}

async fn processes_need_a_token_that_reaches_the_app(backend: Backend) {
    let app = spawn_app(backend).await;
    app.create_app("shop").await;
    app.create_app("other").await;
    let reader = app.create_token("viewer", "read", &["other"]).await;
    let (browser, _) = Browser::signed_in(&app, &reader).await;
    let page = browser.get("/ui/apps/shop/processes").await;
    assert_eq!(page.status, 403, "{}", page.body);
    assert!(page.body.contains("role=\"alert\""));
    let page = browser.get("/ui/apps/other/processes").await;
    assert_eq!(page.status, 200, "{}", page.body);
    let (admin, _) = Browser::signed_in(&app, &app.token).await;
    let page = admin.get("/ui/apps/nope/processes").await;
    assert_eq!(page.status, 404, "{}", page.body);

    // Signed out, the page sends the browser to sign in.
    let page = Browser::new(&app).get("/ui/apps/shop/processes").await;
    assert_eq!(page.status, 303);
}
