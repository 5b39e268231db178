//! The Logs tab: the newest lines as shipped (no worker runs here: the
//! test ships as one would), by service and limit, escaped, bad parameters
//! refused as pages, scoped like every app page.

use crate::support::Browser;
use slipway_api::testing::{spawn_app, TestApp};
use slipway_core::domain::{AppName, ServiceName};
use slipway_core::store::{Backend, NewLogLine};

crate::on_both_backends!(
    logs_show_the_newest_lines_filtered_and_escaped,
    bad_log_parameters_and_scopes_are_refused_as_pages,
);

fn ship(app: &TestApp, service: &str, lines: &[&str]) {
    let lines: Vec<NewLogLine> = lines
        .iter()
        .map(|line| NewLogLine {
            service: ServiceName::parse(service).unwrap(),
            instance: format!("{service}-rtest-abc123"),
            line: (*line).to_owned(),
        })
        .collect();
    let name = AppName::parse("shop").unwrap();
    app.store.append_logs(&name, &lines, &[]).unwrap();
}

async fn logs_show_the_newest_lines_filtered_and_escaped(backend: Backend) {
    let app = spawn_app(backend).await;
    app.create_app("shop").await;
    let (browser, _) = Browser::signed_in(&app, &app.token).await;
    let page = browser.get("/ui/apps/shop/logs").await;
    assert_eq!(page.status, 200, "{}", page.body);
    assert!(page.body.contains("No lines"), "{}", page.body);

    ship(
        &app,
        "web",
        &["web one", "web two", "<script>alert(1)</script>"],
    );
    ship(&app, "worker", &["worker one"]);
    let page = browser.get("/ui/apps/shop/logs").await;
    assert_eq!(page.status, 200, "{}", page.body);
    for header in ["TIME", "SERVICE", "INSTANCE", "LINE"] {
        assert!(
            page.body.contains(&format!("<th>{header}</th>")),
            "{header}"
        );
    }
    let (one, two, worker) = (
        page.body.find("web one").expect("web one"),
        page.body.find("web two").expect("web two"),
        page.body.find("worker one").expect("worker one"),
    );
    assert!(one < two && two < worker, "oldest first");
    assert!(page.body.contains("<code>web-rtest-abc123</code>"));
    assert!(page.body.contains("<td>worker</td>"));
    assert!(page.body.contains(" UTC</time>"), "each line's time");
    assert!(!page.body.contains("<script>alert"), "escaped");
    assert!(page.body.contains("alert(1)"), "but shown");
    assert!(page
        .body
        .contains("href=\"/ui/apps/shop/logs?service=&amp;limit=100\""));

    let page = browser.get("/ui/apps/shop/logs?service=worker").await;
    assert_eq!(page.status, 200, "{}", page.body);
    assert!(page.body.contains("worker one") && !page.body.contains("web one"));
    assert!(page
        .body
        .contains("logs?service=worker&amp;limit=100\">Newer"));

    let page = browser.get("/ui/apps/shop/logs?limit=1").await;
    assert!(page.body.contains("worker one") && !page.body.contains("web two"));
    // The form's empty service means all of them.
    let page = browser.get("/ui/apps/shop/logs?service=&limit=2").await;
    assert_eq!(page.status, 200, "{}", page.body);
    assert!(page.body.contains("worker one") && page.body.contains("alert(1)"));
    assert!(!page.body.contains("web two"));
}

async fn bad_log_parameters_and_scopes_are_refused_as_pages(backend: Backend) {
    let app = spawn_app(backend).await;
    app.create_app("shop").await;
    app.create_app("other").await;
    ship(&app, "web", &["a secret-ish line"]);
    let (browser, _) = Browser::signed_in(&app, &app.token).await;
    for path in [
        "/ui/apps/shop/logs?limit=0",
        "/ui/apps/shop/logs?limit=1001",
        "/ui/apps/shop/logs?limit=many",
        "/ui/apps/shop/logs?service=Not%20A%20Name",
    ] {
        let page = browser.get(path).await;
        assert_eq!(page.status, 400, "{path}: {}", page.body);
        assert!(page.body.contains("role=\"alert\""), "{path}");
    }

    let reader = app.create_token("viewer", "read", &["other"]).await;
    let (browser, _) = Browser::signed_in(&app, &reader).await;
    let page = browser.get("/ui/apps/shop/logs").await;
    assert_eq!(page.status, 403, "{}", page.body);
    assert!(!page.body.contains("secret-ish"));
}
