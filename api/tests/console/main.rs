//! The web console over real HTTP, against the real app on port 0, on
//! SQLite and on PostgreSQL, with a browser's cookie jar: signing in and
//! out, sessions, CSRF, scopes, Promote and Rollback, escaping, headers.

mod deployments;
mod env;
mod logs;
mod processes;
mod releases;
mod sessions;
mod support;
mod tokens;
mod webhooks;

use slipway_api::testing::spawn_app;
use slipway_core::store::Backend;
use support::{deployed_app, Browser, Page};

pub(crate) use slipway_core::on_both_backends_async as on_both_backends;

on_both_backends!(
    the_root_leads_to_the_console,
    every_page_has_the_security_headers_and_no_session_id,
);

async fn the_root_leads_to_the_console(backend: Backend) {
    let app = spawn_app(backend).await;
    let browser = Browser::new(&app);
    let page = browser.get("/").await;
    assert_eq!(page.status, 302);
    assert_eq!(page.header("location"), "/ui");
    // Signed out, the console sends the browser to sign in.
    let page = browser.get("/ui").await;
    assert_eq!(page.status, 303);
    assert_eq!(page.header("location"), "/ui/signin");

    // The console is no part of the API's description.
    let document = browser.get("/openapi.json").await;
    let document: serde_json::Value = serde_json::from_str(&document.body).unwrap();
    let paths = document["paths"].as_object().unwrap();
    assert!(paths.contains_key("/apps"), "the document itself");
    for path in paths.keys() {
        assert!(path != "/" && !path.starts_with("/ui"), "{path} documented");
    }
}

fn assert_secure_headers(path: &str, page: &Page) {
    assert_eq!(
        page.header("content-security-policy"),
        "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; \
         frame-ancestors 'none'; form-action 'self'; base-uri 'none'",
        "{path}"
    );
    assert_eq!(page.header("x-frame-options"), "DENY", "{path}");
    assert_eq!(page.header("x-content-type-options"), "nosniff", "{path}");
    assert_eq!(page.header("referrer-policy"), "same-origin", "{path}");
}

async fn every_page_has_the_security_headers_and_no_session_id(backend: Backend) {
    let app = spawn_app(backend).await;
    let active = deployed_app(&app, "shop", serde_json::json!({ "A": "1" })).await;
    let built = app.build("shop", serde_json::json!({})).await;
    let release = built["release"]["id"].as_str().unwrap().to_owned();
    let (browser, session) = Browser::signed_in(&app, &app.token).await;
    let deployment = support::deployments(&app, "shop")[0].id.to_string();

    let pages = [
        ("/ui", 200),
        ("/ui/", 200),
        ("/ui/signin", 200),
        ("/ui/apps/shop/releases", 200),
        (&format!("/ui/apps/shop/releases/{active}") as &str, 200),
        (&format!("/ui/apps/shop/releases/{release}"), 200),
        (&format!("/ui/apps/shop/releases/{release}/promote"), 200),
        (&format!("/ui/apps/shop/releases/{release}/rollback"), 200),
        (&format!("/ui/apps/shop/deployments/{deployment}"), 200),
        ("/ui/apps/nope/releases", 404),
        ("/ui/apps/shop/releases/RNOTAREALONE", 404),
        ("/ui/apps/shop/deployments/not-an-id", 404),
        ("/ui/no/such/page", 404),
        ("/ui/apps/shop/releases?before=bad", 400),
    ];
    for (path, status) in pages {
        let page = browser.get(path).await;
        assert_eq!(page.status, status, "{path}: {}", page.body);
        assert_secure_headers(path, &page);
        assert_eq!(page.header("cache-control"), "no-store", "{path}");
        assert!(
            page.header("content-type").starts_with("text/html"),
            "{path}: a page, never JSON: {}",
            page.body
        );
        assert!(page.body.contains("</html>"), "{path}: a whole page");
        assert!(!page.body.contains(&session), "{path} shows the session id");
        assert!(!page.body.contains(&app.token), "{path} shows the token");
        if status >= 400 {
            assert!(page.body.contains("role=\"alert\""), "{path}: says why");
        }
    }
    // A method a page lacks is a page too, not actix's JSON.
    let page = browser
        .send(browser.request(reqwest::Method::DELETE, "/ui/signin"))
        .await;
    assert_eq!(page.status, 405);
    assert_secure_headers("DELETE /ui/signin", &page);
    assert!(page.header("content-type").starts_with("text/html"));

    for (path, kind) in [
        ("/ui/static/htmx.min.js", "text/javascript"),
        ("/ui/static/console.css", "text/css"),
    ] {
        let page = browser.get(path).await;
        assert_eq!(page.status, 200, "{path}");
        assert!(page.header("content-type").starts_with(kind), "{path}");
        assert_eq!(
            page.header("cache-control"),
            "public, max-age=31536000, immutable",
            "{path}"
        );
        assert_secure_headers(path, &page);
        assert!(!page.body.is_empty());
    }
    let htmx = browser.get("/ui/static/htmx.min.js").await;
    assert!(htmx.body.contains("htmx"), "the real htmx");
}
